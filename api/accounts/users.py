"""Accounts: registration, credentials, sessions (tokens), profiles, roles and deletion.

Passwords are hashed with argon2id (argon2-cffi). A hash whose parameters differ from the
configured ones is replaced at the next successful login, the only moment the plain
password is at hand. Hashes never leave this module's callers: no schema dumps them and
the model's repr leaves them out.

Identities are never reused: ids come from AUTOINCREMENT (SQLite) or a sequence
(PostgreSQL), and every token also carries its account's random `token_key` (claim
`acct`), which api/accounts/authentication.py compares with the row. A deleted account's
tokens therefore name a row that is gone for good, and even a row that bore its id would
hold another key. That binding, not the revocation list, is what keeps a deleted
account's tokens (logged out or not) out: its `revoked_sessions` rows may cascade away
with it. Deactivation draws a new key, which ends every session of the account at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from api.accounts import sessions as revocation
from api.accounts.models import User, has_hidden_characters, new_token_key, normalise_email
from api.accounts.passwords import check_strength
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, Forbidden, NotFound, Unauthorized
from api.platform.paging import page_of

BAD_CREDENTIALS = "The email or password is incorrect."
CHALLENGE = 'Bearer realm="qbank"'
# The claim carrying the account's token_key.
ACCOUNT_CLAIM = "acct"


class AccountDeactivated(Forbidden):
    """Right credentials, but an admin deactivated the account (only its owner learns it)."""

    slug = "account-deactivated"


class PasswordIncorrect(Forbidden):
    """A signed-in user confirming an action with a password that is not theirs."""

    slug = "password-incorrect"


class RefreshTokenReused(Unauthorized):
    """A refresh token that was already exchanged: its session has been revoked."""

    slug = "refresh-token-reused"


@lru_cache(maxsize=8)
def _hasher_for(params: tuple[tuple[str, Any], ...]) -> PasswordHasher:
    return PasswordHasher(**dict(params))


def hasher() -> PasswordHasher:
    params = current_app.config.get("PASSWORD_HASH_PARAMS") or {}
    return _hasher_for(tuple(sorted(params.items())))


@lru_cache(maxsize=8)
def _dummy_hash(hasher_: PasswordHasher) -> str:
    return hasher_.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _credentials_error() -> Unauthorized:
    return Unauthorized(BAD_CREDENTIALS, headers={"WWW-Authenticate": CHALLENGE})


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    *, email: str, password: str, display_name: str = "", role: str = "learner"
) -> User:
    """A new account; 422 `weak-password` for a weak password, 409 when the (normalised)
    email is taken."""
    check_strength(password, user_inputs=(email, display_name))
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=display_name,
        role=role,
    )
    if find_by_email(user.email) is not None:
        raise Conflict("An account with this email already exists.")
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:  # a concurrent registration of the same email
        db.session.rollback()
        raise Conflict("An account with this email already exists.") from exc
    return user


def authenticate(*, email: str, password: str) -> User:
    """The user these credentials name, or a 401 that says no more than "incorrect".

    An unknown email still costs one hash verification, so the answer takes as long as
    for a wrong password and response times do not reveal which emails have accounts.
    """
    # No account holds an address with invisible or control characters (they are refused
    # wherever an email is set), and NUL cannot even be sent to PostgreSQL: not looked up.
    user = None if has_hidden_characters(email) else find_by_email(email)
    if user is None:
        _verify(_dummy_hash(hasher()), password)
        raise _credentials_error()
    if not _verify(user.password_hash, password):
        raise _credentials_error()
    if not user.active:
        raise AccountDeactivated("This account is deactivated; an administrator can reactivate it.")
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def _claims(user: User, sid: str) -> dict[str, str]:
    return {"role": user.role, "sid": sid, ACCOUNT_CLAIM: user.token_key}


def _access_token(user: User, sid: str) -> str:
    return create_access_token(identity=str(user.id), additional_claims=_claims(user, sid))


def _access_seconds() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())


def open_session(*, user: User) -> Session:
    """Access and refresh tokens sharing a new session id (`sid`)."""
    sid = secrets.token_urlsafe(18)
    return Session(_access_token(user, sid), _refresh_token(user, sid), _access_seconds())


def _refresh_token(user: User, sid: str) -> str:
    return create_refresh_token(identity=str(user.id), additional_claims=_claims(user, sid))


def refresh_session(*, user: User, sid: str, jti: str, expires_at: datetime) -> Session:
    """Rotate: spend the refresh token `jti` and hand out a new access and refresh token
    in the same session (the role claim is the current one).

    A token that was already spent is reuse (a copy is in someone else's hands, or an
    exchange raced another): the whole session is revoked, every token descending from
    its login, and the answer is a 401 `refresh-token-reused`.
    """
    if not revocation.spend_refresh_token(jti=jti, sid=sid, user_id=user.id, expires_at=expires_at):
        close_session(user=user, sid=sid)
        raise RefreshTokenReused(
            "This refresh token was already used; its session has been ended for safety. "
            "Log in again.",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    return Session(_access_token(user, sid), _refresh_token(user, sid), _access_seconds())


def close_session(*, user: User, sid: str) -> None:
    """Revoke the session: every token carrying `sid` is refused from now on.

    The entry is kept for a full refresh lifetime from now, which outlasts any token
    issued for this session before now.
    """
    expires_at = utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    revocation.revoke(sid=sid, user_id=user.id, expires_at=expires_at)


def update_profile(*, user: User, changes: dict[str, Any]) -> User:
    """Display name, time zone, and the password (which needs the current one)."""
    if "password" in changes:
        if not _verify(user.password_hash, changes["current_password"]):
            # A 403 like DELETE /me: it counts toward the account's failed-login limits.
            raise PasswordIncorrect(
                "The current password is incorrect; nothing was changed.",
                errors={"current_password": ["Incorrect password."]},
            )
        check_strength(
            changes["password"],
            user_inputs=(user.email, changes.get("display_name", user.display_name)),
        )
        user.password_hash = hash_password(changes["password"])
        # Every session ends with the old password, this one included: a new token key
        # makes every token issued so far fail (the caller gets a fresh session).
        user.token_key = new_token_key()
    for key in ("display_name", "timezone"):
        if key in changes:
            setattr(user, key, changes[key])
    db.session.commit()
    return user


def delete_own_account(*, user: User, current_password: str) -> None:
    """The owner deletes their account, confirming with the password; 403 when wrong."""
    if not _verify(user.password_hash, current_password):
        raise PasswordIncorrect(
            "The current password is incorrect; nothing was deleted.",
            errors={"current_password": ["Incorrect password."]},
        )
    _erase(user)


def _erase(user: User) -> None:
    """Delete the account and everything that is only its own, in one statement.

    The foreign keys of attempts, review states, quizzes (and their questions),
    idempotency records and revoked sessions cascade on delete (both backends; SQLite
    enforces them on every connection), so the one DELETE is all-or-nothing. Every
    session ends with the row: its tokens name an id that is never given out again.
    """
    try:
        db.session.execute(delete(User).where(User.id == user.id))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def list_users(*, role: str | None, page: int, per_page: int) -> tuple[list[User], int]:
    query = select(User)
    if role:
        query = query.where(User.role == role)
    return page_of(query, User.id, page=page, per_page=per_page)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


def update_user(*, actor: User, user_id: int, changes: dict[str, Any]) -> User:
    """An admin changes an account's `role` and/or `active`, both or neither (one commit).

    409 rather than leave the bank without an active admin, and for an admin
    deactivating their own account. The active admins are locked (PostgreSQL) while
    counting, so two admins demoting each other at once cannot both succeed; SQLite
    serialises writers anyway. Deactivating draws a new token key: every session of the
    account ends, and reactivating does not bring them back.
    """
    user = get_user(user_id)
    try:
        if changes.get("active") is False and user.id == actor.id:
            raise Conflict("You cannot deactivate your own account; ask another admin.")
        role = changes.get("role", user.role)
        active = changes.get("active", user.active)
        if user.role == "admin" and user.active and (role != "admin" or not active):
            admins = db.session.scalars(
                select(User.id)
                .where(User.role == "admin", User.deactivated_at.is_(None))
                .with_for_update()
            ).all()
            if len(admins) <= 1:
                raise Conflict("This is the last admin; promote another user first.")
    except Conflict:
        db.session.rollback()
        raise
    user.role = role
    if not active and user.active:
        user.deactivated_at = utcnow()
        user.token_key = new_token_key()
    elif active:
        user.deactivated_at = None
    db.session.commit()
    return user


def delete_user(*, actor: User, user_id: int) -> None:
    """An admin deletes an account, erased as its owner would (409 for their own)."""
    user = get_user(user_id)
    if user.id == actor.id:
        raise Conflict("You cannot delete your own account here; use DELETE /api/v1/me.")
    _erase(user)


def create_or_promote_admin(*, email: str, password: str | None) -> tuple[User, bool]:
    """For the CLI: make `email` an admin, creating the account when it does not exist.

    Returns the user and whether it was created. An existing account keeps its password.
    """
    user = find_by_email(email)
    if user is None:
        if password is None:
            raise ValueError("a password is needed to create a new account")
        return create_user(email=email, password=password, role="admin"), True
    user.role = "admin"
    db.session.commit()
    return user, False
