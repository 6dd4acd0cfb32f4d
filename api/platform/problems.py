"""The catalogue of problem types: every `type` a problem document of this API can carry.

A type is a URI reference, `/problems/<slug>`, stable across deployments (clients compare
it as a string) and resolvable on the server that sent it: `GET /problems/<slug>` returns
the entry below (what it means and what a client should do), `GET /problems` all of them.

The platform registers the types of HTTP itself (routing, bodies, limits, availability,
and what gunicorn and nginx refuse before the app runs); each domain registers its own
(`api/accounts/problems.py`, ...). The test suite checks that every slug the code can
send is registered and documented in openapi.yaml.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TYPE_PREFIX = "/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str
    action: str

    @property
    def type(self) -> str:
        return type_uri(self.slug)

    def as_json(self) -> dict:
        return {"type": self.type, **asdict(self)}


CATALOGUE: dict[str, ProblemType] = {}


def type_uri(slug: str) -> str:
    return f"{TYPE_PREFIX}{slug}"


def title_of(slug: str) -> str | None:
    entry = CATALOGUE.get(slug)
    return entry.title if entry is not None else None


def register(slug: str, status: int, title: str, meaning: str, action: str) -> None:
    existing = CATALOGUE.get(slug)
    entry = ProblemType(slug, status, title, meaning, action)
    if existing is not None and existing != entry:
        raise ValueError(f"problem type {slug!r} is registered twice, differently")
    CATALOGUE[slug] = entry


# What HTTP itself can answer, whichever route it is.
for _entry in (
    (
        "bad-request",
        400,
        "Bad Request",
        "The request could not be understood: its body is not valid JSON, or nests too deep.",
        "Fix the request as `detail` says and send it again.",
    ),
    (
        "invalid-query",
        400,
        "Invalid query parameters",
        "One or more query parameters are unknown, repeated or invalid; `errors` names each.",
        "Correct the parameters named in `errors`; the operation lists those it takes.",
    ),
    (
        "malformed-request",
        400,
        "Bad Request",
        "The request is not valid HTTP/1.1 (a control character in the request line, a "
        "malformed header or chunk); refused before the application ran.",
        "Fix the client or library that built the request; nothing was processed.",
    ),
    (
        "unauthorized",
        401,
        "Unauthorized",
        "The request needs authentication it did not carry.",
        "Log in (`POST /api/v1/auth/login`) and send `Authorization: Bearer <token>`.",
    ),
    (
        "forbidden",
        403,
        "Forbidden",
        "The caller is authenticated but not allowed to do this (a role below the one the "
        "operation needs, or another user's object).",
        "Do not retry with the same account; ask an administrator for the role if needed.",
    ),
    (
        "not-found",
        404,
        "Not Found",
        "No resource at this URL: an unknown route, or an id or slug that names nothing.",
        "Check the URL against /openapi.yaml; a deleted resource stays gone.",
    ),
    (
        "method-not-allowed",
        405,
        "Method Not Allowed",
        "The route exists but does not take this method; `Allow` lists those it takes.",
        "Use one of the methods in the `Allow` header.",
    ),
    (
        "not-acceptable",
        406,
        "Not Acceptable",
        "The server cannot produce a representation the request's `Accept` allows.",
        "Accept `application/json` (and `application/problem+json` for errors).",
    ),
    (
        "request-timeout",
        408,
        "Request Timeout",
        "The request was not sent in time (the proxy gives 10 s for headers and between "
        "reads of a body).",
        "Send the request again, whole.",
    ),
    (
        "conflict",
        409,
        "Conflict",
        "The request conflicts with the current state of the resource (a slug or email "
        "already taken, a finished quiz, a topic that still has questions...).",
        "Read `detail`, fetch the current state, and change the request accordingly.",
    ),
    (
        "precondition-failed",
        412,
        "Precondition Failed",
        "`If-Match` names no current representation of the resource: someone changed it "
        "since you read it.",
        "GET the resource again, reapply your change to it, and send it with the new ETag.",
    ),
    (
        "content-too-large",
        413,
        "Content Too Large",
        "The request body is larger than the operation accepts (1 MiB for most writes, "
        "`IMPORT_MAX_BYTES` for imports).",
        "Send less: split an import, shorten the texts.",
    ),
    (
        "uri-too-long",
        414,
        "URI Too Long",
        "The request line (method, path and query string) is longer than 4094 bytes; "
        "refused before the application ran.",
        "Shorten the query string; long filter lists belong in a quiz's request body.",
    ),
    (
        "unsupported-media-type",
        415,
        "Unsupported Media Type",
        "The body is not in a format the operation takes (most take `application/json`).",
        "Send the body with the `Content-Type` the operation documents.",
    ),
    (
        "expectation-failed",
        417,
        "Expectation Failed",
        "The server does not meet the request's `Expect` header.",
        "Send the request without `Expect`, or with `Expect: 100-continue` only.",
    ),
    (
        "validation-error",
        422,
        "Invalid request body",
        "The body is JSON but some fields are missing or invalid; `errors` maps each "
        "offending field (dotted paths for nested ones) to its messages.",
        "Fix the fields named in `errors` and send the request again.",
    ),
    (
        "precondition-required",
        428,
        "Precondition Required",
        "This write needs `If-Match`, so that it cannot overwrite a change it has not seen.",
        "GET the resource and send its `ETag` in `If-Match` (or `*` to overwrite anything).",
    ),
    (
        "rate-limited",
        429,
        "Too Many Requests",
        "A rate limit is exhausted; `Retry-After` says when to try again.",
        "Wait `Retry-After` seconds before the next request of this kind.",
    ),
    (
        "header-fields-too-large",
        431,
        "Request Header Fields Too Large",
        "More than 100 header fields, or one longer than 8190 bytes; refused before the "
        "application ran.",
        "Send fewer or shorter headers (large cookies are a usual cause).",
    ),
    (
        "internal-error",
        500,
        "Internal Server Error",
        "The server failed; the document reveals nothing more, the log has the request id.",
        "Retry later; report the `X-Request-ID` of the response if it persists.",
    ),
    (
        "not-implemented",
        501,
        "Not Implemented",
        "The server does not support something the request needs (a transfer coding other "
        "than chunked).",
        "Send the body with a `Content-Length` or chunked.",
    ),
    (
        "service-unavailable",
        503,
        "Service Unavailable",
        "The service cannot answer right now (restarting, or a store it needs is down).",
        "Retry after `Retry-After` seconds; nothing was changed.",
    ),
    (
        "database-unavailable",
        503,
        "Service Unavailable",
        "The database is not reachable right now; nothing was changed.",
        "Retry after `Retry-After` seconds (5).",
    ),
):
    register(*_entry)

# Statuses werkzeug and the WSGI servers answer without a slug of ours.
HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    409: "conflict",
    412: "precondition-failed",
    413: "content-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    417: "expectation-failed",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    431: "header-fields-too-large",
    500: "internal-error",
    501: "not-implemented",
    503: "service-unavailable",
}


def slug_for_status(status: int) -> str:
    """The generic type of an HTTP status (a 4xx or 5xx without one of its own)."""
    return HTTP_SLUGS.get(status, "internal-error" if status >= 500 else "bad-request")
