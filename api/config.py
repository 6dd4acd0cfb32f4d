"""Configuration read from the environment (and a `.env` file when present)."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from sqlalchemy.engine import make_url

# Seconds a new PostgreSQL connection may take before the request fails (a 503): well under
# gunicorn's worker timeout, so an unreachable database never holds a worker until it is killed.
DATABASE_CONNECT_TIMEOUT = 5
INSTANCE_DIR = Path(os.environ.get("QBANK_INSTANCE_DIR", Path.cwd() / "instance")).resolve()


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _local_jwt_secret() -> str:
    """A secret generated once and kept under instance/, so local restarts keep tokens valid.

    Workers start together on a fresh instance directory: each writes a candidate to a
    file of its own and links it into place, which only the first manages (a link never
    replaces a file), so every worker reads that one secret, never a half-written file.
    """
    path = INSTANCE_DIR / "jwt-secret"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(dir=INSTANCE_DIR, prefix=".jwt-secret-")  # 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            try:
                os.link(candidate, path)
            except FileExistsError:
                pass  # another process was first: its secret stands
        finally:
            os.unlink(candidate)
    return path.read_text().strip()


class Config:
    """Settings for a real run; every value can come from the environment."""

    ENV_NAME = "production"
    TESTING = False
    DEBUG = False
    JSON_SORT_KEYS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Compact and the same in debug mode: ETags hash these bytes (resources/common.py).
    RESTFUL_JSON = {"indent": None, "ensure_ascii": False}
    MAX_CONTENT_LENGTH = 1024 * 1024
    IMPORT_MAX_BYTES = 8 * 1024 * 1024
    # Questions one HTTP import may hold (413 beyond): the largest import must finish well
    # within gunicorn's worker timeout. `flask import-bank` streams files of any size.
    IMPORT_MAX_ITEMS = 1000
    # New questions the review queue offers per day, counted in the learner's time zone.
    NEW_QUESTIONS_PER_DAY = 10
    # How long after answering a learner may confirm or override an attempt's rating.
    ATTEMPT_OVERRIDE_WINDOW = timedelta(hours=24)
    # Attempts a learner may store per UTC day, batches included (api/practice/volume.py);
    # 0 turns the quota off.
    ATTEMPTS_PER_DAY = 1000
    # Free-text answer bytes (UTF-8) one offline batch may carry in all.
    BATCH_ANSWER_MAX_BYTES = 64 * 1024
    # How far ahead of the server's clock a batch's `answered_at` may be (a device clock
    # running fast); such a time is stored as the server's now.
    ANSWERED_AT_MAX_SKEW = timedelta(minutes=5)
    # How long an Idempotency-Key is remembered; an older one is treated as new, and
    # `flask purge-idempotency` deletes the expired records.
    IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
    PER_PAGE_DEFAULT = 20
    PER_PAGE_MAX = 100
    RANDOM_COUNT_MAX = 50
    SEARCH_QUERY_MAX = 200
    # Rendered public reads kept per worker, keyed by bank version and URL
    # (api/platform/http_cache.py);
    # 0 turns the cache off.
    RESPONSE_CACHE_MAX_BYTES = 16 * 1024 * 1024
    # Ids matching a random draw's filters, kept per worker and bank version (4 bytes
    # each: the default holds two million); 0 samples through the id index instead.
    ID_POOL_MAX_BYTES = 8 * 1024 * 1024
    # Questions rendered for random draws, per worker (0 turns it off).
    RENDERED_QUESTIONS_MAX_BYTES = 4 * 1024 * 1024
    CORS_ORIGINS: list[str] = []
    # The API's public origin (and path prefix) as clients reach it, e.g.
    # https://api.example.com: absolute URLs (paging `Link`s) are built on it, never on
    # the request's Host header. Unset: built from the request, as the server saw it.
    PUBLIC_BASE_URL: str | None = None
    LOG_LEVEL = "INFO"
    REDIS_URL: str | None = None
    # Accounts (api/accounts/authentication.py, api/accounts/users.py). HS256 only: no other
    # alg is accepted.
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_COOKIE_CSRF_PROTECT = False  # tokens travel in headers only: no cookies, no CSRF claim
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    # argon2-cffi PasswordHasher keyword arguments; None: the library's (RFC 9106) defaults.
    PASSWORD_HASH_PARAMS: dict | None = None
    # The least zxcvbn score (0 to 4) a new password needs (api/accounts/passwords.py).
    PASSWORD_MIN_STRENGTH = 3
    # Rate limits (api/platform/ratelimit.py), in Flask-Limiter's notation. Their storage
    # (RATELIMIT_STORAGE_URI) is REDIS_URL when set, else a SQLite file in the instance
    # directory that every worker of the machine shares (api/platform/ratelimit_sqlite.py).
    RATELIMIT_LOGIN_FAILURES_PER_ADDRESS = "20/minute"
    RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT = "5/minute"
    RATELIMIT_REGISTRATIONS_PER_ADDRESS = "10/hour"
    RATELIMIT_WRITES = "120/minute"
    RATELIMIT_REPORTS = "20/hour"
    # Proxies in front of the app whose X-Forwarded-For entries are believed (werkzeug's
    # ProxyFix, x_for): with 0 the client address is the connection's peer and the header
    # is ignored, since any client can send it.
    TRUSTED_PROXY_HOPS = 0

    def __init__(self) -> None:
        load_dotenv(override=False)
        self.ENV_NAME = os.environ.get("QBANK_ENV", self.ENV_NAME)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'qbank.sqlite3'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        secret = os.environ.get("JWT_SECRET_KEY")
        if not secret:
            if self.ENV_NAME != "development":
                raise RuntimeError(
                    "JWT_SECRET_KEY is required outside development (set QBANK_ENV=development "
                    "to use a generated local secret)"
                )
            secret = _local_jwt_secret()
        self.JWT_SECRET_KEY = secret
        self.SECRET_KEY = secret
        origins = os.environ.get("CORS_ORIGINS", "")
        self.CORS_ORIGINS = [o.strip() for o in origins.split(",") if o.strip()]
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.PUBLIC_BASE_URL = public_base_url(os.environ.get("PUBLIC_BASE_URL") or None)
        self.RATELIMIT_STORAGE_URI = (
            os.environ.get("RATELIMIT_STORAGE_URI")
            or self.REDIS_URL
            or f"sqlite:///{INSTANCE_DIR / 'ratelimits.sqlite3'}"
        )
        for key in (
            "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS",
            "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT",
            "RATELIMIT_REGISTRATIONS_PER_ADDRESS",
            "RATELIMIT_WRITES",
            "RATELIMIT_REPORTS",
        ):
            setattr(self, key, os.environ.get(key) or getattr(self, key))
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", self.LOG_LEVEL).upper()
        hops = os.environ.get("TRUSTED_PROXY_HOPS", "").strip()
        if hops:
            if not hops.isdigit():
                raise RuntimeError(f"TRUSTED_PROXY_HOPS must be a whole number >= 0, not {hops!r}")
            self.TRUSTED_PROXY_HOPS = int(hops)
        for key in (
            "RESPONSE_CACHE_MAX_BYTES",
            "ID_POOL_MAX_BYTES",
            "RENDERED_QUESTIONS_MAX_BYTES",
            "ATTEMPTS_PER_DAY",
            "BATCH_ANSWER_MAX_BYTES",
            "PASSWORD_MIN_STRENGTH",
            "IMPORT_MAX_ITEMS",
        ):
            if os.environ.get(key):
                setattr(self, key, int(os.environ[key]))
        for key in (
            "ATTEMPT_OVERRIDE_WINDOW",
            "ANSWERED_AT_MAX_SKEW",
            "IDEMPOTENCY_KEY_LIFETIME",
        ):
            if os.environ.get(f"{key}_SECONDS"):
                setattr(self, key, timedelta(seconds=int(os.environ[f"{key}_SECONDS"])))
        if os.environ.get("JWT_ACCESS_TOKEN_SECONDS"):
            self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(
                seconds=int(os.environ["JWT_ACCESS_TOKEN_SECONDS"])
            )
        if not 0 <= self.PASSWORD_MIN_STRENGTH <= 4:
            raise RuntimeError("PASSWORD_MIN_STRENGTH is a zxcvbn score: 0 to 4")
        self.DEBUG = _bool("FLASK_DEBUG", False)


class TestConfig(Config):
    """In-process test settings: a throwaway database given by the caller."""

    ENV_NAME = "testing"
    TESTING = True
    __test__ = False  # not a pytest test class, despite the name
    # Cheap hashes keep the suite fast; production keeps the library's defaults.
    PASSWORD_HASH_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    # Many tests share one app and one client address: generous limits, lowered where tested.
    RATELIMIT_LOGIN_FAILURES_PER_ADDRESS = "1000/minute"
    RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT = "1000/minute"
    RATELIMIT_REGISTRATIONS_PER_ADDRESS = "1000/minute"
    RATELIMIT_WRITES = "10000/minute"
    RATELIMIT_REPORTS = "10000/minute"
    ATTEMPTS_PER_DAY = 100_000

    def __init__(self, database_url: str = "sqlite://", **overrides) -> None:
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.JWT_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"
        self.SECRET_KEY = self.JWT_SECRET_KEY
        self.CORS_ORIGINS = []
        for key, value in overrides.items():
            setattr(self, key, value)


def public_base_url(value: str | None) -> str | None:
    """PUBLIC_BASE_URL checked at start-up: an http(s) origin with an optional path prefix,
    no query, fragment or credentials; kept without its trailing slash."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise RuntimeError(
            "PUBLIC_BASE_URL must be an http(s) URL such as https://api.example.com "
            "(an optional path prefix; no query, fragment or credentials)"
        )
    return value.strip().rstrip("/")


def normalise_database_url(url: str) -> str:
    """Accept the `postgres://` and `postgresql://` spellings operators paste; we ship psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def engine_options(database_url: str) -> dict:
    """SQLAlchemy engine options for this database.

    Pooled connections are checked before use without a round trip (api/platform/db_events.py
    `_check_connection_alive`), so a restarted database costs no errors; a PostgreSQL
    connect gives up after DATABASE_CONNECT_TIMEOUT seconds unless the URL sets its own
    `connect_timeout` (libpq otherwise waits as long as the OS does: minutes).
    """
    options: dict = {}
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        options["connect_args"] = {"connect_timeout": DATABASE_CONNECT_TIMEOUT}
    return options
