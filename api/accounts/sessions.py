"""Where logged-out sessions are remembered: the database by default, Redis when configured.

A login opens a session: its access and refresh tokens share one `sid` claim. Logging out
revokes the sid, so both tokens die at once. An entry only has to outlive the session's
last token, so each is kept until `expires_at` (a Redis TTL; a purge of old rows).

Refresh tokens rotate: each refresh spends the token presented (its `jti` goes into the
`spent_refresh_tokens` table, in the database whatever the revocation store) and hands out
a new one in the same session. A spent token presented again is reuse: someone holds a
copy, so the whole session is revoked.

Failure policy: revocation checks fail closed. If the store cannot answer, the request is
refused with a 503 problem (Retry-After) rather than accepting a token that may have been
logged out. (Rate limiting makes the opposite choice; see api/platform/ratelimit.py.)
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NamedTuple, Protocol

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.accounts.models import RevokedSession, SpentRefreshToken, User
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import ServiceUnavailable

EXTENSION_KEY = "qbank.revocation"
log = logging.getLogger("api.revocation")


class RevocationUnavailable(ServiceUnavailable):
    slug = "revocation-store-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Sessions cannot be checked right now; retry shortly.", headers={"Retry-After": "5"}
        )


class SessionCheck(NamedTuple):
    revoked: bool
    # The token's user when the store read it along (so the caller need not); else None.
    user: User | None


class RevocationStore(Protocol):
    def revoke(self, *, sid: str, user_id: int, expires_at: datetime) -> None: ...

    def check(self, *, sid: str, user_id: int | None = None) -> SessionCheck: ...


# Run on every authenticated request: built once, with bound parameters.
_REVOKED = select(RevokedSession.sid).where(RevokedSession.sid == bindparam("sid"))
_USER_AND_REVOKED = select(User, _REVOKED.exists().label("revoked")).where(
    User.id == bindparam("user_id")
)


class DatabaseStore:
    """The `revoked_sessions` table; expired rows are purged whenever a session is revoked."""

    def revoke(self, *, sid: str, user_id: int, expires_at: datetime) -> None:
        try:
            db.session.execute(delete(RevokedSession).where(RevokedSession.expires_at < utcnow()))
            if db.session.get(RevokedSession, sid) is None:
                db.session.add(RevokedSession(sid=sid, user_id=user_id, expires_at=expires_at))
            db.session.commit()
        except IntegrityError:  # a concurrent logout of the same session got there first
            db.session.rollback()
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.error("revocation list not writable: %s", exc.__class__.__name__)
            raise RevocationUnavailable() from exc

    def check(self, *, sid: str, user_id: int | None = None) -> SessionCheck:
        """Whether `sid` is revoked and, given `user_id`, that user's row, in one statement.

        Every authenticated request loads its user right after this check
        (api/accounts/authentication.py): reading both here makes that one round trip
        instead of two. An account that no longer exists yields no row; the plain check
        answers then.
        """
        try:
            if user_id is not None:
                params = {"sid": sid, "user_id": user_id}
                row = db.session.execute(_USER_AND_REVOKED, params).first()
                if row is not None:
                    return SessionCheck(bool(row.revoked), row.User)
            found = db.session.scalar(_REVOKED, {"sid": sid})
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.error("revocation list not readable: %s", exc.__class__.__name__)
            raise RevocationUnavailable() from exc
        return SessionCheck(found is not None, None)


class RedisStore:
    """One key per revoked session, expiring with the session: shared by every worker."""

    prefix = "qbank:revoked:"

    def __init__(self, url: str) -> None:
        import redis

        self._errors = redis.RedisError
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def revoke(self, *, sid: str, user_id: int, expires_at: datetime) -> None:
        seconds = max(1, int((expires_at - utcnow()).total_seconds()) + 1)
        try:
            self.client.set(self.prefix + sid, str(user_id), ex=seconds)
        except self._errors as exc:
            log.error("Redis revocation list not writable: %s", exc.__class__.__name__)
            raise RevocationUnavailable() from exc

    def is_revoked(self, *, sid: str) -> bool:
        try:
            return bool(self.client.exists(self.prefix + sid))
        except self._errors as exc:
            log.error("Redis revocation list not readable: %s", exc.__class__.__name__)
            raise RevocationUnavailable() from exc

    def check(self, *, sid: str, user_id: int | None = None) -> SessionCheck:
        """The users live in the database: this store does not read them."""
        return SessionCheck(self.is_revoked(sid=sid), None)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions[EXTENSION_KEY] = RedisStore(url) if url else DatabaseStore()


def store() -> RevocationStore:
    return current_app.extensions[EXTENSION_KEY]


def revoke(*, sid: str, user_id: int, expires_at: datetime) -> None:
    store().revoke(sid=sid, user_id=user_id, expires_at=expires_at)


def check(*, sid: str, user_id: int | None = None) -> SessionCheck:
    """Whether `sid` is revoked, and the user `user_id` if the store could read it along."""
    return store().check(sid=sid, user_id=user_id)


def spend_refresh_token(*, jti: str, sid: str, user_id: int, expires_at: datetime) -> bool:
    """Mark the refresh token `jti` spent; False when it already was (reuse).

    The primary key decides, on both backends: of two concurrent spends of one token,
    one insert commits and the other meets the key (PostgreSQL makes it wait for the
    first to commit; SQLite has one writer at a time), so at most one refresh succeeds.
    A store that cannot answer is a 503, never a pass.
    """
    try:
        db.session.add(SpentRefreshToken(jti=jti, sid=sid, user_id=user_id, expires_at=expires_at))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("spent refresh tokens not writable: %s", exc.__class__.__name__)
        raise RevocationUnavailable() from exc
    _purge_spent()
    return True


def _purge_spent() -> None:
    """Rows of expired tokens are of no use (the token is refused anyway): housekeeping,
    in its own transaction after the spend, so a failure here never fails a refresh."""
    try:
        db.session.execute(delete(SpentRefreshToken).where(SpentRefreshToken.expires_at < utcnow()))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("expired spent refresh tokens not purged: %s", exc.__class__.__name__)
