"""Accounts: users, the database revocation list of logged-out sessions, and the refresh
tokens already exchanged (rotation)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, validates

from api.extensions import db
from api.platform.db_types import Timestamped, UTCDateTime, utcnow

ROLES = ("learner", "editor", "admin")
PASSWORD_MIN = 12
PASSWORD_MAX = 256
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}  # learner < editor < admin
EMAIL_MAX = 254
DISPLAY_NAME_MAX = 80
TIMEZONE_MAX = 64
# An IANA key is slash-separated names; this keeps paths like "../x" away from zoneinfo.
_TZ_KEY = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


def new_token_key() -> str:
    """A per-account random key that every token of the account carries (claim `acct`).

    128 random bits, made once per account (and again when an admin deactivates it): a
    token names its account by id *and* key, so it can only ever authenticate the
    account it was issued to, even if an id were given out twice.
    """
    return secrets.token_hex(16)


# Characters that render as nothing (or as a plain space) and that NFKC keeps: with one in
# it, an address would be a look-alike twin of another. Categories: controls, format
# characters (U+200B, U+2060, U+00AD, U+FEFF...), surrogates, private use, unassigned, and
# every kind of space or separator; plus the default-ignorable marks and fillers of other
# categories (combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian
# and other variation selectors).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_HIDDEN_CODE_POINTS = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0}
    | set(range(0x180B, 0x1810))
    | set(range(0xFE00, 0xFE10))
    | set(range(0xE0100, 0xE01F0))
)


def has_hidden_characters(email: str) -> bool:
    """True when `email` (as given or once NFKC-normalised) holds an invisible character."""
    normalised = unicodedata.normalize("NFKC", email.strip())
    return any(
        unicodedata.category(ch) in _HIDDEN_CATEGORIES or ord(ch) in _HIDDEN_CODE_POINTS
        for ch in email.strip() + normalised
    )


def normalise_email(value: str) -> str:
    """One spelling per address, so uniqueness holds: stripped, NFKC, lowercase."""
    return unicodedata.normalize("NFKC", value.strip()).lower()


@lru_cache(maxsize=1024)
def is_timezone(name: str) -> bool:
    """True for an IANA time zone name that zoneinfo can load."""
    if len(name) > TIMEZONE_MAX or not _TZ_KEY.fullmatch(name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class User(Timestamped, db.Model):
    """An account. Ids are never reused (SQLite: AUTOINCREMENT; PostgreSQL: a sequence)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(
        String(16), nullable=False, default="learner", server_default="learner"
    )
    display_name: Mapped[str] = mapped_column(
        String(DISPLAY_NAME_MAX), nullable=False, default="", server_default=""
    )
    timezone: Mapped[str] = mapped_column(
        String(TIMEZONE_MAX), nullable=False, default="UTC", server_default="UTC"
    )
    token_key: Mapped[str] = mapped_column(String(32), nullable=False, default=new_token_key)
    # Set by an admin: the account can neither log in nor use its tokens until reactivated.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("role IN ('learner', 'editor', 'admin')", name="role_allowed"),
        Index("ix_users_role_id", "role", "id"),
        # Without it SQLite hands the id of the newest deleted row to the next insert.
        {"sqlite_autoincrement": True},
    )

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        # The schemas refuse these with a 422 first; this keeps any other way in shut.
        if has_hidden_characters(value):
            raise ValueError("an email address cannot hold invisible characters")
        return normalise_email(value)

    @validates("role")
    def _check_role(self, _key: str, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}")
        return value

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        if not is_timezone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    def __repr__(self) -> str:  # never the hash, even in a debugger or a log line
        return f"<User {self.id} {self.role}>"


class RevokedSession(db.Model):
    """A logged-out session: every token carrying this `sid` is refused until it expires."""

    __tablename__ = "revoked_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    revoked_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now(), nullable=False
    )
    # When the session's last token would have expired anyway: rows past it can be purged.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class SpentRefreshToken(db.Model):
    """A refresh token already exchanged for a new pair (by its `jti`): shown again, it is
    reuse, and its whole session is revoked. The primary key lets one exchange win."""

    __tablename__ = "spent_refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    spent_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now(), nullable=False
    )
    # The token's own expiry: past it the token is refused anyway, and the row can go.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
