"""JWT decoding whose signature check is done once per token, app and process.

Both the write rate limit's key function (api/platform/ratelimit.py) and the resource's
verification decode the bearer token, and a client sends the same access token with
every request for its lifetime. Whether a token is validly signed for this app never
changes, so the claims of tokens that passed are kept per app in a byte-bounded LRU;
what does change is checked on every use: the expiry here, the session (revocation)
and the user's row by the loaders in api/accounts/authentication.py, which run after
decoding as before. Only successful decodes are kept, so a bad token fails the same
way every time.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from flask import current_app, has_app_context
from flask_jwt_extended import JWTManager
from jwt import InvalidTokenError

from api.platform.lru import ByteLRU

VERIFIED_KEY = "qbank.verified_tokens"
VERIFIED_TOKENS_MAX = 4096  # per app and process: a few MB at most


class VerifiedTokenCache(JWTManager):
    """Flask-JWT-Extended's manager, remembering which tokens it has verified.

    Every decode of the library (`decode_token`, `verify_jwt_in_request`) goes through
    `JWTManager._decode_jwt_from_config` (checked against 4.7); the cache stands in
    front of it here, in a subclass the app is wired with, rather than by replacing
    the method on the shared instance.
    """

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict:
        decode = super()._decode_jwt_from_config
        if not has_app_context():
            return well_formed(decode(encoded_token, csrf_value, allow_expired))
        verified = current_app.extensions.get(VERIFIED_KEY)
        if verified is None:
            verified = current_app.extensions[VERIFIED_KEY] = ByteLRU(
                VERIFIED_TOKENS_MAX, lambda _claims: 1
            )
        key = (encoded_token, csrf_value, allow_expired)
        claims = verified.get(key)
        if claims is not None and not allow_expired and _past_expiry(claims):
            claims = None  # decoded again below, which refuses it as the library does
        if claims is None:
            claims = well_formed(decode(encoded_token, csrf_value, allow_expired))
            verified.put(key, claims)
        return dict(claims)  # each caller its own dict, as from a fresh decode


# A subject is a user id written one way only: ASCII digits, no sign, space or leading zero.
_CANONICAL_SUBJECT = re.compile(r"[1-9][0-9]{0,9}")


class MalformedClaims(InvalidTokenError):
    """Validly signed, but not shaped as every token this API issues is."""


def well_formed(claims: dict) -> dict:
    """`claims`, if they are shaped as every token this API issues: an expiry, an id, and
    a subject in canonical form. Anything else is refused as a malformed token is (the
    library's InvalidTokenError handler), never cached: a token that never expires would
    live forever, and " 3", "03", "+3" or a full-width "３" would each be a second
    spelling of user 3 that `int()` accepts.
    """
    subject = claims.get("sub")
    if (
        "exp" not in claims
        or not isinstance(claims.get("jti"), str)
        or not isinstance(subject, str)
        or not _CANONICAL_SUBJECT.fullmatch(subject)
    ):
        raise MalformedClaims("token claims not well formed")
    return claims


def _past_expiry(claims: dict) -> bool:
    expires = claims.get("exp")
    leeway = current_app.config.get("JWT_DECODE_LEEWAY", 0)
    if isinstance(leeway, timedelta):
        leeway = leeway.total_seconds()
    return isinstance(expires, int | float) and time.time() >= expires + leeway
