"""Domain errors and the one handler that turns every failure into RFC 9457 problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, json, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from api.platform import problems

PROBLEM_MIME = "application/problem+json"
# Characters RFC 3986 allows unescaped in a path (pchar and "/").
PATH_SAFE = "/!$&'()*+,;=:@-._~"
log = logging.getLogger("api.platform.errors")


class ApiError(Exception):
    """Base of the errors resources and services raise; carries everything a problem needs."""

    status = 400
    slug = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.default_title())
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def default_title(cls) -> str:
        """The title the catalogue gives this kind of problem (api/platform/problems.py)."""
        return problems.title_of(cls.slug) or HTTPStatus(cls.status).phrase


class BadRequest(ApiError):
    status = 400
    slug = "bad-request"


class InvalidQuery(ApiError):
    """The query string failed validation: `errors` names each offending parameter."""

    status = 400
    slug = "invalid-query"


class InvalidBody(ApiError):
    status = 422
    slug = "validation-error"


class NotFound(ApiError):
    status = 404
    slug = "not-found"


class Conflict(ApiError):
    status = 409
    slug = "conflict"


class Forbidden(ApiError):
    status = 403
    slug = "forbidden"


class Unauthorized(ApiError):
    """Authentication failed; api/accounts/authentication.py adds the WWW-Authenticate challenge."""

    status = 401
    slug = "unauthorized"


class PreconditionFailed(ApiError):
    status = 412
    slug = "precondition-failed"


class PreconditionRequired(ApiError):
    status = 428
    slug = "precondition-required"


class ServiceUnavailable(ApiError):
    status = 503
    slug = "service-unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    slug = "database-unavailable"

    def __init__(self, detail: str = "The database is not reachable; retry shortly.") -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


# SQLSTATEs of a server that is unreachable, shutting down, starting up or full.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (refused, lost, restarting), as opposed to a bad query."""
    if isinstance(exc, DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # SQLAlchemy saw the connection die under a statement
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    # psycopg's own failures (connection refused or lost) carry no SQLSTATE: no server spoke.
    return type(exc.orig).__module__.startswith("psycopg")


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as `{"field.path": [message, ...]}`.

    List items are addressed by index (`sources.0.position`), so every value of a
    problem's `errors` is a plain list of strings whatever the schema's depth.
    """
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for name, texts in flatten_messages(value, path).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    if isinstance(messages, list | tuple):
        texts = [m for m in messages if isinstance(m, str)]
        flat = {prefix or "_schema": texts} if texts else {}
        for item in messages:
            if not isinstance(item, str):
                for name, more in flatten_messages(item, prefix).items():
                    flat.setdefault(name, []).extend(more)
        return flat
    return {prefix or "_schema": [str(messages)]}


def problem_type(slug: str) -> str:
    return problems.type_uri(slug)


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    slug: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    slug = slug or problems.slug_for_status(status)
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or problems.title_of(slug) or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    # A URI reference: the decoded path re-encoded, whatever bytes the client sent.
    body["instance"] = quote(request.path, safe=PATH_SAFE) if request else None
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIME)
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_exception(exc: HTTPException) -> Response:
    headers = {
        k: v for k, v in exc.get_headers() if k.lower() not in {"content-type", "content-length"}
    }
    detail = exc.description
    if exc.code == 404:
        detail = f"No resource at {request.path}; see /openapi.yaml for the routes."
    elif exc.code == 405:
        allowed = headers.get("Allow", "")
        detail = f"{request.method} is not allowed on {request.path}; allowed: {allowed}."
    elif exc.code == 413:
        detail = "The request body is larger than this server accepts."
    # The type is the status's own (the rate limiter's 429 is `rate-limited`).
    return problem_response(exc.code or 500, detail=detail, headers=headers)


def _api_error(exc: ApiError) -> Response:
    return problem_response(
        exc.status,
        title=exc.default_title(),
        detail=exc.detail,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        **exc.extra,
    )


def _validation_error(exc: ValidationError) -> Response:
    """A schema failure that escaped a resource's own wrapping is still the caller's fault."""
    errors = flatten_messages(exc.messages)
    return _api_error(InvalidBody("The request body is not valid.", errors=errors))


def _database_error(exc: SQLAlchemyError) -> Response:
    """A database outage is a 503 the client may retry; any other database error is a bug."""
    if not database_unavailable(exc):
        return _unexpected(exc)
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__
    )
    return _api_error(DatabaseUnavailable())


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(500, detail="The server failed to handle this request.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected)
