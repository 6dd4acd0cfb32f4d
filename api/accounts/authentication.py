"""JWT loaders and callbacks, and the role checks resources use.

Every authentication failure is a 401 problem+json with a `WWW-Authenticate: Bearer`
challenge (RFC 6750): with no token, the bare challenge; with a token that fails, also
`error="invalid_token"` and a description. Flask-JWT-Extended answers these cases through
the callbacks below, whatever TESTING or DEBUG say.

The user is loaded from the database on every authenticated request, and authorisation
uses that row's role, not the token's `role` claim: a demotion or a deleted account takes
effect on the next request, not when the token expires. With the database revocation list
the session check reads the user's row in the same statement (one round trip, not two).

A token's signature is checked once per app and process, although both the write rate
limit's key (api/ratelimit.py) and the resource's verification decode it, and the same
token comes with every request for its lifetime; its expiry is checked on every use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context
from flask_jwt_extended import get_current_user, get_jwt, verify_jwt_in_request

from api.cache import ByteLRU
from api.errors import Forbidden, problem_response
from api.extensions import db, jwt
from api.models.users import ROLES, User
from api.services import revocation

REALM = "qbank"
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
# Flask-JWT-Extended's reasons, as a client should read them.
_REASONS = {
    "Only non-refresh tokens are allowed": "A refresh token cannot be used here; send an "
    "access token.",
    "Only refresh tokens are allowed": "This endpoint needs a refresh token, not an access token.",
    "Signature verification failed": "The token's signature is not valid.",
    "The specified alg value is not allowed": "The token's algorithm is not accepted; "
    "tokens are HS256.",
}


VERIFIED_KEY = "qbank.verified_tokens"
VERIFIED_TOKENS_MAX = 4096  # per app and process: a few MB at most


def _decode_once(decode: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap Flask-JWT-Extended's decoder so that a token's signature is checked once.

    Both `decode_token` (the rate limit's key function, before the view) and
    `verify_jwt_in_request` end in `JWTManager._decode_jwt_from_config`, and a client sends
    the same access token with every request for its 15 minutes. Whether a given token is
    validly signed for this app never changes, so the claims of tokens that passed are
    kept per app (an LRU); what does change is checked again on every use: the expiry
    here, and the session (revocation) and the user's row by the loaders below, which run
    after decoding as before. Only successful decodes are kept, so a bad token fails the
    same way every time.
    """

    @wraps(decode)
    def decode_checked(
        encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict:
        if not has_app_context():
            return decode(encoded_token, csrf_value, allow_expired)
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
            claims = decode(encoded_token, csrf_value, allow_expired)
            verified.put(key, claims)
        return dict(claims)  # each caller its own dict, as from a fresh decode

    return decode_checked


def _past_expiry(claims: dict) -> bool:
    expires = claims.get("exp")
    leeway = current_app.config.get("JWT_DECODE_LEEWAY", 0)
    if isinstance(leeway, timedelta):
        leeway = leeway.total_seconds()
    return isinstance(expires, int | float) and time.time() >= expires + leeway


# On the instance (the extension is one object shared by every app), once, at import.
jwt._decode_jwt_from_config = _decode_once(jwt._decode_jwt_from_config)


def _challenge(error: str | None = None, description: str | None = None) -> str:
    parts = [f'Bearer realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        # A quoted-string in a header: no quotes, no backslashes, ASCII only.
        safe = description.replace("\\", "").replace('"', "'")
        safe = safe.encode("ascii", "replace").decode("ascii")
        parts.append(f'error_description="{safe}"')
    return ", ".join(parts)


def unauthorized(
    detail: str, *, slug: str, title: str, error: str | None = "invalid_token"
) -> Response:
    return problem_response(
        401,
        title=title,
        detail=detail,
        slug=slug,
        headers={"WWW-Authenticate": _challenge(error, detail if error else None)},
    )


def _invalid(detail: str) -> Response:
    return unauthorized(detail, slug="invalid-token", title="Invalid token")


@jwt.unauthorized_loader
def _no_token(reason: str) -> Response:
    """No bearer token at all (no header, or another scheme): the bare challenge."""
    return unauthorized(
        f"Send 'Authorization: Bearer <access token>'. ({reason})",
        slug="authentication-required",
        title="Authentication required",
        error=None,
    )


@jwt.invalid_token_loader
def _invalid_token(reason: str) -> Response:
    """Malformed, badly signed, `alg: none`, or the wrong kind of token."""
    return _invalid(_REASONS.get(reason, f"The token is not valid: {reason}."))


@jwt.expired_token_loader
def _expired(_header: dict, _data: dict) -> Response:
    return unauthorized(
        "The token has expired; refresh it or log in again.",
        slug="token-expired",
        title="Token expired",
    )


@jwt.revoked_token_loader
def _revoked(_header: dict, _data: dict) -> Response:
    return unauthorized(
        "The session of this token has been logged out; log in again.",
        slug="token-revoked",
        title="Token revoked",
    )


@jwt.user_lookup_error_loader
def _unknown_user(_header: dict, _data: dict) -> Response:
    return _invalid("The token's account no longer exists.")


@jwt.token_verification_failed_loader
def _claims_failed(_header: dict, _data: dict) -> Response:
    return _invalid("The token lacks the claims this API issues.")


@jwt.needs_fresh_token_loader
def _needs_fresh(_header: dict, _data: dict) -> Response:
    return _invalid("This action needs a fresh login; log in again.")


@jwt.token_verification_loader
def _has_our_claims(_header: dict, data: dict) -> bool:
    """Only tokens this API issued carry a session id."""
    return isinstance(data.get("sid"), str) and bool(data["sid"])


def _user_id(data: dict) -> int | None:
    """The account a token names, or None when its `sub` cannot be a user id."""
    try:
        user_id = int(data["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    return user_id if 0 < user_id < 2**31 else None


@jwt.token_in_blocklist_loader
def _is_revoked(_header: dict, data: dict) -> bool:
    """Revoked sessions; the store failing is a 503, never a pass (fail closed).

    The database store reads the token's user in the same statement; it is kept for
    `_load_user`, which Flask-JWT-Extended calls next, in the same verification.
    """
    sid = data.get("sid")
    if not isinstance(sid, str):
        return False  # _has_our_claims refuses it next
    checked = revocation.check(sid=sid, user_id=_user_id(data))
    if checked.user is not None:
        g.qbank_session_user = checked.user
    return checked.revoked


@jwt.user_lookup_loader
def _load_user(_header: dict, data: dict) -> User | None:
    user_id = _user_id(data)
    if user_id is None:
        return None
    # Taken, not read: a user read along with another token's check is never reused.
    user = g.pop("qbank_session_user", None)
    if user is not None and user.id == user_id:
        return user
    return db.session.get(User, user_id)


def current_user() -> User:
    return get_current_user()


def current_sid() -> str:
    return get_jwt()["sid"]


def role_required(role: str) -> Callable:
    """A valid access token whose user (as now in the database) has at least `role`.

    Roles are ranked learner < editor < admin. Works on Flask-RESTful Resource methods:
    `@role_required("editor")` above `def post(self)`.
    """
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            if ROLE_RANK[current_user().role] < ROLE_RANK[role]:
                raise Forbidden(
                    f"This needs the {role} role.",
                    headers={
                        "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'
                    },
                )
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def init_app(app: Flask) -> None:
    """The callbacks above are registered on import; the revocation store is per app."""
    revocation.init_app(app)
