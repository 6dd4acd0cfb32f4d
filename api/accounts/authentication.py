"""JWT loaders and callbacks: who a request's bearer token authenticates.

Every authentication failure is a 401 problem+json with a `WWW-Authenticate: Bearer`
challenge (RFC 6750): with no token, the bare challenge; with a token that fails, also
`error="invalid_token"` and a description. Flask-JWT-Extended answers these cases through
the callbacks below, whatever TESTING or DEBUG say.

The user is loaded from the database on every authenticated request, and authorisation
uses that row's role, not the token's `role` claim: a demotion or a deleted account takes
effect on the next request, not when the token expires. With the database revocation list
the session check reads the user's row in the same statement (one round trip, not two).

A token's signature is checked once per app and process (api/platform/tokens.py); its
expiry, session and user on every use. `init_app` registers the callbacks on the app's
JWT manager: importing this module registers nothing.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, g
from flask_jwt_extended import get_current_user, get_jwt

from api.accounts import sessions
from api.accounts.models import User
from api.accounts.users import ACCOUNT_CLAIM
from api.extensions import db, jwt
from api.platform.errors import problem_response

REALM = "qbank"
# Flask-JWT-Extended's reasons, as a client should read them.
_REASONS = {
    "Only non-refresh tokens are allowed": "A refresh token cannot be used here; send an "
    "access token.",
    "Only refresh tokens are allowed": "This endpoint needs a refresh token, not an access token.",
    "Signature verification failed": "The token's signature is not valid.",
    "The specified alg value is not allowed": "The token's algorithm is not accepted; "
    "tokens are HS256.",
}


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


def unauthorized(detail: str, *, slug: str, error: str | None = "invalid_token") -> Response:
    """A 401 problem of `slug` (its title is the catalogue's) with the Bearer challenge."""
    return problem_response(
        401,
        detail=detail,
        slug=slug,
        headers={"WWW-Authenticate": _challenge(error, detail if error else None)},
    )


def _invalid(detail: str) -> Response:
    return unauthorized(detail, slug="invalid-token")


def _no_token(_reason: str) -> Response:
    """No bearer token at all (no header, or another scheme): the bare challenge."""
    return unauthorized(
        "Send 'Authorization: Bearer <access token>'.",
        slug="authentication-required",
        error=None,
    )


def _invalid_token(reason: str) -> Response:
    """Malformed, badly signed, `alg: none`, or the wrong kind of token.

    Only reasons we know are told; anything else the library says (its messages can quote
    the token's own header, CR/LF included) becomes one fixed sentence: nothing from a
    token is ever reflected, in the body or in `WWW-Authenticate`.
    """
    return _invalid(_REASONS.get(reason, "The token is malformed or not one of ours."))


def _expired(_header: dict, _data: dict) -> Response:
    return unauthorized(
        "The token has expired; refresh it or log in again.",
        slug="token-expired",
    )


def _revoked(_header: dict, _data: dict) -> Response:
    return unauthorized(
        "The session of this token has been logged out; log in again.",
        slug="token-revoked",
    )


def _unknown_user(_header: dict, _data: dict) -> Response:
    """The token's account is gone, is another one now, or is deactivated (see _load_user)."""
    return _invalid(g.pop("qbank_user_refused", None) or "The token's account no longer exists.")


def _claims_failed(_header: dict, _data: dict) -> Response:
    return _invalid("The token lacks the claims this API issues.")


def _needs_fresh(_header: dict, _data: dict) -> Response:
    return _invalid("This action needs a fresh login; log in again.")


def _has_our_claims(_header: dict, data: dict) -> bool:
    """Only tokens this API issued carry a session id and their account's key."""
    return all(isinstance(data.get(name), str) and data[name] for name in ("sid", ACCOUNT_CLAIM))


def _user_id(data: dict) -> int | None:
    """The account a token names, or None when its `sub` cannot be a user id."""
    subject = data.get("sub")
    # ASCII digits only (the decoder refuses other spellings first): int() takes more.
    if not isinstance(subject, str) or not subject.isascii() or not subject.isdigit():
        return None
    user_id = int(subject)
    return user_id if 0 < user_id < 2**31 else None


def _is_revoked(_header: dict, data: dict) -> bool:
    """Revoked sessions; the store failing is a 503, never a pass (fail closed).

    The database store reads the token's user in the same statement; it is kept for
    `_load_user`, which Flask-JWT-Extended calls next, in the same verification.
    """
    sid = data.get("sid")
    if not isinstance(sid, str):
        return False  # _has_our_claims refuses it next
    checked = sessions.check(sid=sid, user_id=_user_id(data))
    if checked.user is not None:
        g.qbank_session_user = checked.user
    return checked.revoked


def _load_user(_header: dict, data: dict) -> User | None:
    """The token's account, if it is still the one the token was issued to and active.

    The id alone is not enough: the token's `acct` claim must equal the row's token key,
    so a token can never authenticate another account, whatever happened to the ids.
    """
    user_id = _user_id(data)
    if user_id is None:
        return None
    # Taken, not read: a user read along with another token's check is never reused.
    user = g.pop("qbank_session_user", None)
    if user is None or user.id != user_id:
        user = db.session.get(User, user_id)
    if user is None:
        return None
    if not user.active:
        g.qbank_user_refused = "The token's account is deactivated."
        return None
    key = data.get(ACCOUNT_CLAIM)
    if not isinstance(key, str) or not hmac.compare_digest(key, user.token_key):
        g.qbank_user_refused = (
            "The token was issued to an account that no longer exists or whose sessions "
            "were ended; log in again."
        )
        return None
    return user


def current_user() -> User:
    return get_current_user()


def current_sid() -> str:
    return get_jwt()["sid"]


def init_app(app: Flask) -> None:
    """Register the callbacks above on the JWT manager; the revocation store is per app."""
    jwt.unauthorized_loader(_no_token)
    jwt.invalid_token_loader(_invalid_token)
    jwt.expired_token_loader(_expired)
    jwt.revoked_token_loader(_revoked)
    jwt.user_lookup_error_loader(_unknown_user)
    jwt.token_verification_failed_loader(_claims_failed)
    jwt.needs_fresh_token_loader(_needs_fresh)
    jwt.token_verification_loader(_has_our_claims)
    jwt.token_in_blocklist_loader(_is_revoked)
    jwt.user_lookup_loader(_load_user)
    sessions.init_app(app)
