"""gunicorn settings shared by `make serve`, the container and the end-to-end tests."""

import multiprocessing
import os

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WORKERS") or min(multiprocessing.cpu_count() * 2 + 1, 8))
# Sync workers whose own refusals (414, 431, malformed requests) are problem+json.
worker_class = "api.platform.serving.ProblemWorker"
# gunicorn's defaults, stated: the request line (method, path and query) and the header
# fields it accepts; what exceeds them is refused before the app (api/platform/serving.py).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# A worker is replaced after this many requests, as a guard against slow leaks. Its caches
# (api/platform/http_cache.py) are bounded, and a restart costs a second of CPU and a cold
# cache, so the guard is set where it rarely fires under load (at 1,000 requests/s: every
# 100 s or so).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 20
# The app logs one JSON line per request (api/platform/logs.py); gunicorn's own access log is off
# unless asked for, so each request is logged once.
accesslog = os.environ.get("ACCESS_LOG") or None
preload_app = os.environ.get("GUNICORN_PRELOAD", "") == "1"
# gunicorn 27's control socket lives at one path per user: several servers (tests, replicas
# on one host) would fight over it, and nothing here uses it.
control_socket_disable = True


def post_fork(server, worker):
    """Connections opened before the fork (preload) must never be shared between workers."""
    flask_app = getattr(server.app, "callable", None)
    if flask_app is None or "sqlalchemy" not in getattr(flask_app, "extensions", {}):
        return
    from api.extensions import db

    with flask_app.app_context():
        db.engine.dispose(close=False)
