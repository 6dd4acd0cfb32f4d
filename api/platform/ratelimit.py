"""Rate limits: Flask-Limiter with per-app storage, keys and limits read from config.

Which limits (values are config keys, see config.py; tests lower them):

- failed logins per client address (``RATELIMIT_LOGIN_FAILURES_PER_ADDRESS``), per
  account and address, and per account over the addresses that have been failing (both
  ``RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT``; the lockout policy is in
  api/accounts/resources.py ``failed_login_limits``): only failures are counted, so a
  successful login costs nothing;
- registrations per client address (``RATELIMIT_REGISTRATIONS_PER_ADDRESS``);
- every write (POST, PUT, PATCH, DELETE) per signed-in user, else per client address
  (``RATELIMIT_WRITES``), one budget across all endpoints.

A breach is a 429 problem+json (errors.py handles it as any HTTPException) carrying
``Retry-After`` and the ``X-RateLimit-*`` headers, which every limited response carries.

Storage is ``RATELIMIT_STORAGE_URI``: by default ``REDIS_URL`` when set, so every worker
and container shares the counts, and otherwise a SQLite file in the instance directory
(ratelimit_sqlite.py), so that every worker of one machine shares them: a limit means the
same whichever worker answers. Only in-process test apps (TestConfig) count in
``memory://``, a fresh counter per app.

When Redis (or the SQLite file) is down, rate limiting fails open. The limiter logs the
warning "Rate limit storage unreachable - falling back to in-memory storage" and goes on
counting the same limits in process memory, so requests are still served and still
limited, per worker instead of across workers; it checks the storage again with a growing
back-off and switches back when it answers. Token revocation makes the opposite choice
and fails closed (api/accounts/sessions.py): a request whose token cannot be checked is a
503, because accepting a logged-out token is a breach, while a few extra attempts per
worker for the length of an outage is not.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, g, has_app_context, request
from flask.wrappers import Response
from flask_jwt_extended import decode_token
from flask_limiter import ApplicationLimit, Limiter
from limits import parse_many

# Defining the class is what makes `limits` resolve sqlite:// URIs to it.
from api.platform.ratelimit_sqlite import SQLiteStorage  # noqa: F401

STATE_KEY = "qbank.limiter"
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PerAppAttribute:
    """An attribute Flask-Limiter keeps on the extension object, kept per app instead."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj._state()[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        obj._state()[self.name] = value


