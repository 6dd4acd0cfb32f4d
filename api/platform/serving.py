"""What gunicorn answers itself, before the app sees a request, as problem+json.

gunicorn refuses a request line over `limit_request_line` (414), too many or too large
header fields (431), a malformed request line, header or chunk (400), ... with an HTML page
that quotes the offending input. The app's clients expect RFC 9457 problem documents
everywhere, and nothing of a request may be reflected. `ProblemWorker` lets gunicorn decide
and log as it does (status, warning line, access log), and only replaces the page it would
send with a fixed problem document for that status.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus

from gunicorn.workers.sync import SyncWorker

from api.platform.problems import title_of, type_uri

PROBLEM_MIME = "application/problem+json"

# The problem types of what gunicorn refuses (documented in openapi.yaml's components).
_SLUGS = {
    400: "malformed-request",
    403: "forbidden",
    414: "uri-too-long",
    417: "expectation-failed",
    431: "header-fields-too-large",
    500: "internal-error",
    501: "not-implemented",
}
_DETAILS = {
    400: "The request could not be parsed as HTTP/1.1 (request line, a header or the chunked "
    "body is malformed).",
    403: "The request was refused before reaching the application.",
    414: "The request line is longer than this server accepts (4094 bytes): shorten the query "
    "string, or send long filters in a request body where the operation takes one.",
    417: "The server does not meet the request's Expect header.",
    431: "The request's header fields are too many or too large (at most 100 fields of "
    "8190 bytes each).",
    501: "The request's Transfer-Encoding is not supported; use chunked or a Content-Length.",
    500: "The server failed to handle this request.",
}
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")


def problem_bytes(status: int) -> bytes:
    """A complete HTTP/1.1 response for `status`: a fixed problem document, nothing reflected."""
    slug = _SLUGS.get(status, "internal-error")
    # The catalogue's title (RFC 9110's "URI Too Long", where Python keeps the older name).
    reason = title_of(slug) if status in _SLUGS else HTTPStatus(status).phrase
    body = {
        "type": type_uri(slug),
        "title": reason,
        "status": status,
        "detail": _DETAILS.get(status, _DETAILS[500]),
    }
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_MIME}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("ascii") + payload


class _Captured:
    """Stands in for the client socket while gunicorn writes its error page: keeps the bytes."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self.data = b""

    def gettimeout(self):
        return 0.0  # gunicorn then writes without toggling blocking mode

    def setblocking(self, flag) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ProblemWorker(SyncWorker):
    """gunicorn's sync worker whose own error pages are problem+json (see the module doc)."""

    def handle_error(self, req, client, addr, exc):
        captured = _Captured(client)
        super().handle_error(req, captured, addr, exc)
        match = _STATUS_LINE.match(captured.data)
        if not match:  # nothing was to be sent (the client had gone)
            return
        status = int(match.group(1))
        try:
            status = HTTPStatus(status).value
        except ValueError:
            status = 500
        try:
            client.settimeout(5)
            client.sendall(problem_bytes(status))
        except OSError:
            self.log.debug("Failed to send error message.")
