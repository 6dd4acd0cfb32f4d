"""JSON logs: one line per request, and every other log record in the same shape.

A request line carries the request id (X-Request-ID accepted when it is a sane token,
generated otherwise, and echoed back), method, path (never the query string), status,
duration and the user id. Bodies, headers and query strings are never logged, so no
token, password or answer text can reach a log line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("api.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """JSON on stderr for the whole process (idempotent: several apps may be created)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def request_id_for(given: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    return given if given and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def log_request(
    *,
    request_id: str,
    method: str,
    path: str,
    status: int,
    started: float | None,
    user_id,
    address: str | None,
) -> None:
    """The one access line of a request (also written by api/platform/http_cache.py's fast path)."""
    access_log.info(
        "request",
        extra={
            "fields": {
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started is not None
                else None,
                "user_id": user_id,
                # The client (behind TRUSTED_PROXY_HOPS proxies, from X-Forwarded-For).
                "address": address,
            }
        },
    )


def init_app(app: Flask) -> None:
    configure_logging(app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_for(request.headers.get("X-Request-ID"))
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        # Flask-JWT-Extended keeps the verified token here; unverified tokens are never read.
        claims = getattr(g, "_jwt_extended_jwt", None) or {}
        log_request(
            request_id=request_id,
            method=request.method,
            path=request.path,
            status=response.status_code,
            started=getattr(g, "started", None),
            user_id=claims.get("sub"),
            address=request.remote_addr,
        )
        return response
