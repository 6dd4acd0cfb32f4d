"""The application factory: the one way in, and every layer a request crosses, in order."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask.sessions import SessionInterface
from flask_restful import Api
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from api import cli, routes
from api.accounts import authentication
from api.accounts import models as account_models  # noqa: F401  (tables on the metadata)
from api.bank import models as bank_models
from api.bank import random_draws
from api.config import Config
from api.extensions import cors, db, jwt, limiter, migrate
from api.platform import db_events, errors, http_cache, logs, parsing
from api.practice import models as practice_models  # noqa: F401  (tables on the metadata)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Every response header of the contract a script may need (tests/accounts/test_cors.py
# checks this list against openapi.yaml); the CORS-safelisted ones are readable anyway.
CORS_EXPOSE_HEADERS = [
    "Allow",
    "Content-Disposition",
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Location",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "WWW-Authenticate",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
    "X-Skipped-Count",
    "X-Total-Count",
]
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
]
# What browsers may call across origins: the API, its contract and its problem types.
CORS_PATHS = r"/(api/.*|openapi\.yaml|problems(/.*)?)$"


class AsciiIntegerConverter(IntegerConverter):
    """`<int:...>` in ASCII digits only: werkzeug's `\\d+` also takes digits of other scripts."""

    regex = r"[0-9]+"


class ProblemApi(Api):
    """Flask-RESTful answers its own errors unless told not to: hand them all to Flask.

    Re-raising sends every exception to the app's error handlers (platform/errors.py), so
    routing errors, validation errors and crashes share one problem+json shape.
    """

    def handle_error(self, e):
        raise e


class NoCookieSessions(SessionInterface):
    """The API keeps no cookie session (tokens travel in headers): none is read or signed."""

    def open_session(self, app: Flask, request) -> None:
        return None  # Flask substitutes its (empty, unsaved) null session


def create_app(config: object | None = None) -> Flask:
    """Hooks run in the order registered (after_request hooks in reverse): read top down."""
    app = Flask(__name__, static_folder=None)
    app.request_class = parsing.ApiRequest  # chunked bodies past the limit are 413s too
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.url_map.strict_slashes = False
    app.config.from_object(config if config is not None else Config())
    app.json.sort_keys = False
    app.session_interface = NoCookieSessions()
    bank_models.register_model_events()

    logs.init_app(app)  # request id and the access log line
    # Before the extensions' hooks: a cached public read skips the rate limiter's check
    # (reads are not limited) and everything else up to the responses' after_request.
    http_cache.init_app(app)
    register_extensions(app)
    random_draws.init_app(app)  # per-worker id pools for random draws
    routes.register_routes(ProblemApi(app, catch_all_404s=False))
    errors.register_error_handlers(app)
    # Registered last, so it runs first of the after_request hooks: ETag and 304.
    app.after_request(http_cache.conditional_get)
    cli.register(app)
    # Outermost: every layer, the cached reads' fast path included, sees the client address.
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Take the client address from X-Forwarded-For only past the configured proxies.

    Rate limits and logs use `request.remote_addr`. Behind TRUSTED_PROXY_HOPS proxies,
    ProxyFix replaces it with the address the outermost trusted proxy saw (the header's
    n-th entry from the right); entries further left are the client's own word and are
    ignored. With 0 (the default) the header is ignored altogether.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    db_events.init_app(app)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (reverse order).
    app.teardown_appcontext(_close_session)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    jwt.init_app(app)
    authentication.init_app(app)
    limiter.init_app(app)
    origins = app.config["CORS_ORIGINS"]
    cors.init_app(
        app,
        resources={CORS_PATHS: {"origins": origins}},
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
