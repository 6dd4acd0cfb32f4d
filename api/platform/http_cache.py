"""Public reads of the bank, rendered once per bank version and kept in each worker.

A question page, a search, one question, the topics and the tags depend only on the
bank's rows and on the URL. Every write to those rows changes the bank version
(api/platform/bank_revision.py) in its own transaction, so "the same URL at the same
version" always renders the same bytes. A worker keeps what it rendered, keyed by
(version, URL), in a byte-bounded LRU; serving a request again costs one single-row
read of the version and no rendering, and the stored strong ETag (the hash of those
bytes, as on every GET) makes a revalidation a 304 without rendering anything either.

Nothing can be served stale: the version is read from the database at the start of
every request (on the worker's own autocommit connection, so it is the last committed
one), and a write anywhere (another worker, a replica, the CLI, psql) changes it in the
same commit as its rows. A miss renders after reading the version, so what it stores is
at least as new as its key says. Entries of older versions are never asked for again and
fall out of the LRU. Requests that fail (4xx) are never stored: they are rendered each time.
Responses to writes, random draws, practice and anything per-user are not cached.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from werkzeug.http import parse_etags

from api.extensions import db
from api.platform import bank_revision, errors, logs
from api.platform.lru import ByteLRU

CACHEABLE_ENDPOINTS = frozenset(
    {"questionlist", "questionitem", "topiclist", "topicitem", "taglist"}
)
# The paths of those endpoints (api/routes.py), so that no other request (health checks,
# per-user reads) pays for reading the version. Only a pre-filter: entries exist only for
# URLs that Flask routed to a cacheable endpoint and answered with a 200.
CACHEABLE_PATH = re.compile(r"/api/v1/(?:questions(?:/[0-9]+)?|topics(?:/[^/]+)?|tags)/?")
# What a stored response keeps; the rest (CORS, Cache-Control, Vary, the request id)
# depends on the request and is added on the way out as for any response.
KEPT_HEADERS = ("Content-Type", "ETag", "Link", "X-Total-Count")
# Rough per-entry bookkeeping (key, headers, objects) counted against the byte budget.
ENTRY_OVERHEAD = 512
EXTENSION_KEY = "qbank.response_cache"
READER_KEY = "qbank.version_reader"
VERSION_ENVIRON_KEY = "qbank.bank_version"
STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str  # unquoted, as If-None-Match is compared
    not_modified_headers: tuple[tuple[str, str], ...]


def preconditions(environ: dict, etag: str) -> int | None:
    """RFC 9110 section 13.2.2 for a GET or HEAD of a representation whose strong ETag is
    `etag`: 412 when If-Match names none of it (`*` names any current representation), 304
    when If-None-Match names it (weak comparison, so `W/"..."` matches too), else None (the
    200). Every path answering GETs (the middleware, the response cache, Flask) decides
    here, so they agree. We send no Last-Modified, so If-Modified-Since and
    If-Unmodified-Since have nothing to compare against and are ignored, as the RFC says.
    """
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None:
        wanted = parse_etags(if_match)
        if not wanted.contains(etag):  # strong comparison; True for `*`
            return 412
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None and parse_etags(if_none_match).contains_weak(etag):
        return 304
    return None


def precondition_failed() -> Response:
    return errors.problem_response(
        412,
        detail="If-Match names no current representation of this resource; GET it again.",
        slug=errors.PreconditionFailed.slug,
    )


def caching_headers(app: Flask, *, authorized: bool) -> tuple[tuple[str, str], ...]:
    """The headers every successful GET carries, on the Flask path and the fast path alike.

    Every GET is revalidated (ETag); one sent with credentials only by private caches.
    Vary names what an answer depends on besides its URL.
    """
    return (
        ("Cache-Control", f"{'private' if authorized else 'public'}, no-cache"),
        ("Vary", app.config["HTTP_VARY"]),
        ("X-Content-Type-Options", "nosniff"),
    )


def response_cache(app: Flask | None = None) -> ByteLRU | None:
    return (app or current_app).extensions.get(EXTENSION_KEY)


def init_app(app: Flask) -> None:
    """The response cache, when it has a budget; `conditional_get` is wired by create_app.

    Called before the extensions are, so that the cache's before_request hook runs first
    and a cached public read skips every other hook up to the responses' after_request.
    """
    # What every GET's answer depends on besides its URL.
    app.config["HTTP_VARY"] = (
        "Authorization, Origin" if app.config["CORS_ORIGINS"] else "Authorization"
    )
    max_bytes = int(app.config.get("RESPONSE_CACHE_MAX_BYTES") or 0)
    if max_bytes > 0:
        app.extensions[EXTENSION_KEY] = ByteLRU(
            max_bytes, lambda entry: len(entry.body) + ENTRY_OVERHEAD
        )
        app.before_request(_serve_cached)
        app.wsgi_app = CachedReadsMiddleware(app, app.wsgi_app)


def conditional_get(response: Response) -> Response:
    """Strong ETags (a hash of the bytes) on every successful GET, 304 on If-None-Match.

    A 304 made from the response cache gets the same caching headers as the 200 it
    stands for (`caching_headers`).
    """
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    status = response.status_code
    if request.method not in ("GET", "HEAD") or status not in (200, 304):
        return response
    if response.direct_passthrough:
        return response
    for name, value in caching_headers(current_app, authorized="Authorization" in request.headers):
        if name == "Vary" and "Vary" in headers:
            response.vary.update(value.split(", "))
        else:
            headers.setdefault(name, value)
    if status == 304:
        return response
    if response.is_streamed:
        return response  # an export sent as it is read: no hash of bytes not yet made
    if not response.get_etag()[0]:
        response.add_etag()
        remember(response)
    outcome = preconditions(request.environ, response.get_etag()[0])
    if outcome == 412:
        return precondition_failed()
    if outcome == 304:
        response.status_code = 304  # werkzeug sends it without the body and its headers
    return response


def version_reader(app: Flask) -> bank_revision.VersionReader:
    reader = app.extensions.get(READER_KEY)
    if reader is None:
        with app.app_context():
            reader = app.extensions[READER_KEY] = bank_revision.VersionReader(db.engine)
    return reader


def cache_key(environ: dict, version: int) -> tuple:
    """The version and the URL as the server received it.

    Scheme, host and root are part of it: the Link header carries absolute URLs.
    """
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return (
        version,
        environ["wsgi.url_scheme"],
        host,
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
    )


def _current_version(environ: dict, app: Flask) -> int | None:
    if VERSION_ENVIRON_KEY in environ:  # read once per request, by the middleware
        return environ[VERSION_ENVIRON_KEY]
    version = environ[VERSION_ENVIRON_KEY] = version_reader(app).read()
    return version


def _serve_cached() -> Response | None:
    """A stored rendering of this URL at the bank's current version, if this worker has one.

    This is the path of requests the middleware hands on (those carrying an Origin, for
    flask-cors to answer): the same entry, served through Flask's hooks.
    """
    if request.method not in ("GET", "HEAD") or request.endpoint not in CACHEABLE_ENDPOINTS:
        return None
    version = _current_version(request.environ, current_app)
    if version is None:
        return None
    key = cache_key(request.environ, version)
    entry = response_cache().get(key)
    if entry is None:
        g.response_cache_key = key  # remember() stores the rendering
        return None
    outcome = preconditions(request.environ, entry.etag)
    if outcome == 412:
        return precondition_failed()
    if outcome == 304:  # the 200's headers, no body
        return Response(status=304, headers=entry.not_modified_headers)
    return Response(entry.body, status=200, headers=entry.headers)


def not_cached() -> None:
    """This response is per caller (an editor's view): keep it out of the cache."""
    g.pop("response_cache_key", None)


def remember(response: Response) -> None:
    """Keep a freshly rendered cacheable 200 (called once its ETag is set)."""
    key = g.pop("response_cache_key", None)
    if key is None or response.status_code != 200 or response.direct_passthrough:
        return
    headers = tuple(
        (name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers
    )
    etag, _weak = response.get_etag()
    not_modified = tuple((k, v) for k, v in headers if k != "Content-Type")
    response_cache().put(key, Entry(response.get_data(), headers, etag, not_modified))


class CachedReadsMiddleware:
    """WSGI middleware that answers a cached read before Flask builds a request at all.

    A hit costs the version read, a dict lookup and one log line. The answer carries
    the headers the Flask path gives the same response: `caching_headers`, and the
    request id as api/platform/logs.py writes it.
    Requests with an Origin go on to Flask, where flask-cors decides their CORS headers;
    so does everything that is not a GET or HEAD, or has no entry yet.
    """

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.cache: ByteLRU = app.extensions[EXTENSION_KEY]

    def __call__(self, environ: dict, start_response):
        method = environ.get("REQUEST_METHOD")
        if (
            method not in ("GET", "HEAD")
            or "HTTP_ORIGIN" in environ
            or not CACHEABLE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        version = _current_version(environ, self.app)
        entry = None if version is None else self.cache.get(cache_key(environ, version))
        outcome = None if entry is None else preconditions(environ, entry.etag)
        if entry is None or outcome == 412:  # Flask answers the 412 as a problem document
            return self.wsgi_app(environ, start_response)
        if outcome == 304:
            status, body, headers = 304, b"", list(entry.not_modified_headers)
        else:
            status, body, headers = 200, entry.body, list(entry.headers)
            headers.append(("Content-Length", str(len(body))))
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        headers += caching_headers(self.app, authorized="HTTP_AUTHORIZATION" in environ)
        headers.append(("X-Request-ID", request_id))
        start_response(STATUS_LINES[status], headers)
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        logs.log_request(
            request_id=request_id,
            method=method,
            path="/" + path.lstrip("/"),
            status=status,
            started=started,
            user_id=None,  # public reads verify no token
            address=environ.get("REMOTE_ADDR"),
        )
        return [] if method == "HEAD" or status == 304 else [body]
