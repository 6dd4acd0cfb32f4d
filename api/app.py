"""The application factory: the one way in."""

from __future__ import annotations

import logging
import select

import psycopg
from flask import Flask, Response, has_request_context, request
from flask.sessions import SessionInterface
from flask_restful import Api
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import Pool
from werkzeug.routing import IntegerConverter

from api import cache, logs
from api.config import Config
from api.errors import register_error_handlers
from api.extensions import cors, db, jwt, limiter, migrate


class AsciiIntegerConverter(IntegerConverter):
    """`<int:...>` in ASCII digits only: werkzeug's `\\d+` also takes digits of other scripts."""

    regex = r"[0-9]+"


CORS_EXPOSE_HEADERS = [
    "ETag",
    "Link",
    "X-Total-Count",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
]


class ProblemApi(Api):
    """Flask-RESTful answers its own errors unless told not to: hand them all to Flask.

    Re-raising sends every exception to the app's error handlers (errors.py), so
    routing errors, validation errors and crashes share one problem+json shape.
    """

    def handle_error(self, e):
        raise e


def create_app(config: object | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.config.from_object(config if config is not None else Config())
    app.json.sort_keys = False
    app.session_interface = NoCookieSessions()
    # What every GET's answer depends on besides its URL (conditional_get, api/cache.py).
    app.config["HTTP_VARY"] = (
        "Authorization, Origin" if app.config["CORS_ORIGINS"] else "Authorization"
    )
    app.url_map.strict_slashes = False
    logs.init_app(app)
    # Before the extensions' hooks: a cached public read skips the rate limiter's check
    # (reads are not limited) and everything else up to the response's after_request.
    cache.init_app(app)

    register_extensions(app)
    register_routes(app)
    register_error_handlers(app)
    register_http_caching(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    import api.auth  # JWT loaders and callbacks register on the jwt extension when imported
    import api.models  # noqa: F401  (tables on the metadata before anything uses it)
    import api.services.search  # noqa: F401  (search DDL hooks on the questions table)
    import api.services.versioning  # noqa: F401  (bank version triggers, after create_all)

    db.init_app(app)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (reverse order).
    app.teardown_appcontext(_close_session)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    jwt.init_app(app)
    api.auth.init_app(app)
    limiter.init_app(app)
    origins = app.config["CORS_ORIGINS"]
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": origins}},
        expose_headers=CORS_EXPOSE_HEADERS,
        allow_headers=CORS_ALLOW_HEADERS,
        # Bearer tokens need no cookies; credentials only ever for a list of exact origins.
        supports_credentials=bool(origins) and "*" not in origins,
        max_age=600,
        # CORS headers answer an Origin: without one (curl, servers, same-origin pages) none
        # are sent, rather than every allowed origin at once. Vary: Origin (conditional_get)
        # keeps shared caches from serving one kind of answer for the other.
        always_send=False,
    )


def _close_session(_exc: BaseException | None) -> None:
    """End the request's session even when its connection died after the response was made.

    Closing rolls back over the network; if the database went away meanwhile, that raises
    after the response is built, and an exception escaping a teardown makes gunicorn throw
    the response away and answer a bare 500. The dead connection is invalidated instead.
    """
    try:
        db.session.remove()
    except SQLAlchemyError as exc:
        logging.getLogger("api.db").warning(
            "database connection lost while closing the session: %s", type(exc).__name__
        )
        db.session().invalidate()
        db.session.remove()


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent / "migrations"


def register_routes(app: Flask) -> None:
    from api.routes import register_routes as add_routes

    api = ProblemApi(app, catch_all_404s=False)
    add_routes(api)


CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
)


def register_http_caching(app: Flask) -> None:
    @app.after_request
    def conditional_get(response: Response) -> Response:
        """Strong ETags (a hash of the bytes) on every successful GET, 304 on If-None-Match.

        A 304 made from the response cache (api/cache.py) gets the same caching headers as
        the 200 it stands for.
        """
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        status = response.status_code
        if request.method not in ("GET", "HEAD") or status not in (200, 304):
            return response
        if response.direct_passthrough:
            return response
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = cache.cache_control(
                authorized="Authorization" in request.headers
            )
        vary = app.config["HTTP_VARY"]
        if "Vary" in headers:
            response.vary.update(vary.split(", "))
        else:
            headers["Vary"] = vary
        if status == 304:
            return response
        if not response.get_etag()[0]:
            response.add_etag()
            cache.remember(response)
        environ = request.environ
        if not any(name in environ for name in CONDITIONAL_HEADERS):
            return response  # nothing to evaluate: make_conditional would change nothing
        response.make_conditional(request)
        # The server dates every response (gunicorn, werkzeug's): a second Date from here
        # would be a duplicate of a singleton field.
        headers.pop("Date", None)
        return response


class NoCookieSessions(SessionInterface):
    """The API keeps no cookie session (tokens travel in headers): none is read or signed."""

    def open_session(self, app: Flask, request) -> None:
        return None  # Flask substitutes its (empty, unsaved) null session


def register_commands(app: Flask) -> None:
    from api.cli import register

    register(app)


@event.listens_for(Pool, "checkout")
def _check_connection_alive(dbapi_connection, _record, _proxy) -> None:
    """A pooled PostgreSQL connection whose server went away is replaced, not handed out.

    SQLAlchemy's pre-ping would send a query (three round trips with psycopg's
    autocommit switch) before every request. An idle connection has nothing to read
    unless its server closed it or said it is closing it (a restart, a crash, an
    administrator's kill all do): one non-blocking poll of the socket tells. The pool
    then drops it and connects again. A server that vanished without a word is found
    by the request's first query instead, which answers 503 and invalidates the pool.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return  # SQLite: a file, nothing to lose
    try:
        alive = (
            pgconn.status == pq.ConnStatus.OK and not select.select([pgconn.socket], [], [], 0)[0]
        )
    except (OSError, ValueError, psycopg.Error):
        alive = False
    if not alive:
        raise DisconnectionError("the server closed this pooled connection")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL for concurrent readers, enforced foreign keys, and waiting rather than failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The driver's own implicit BEGIN is turned off: _sqlite_begin below chooses the kind.
    dbapi_connection.isolation_level = None


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    """Write requests take SQLite's write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is
    locked" when another worker committed in between (WAL snapshots cannot be
    upgraded); taking the lock at BEGIN makes concurrent writers wait their turn
    (busy_timeout) instead. Reads keep plain BEGIN and run alongside writers.
    """
    if connection.dialect.name != "sqlite":
        return
    writing = not has_request_context() or request.method not in ("GET", "HEAD", "OPTIONS")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