class AppLimiter(Limiter):
    """A Limiter whose storage belongs to the app it serves, not to the extension object.

    Flask-Limiter keeps its storage on the extension instance, so with one module-level
    instance (extensions are created without an app) the last ``init_app`` would decide the
    storage of every app in the process: a test suite's memory and Redis apps would share
    counters. Here the storage, its strategy and the "storage is down" flag live in
    ``app.extensions`` and are looked up through the current app. Everything else is fixed
    in the constructor, so no app's config overrides another's; the limit values are read
    from the current app's config at request time.
    """

    enabled = PerAppAttribute()
    _storage = PerAppAttribute()
    _storage_options = PerAppAttribute()
    _limiter = PerAppAttribute()
    _storage_dead = PerAppAttribute()
    _fallback_storage = PerAppAttribute()
    _fallback_limiter = PerAppAttribute()

    def _state(self) -> dict[str, Any]:
        staging = self.__dict__.get("_staging")
        if staging is not None:
            return staging
        if has_app_context():
            state = current_app.extensions.get(STATE_KEY)
            if state is not None:
                return state
        return self.__dict__.setdefault("_unbound", {})

    def init_app(self, app: Flask) -> None:
        # Config() always names a shared storage; TestConfig leaves it to REDIS_URL or memory.
        app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
        if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://", "unix://")):
            # Fail over quickly rather than hold a worker while Redis does not answer.
            app.config.setdefault(
                "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
            )
        unbound = self.__dict__.setdefault("_unbound", {})
        self._staging = {
            **unbound,
            "_storage_options": dict(unbound.get("_storage_options") or {}),
            "_storage_dead": False,
        }
        # Registered before the limiter's own hook, so they run after it (Flask runs
        # after_request hooks in reverse): Retry-After means something on a 429 or 503 only,
        # and the IETF fields restate the X-RateLimit-* ones the limiter has just written.
        app.after_request(_retry_after_only_when_refused)
        app.after_request(self._ietf_fields)
        try:
            super().init_app(app)
            app.extensions[STATE_KEY] = self._staging
        finally:
            self._staging = None
        # After the limiter's own hook, so it runs before it: the headers show the refund.
        app.after_request(self._refund)

    def refund_unless(self, failure_status: int, scopes: frozenset[str]) -> None:
        """This request's limits of `scopes` count only if it answers `failure_status`.

        Flask-Limiter's ``deduct_when`` tests a limit before the view and counts after it,
        so N requests arriving together all pass the test before any is counted: with
        several workers a budget of 5 failed logins let 7 through. Instead these limits
        are counted as the request is let in (one atomic increment, refused past the
        limit), and given back after the response unless it is a failure; a refused
        attempt is given back too, so refusals never pile up.
        """
        g.ratelimit_refund = (failure_status, scopes)

    def _refund(self, response: Response) -> Response:
        failure_status, scopes = g.pop("ratelimit_refund", (None, frozenset()))
        if not scopes or response.status_code == failure_status:
            return response
        try:
            for spent in self.current_limits:
                if spent.request_args[-1] in scopes:
                    item = spent.limit
                    key = item.key_for(*spent.request_args)
                    self.limiter.storage.incr(key, item.get_expiry(), amount=-1)
        except Exception:  # a storage outage: the limiter has fallen back or logs it
            self.logger.exception("Failed to refund a rate limit. Swallowing error")
        return response

    def _ietf_fields(self, response: Response) -> Response:
        """`RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) for the
        limit the `X-RateLimit-*` headers describe: its name, quota and window, and what is
        left of it and for how many seconds, e.g. `"writes";q=120;w=60` and
        `"writes";r=119;t=42`."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        current = self.current_limit if remaining is not None and reset is not None else None
        if current is None:
            return response
        name = policy_name(current.request_args[-1] if current.shared else "default")
        item = current.limit
        # X-RateLimit-Reset is the second after the window's end: t stays within w.
        seconds_left = min(max(0, int(reset) - int(time.time())), item.get_expiry())
        response.headers["RateLimit-Policy"] = f'"{name}";q={item.amount};w={item.get_expiry()}'
        response.headers["RateLimit"] = f'"{name}";r={remaining};t={seconds_left}'
        return response

    def has_counted(self, limit_value: str, *, scope: str, key: str) -> bool:
        """Whether the shared limit `scope` has counted anything for `key` in its window.

        Read where Flask-Limiter counts a shared limit (its key prefix, the key, the scope),
        in the storage it uses now (the in-memory fallback while the storage is down).
        """
        args = [self._key_prefix, key, scope] if self._key_prefix else [key, scope]
        return any(
            self.limiter.get_window_stats(item, *args).remaining < item.amount
            for item in parse_many(limit_value)
        )

    def _check_request_limit(self, *args: Any, **kwargs: Any) -> None:
        """Only writes are limited (see above): reads skip the limiter's bookkeeping."""
        if request.method in SAFE_METHODS:
            return None
        return super()._check_request_limit(*args, **kwargs)


def policy_name(scope: str) -> str:
    """A limit's scope as a Structured Field String's content: printable ASCII, no quotes."""
    return "".join(ch for ch in scope if " " <= ch <= "~" and ch not in '"\\') or "default"


def _retry_after_only_when_refused(response: Response) -> Response:
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def client_address() -> str:
    """The client: the connection's peer, or behind TRUSTED_PROXY_HOPS proxies the address
    ProxyFix took from X-Forwarded-For (api/app.py `trust_proxies`)."""
    return request.remote_addr or "unknown"


def user_or_address() -> str:
    """Writes are budgeted per signed-in user, else per client address.

    Only a token with a valid signature names a user; anything else counts against the
    address, so made-up identities cannot spread one client over many budgets.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and token.strip():
        try:
            claims = decode_token(token.strip())
        except Exception:  # the resource answers 401 for it; here it only picks a bucket
            pass
        else:
            return f"user:{claims['sub']}"
    return f"addr:{client_address()}"


def login_failures_per_address() -> str:
    return current_app.config["RATELIMIT_LOGIN_FAILURES_PER_ADDRESS"]


def login_failures_per_account() -> str:
    return current_app.config["RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT"]


def registrations_per_address() -> str:
    return current_app.config["RATELIMIT_REGISTRATIONS_PER_ADDRESS"]


def reports_per_user() -> str:
    return current_app.config["RATELIMIT_REPORTS"]


def writes() -> str:
    return current_app.config["RATELIMIT_WRITES"]


def make_limiter() -> AppLimiter:
    return AppLimiter(
        key_func=client_address,
        application_limits=[
            ApplicationLimit(
                limit_provider=writes,
                key_function=user_or_address,
                methods=WRITE_METHODS,
                scope="writes",
                error_message="Too many writes; slow down and retry after Retry-After seconds.",
            )
        ],
        headers_enabled=True,
        retry_after="delta-seconds",
        strategy="fixed-window",
        in_memory_fallback_enabled=True,
        # A storage failure outside the fallback path (a deduction after the response) is
        # logged, never turned into a 500.
        swallow_errors=True,
        key_prefix="qbank",
    )
