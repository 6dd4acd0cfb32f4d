"""The API behind nginx (deploy/nginx/api.conf.template), as compose.yaml runs it.

gunicorn's sync workers serve one connection at a time: alone, four clients sending
half a request stalled both workers until their 30 s timeout, and /healthz with them.
Behind nginx, which reads each request whole before passing it on, idle and slow clients
cost nginx a connection and the workers nothing. What nginx refuses itself (a request
line or header too long, a body too large, a malformed request, an upstream that does not
answer) is a problem document like the API's own.
"""

from __future__ import annotations

import json
import socket
from contextlib import ExitStack

import pytest

from tests.support.live import app_env, flask_cli, http, raw_exchange, serve
from tests.support.problems import PROBLEM
from tests.support.servers import nginx_in_front

IDLE_CONNECTIONS = 8
WORKERS = 2


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """gunicorn with the project's settings and 2 sync workers, on a seeded SQLite bank."""
    instance = tmp_path_factory.mktemp("proxy")
    env = app_env(f"sqlite:///{instance}/qbank.sqlite3", instance, TRUSTED_PROXY_HOPS="1")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed")
    with serve(env, config=True, workers=WORKERS) as server:
        yield server.base


@pytest.fixture(scope="module")
def proxy(upstream):
    with nginx_in_front(upstream.removeprefix("http://")) as base:
        yield base


def _half_sent(base: str, index: int) -> socket.socket:
    """A connection that starts a request and never finishes it: headers cut short for
    even indexes, a body announced longer than what is sent for odd ones."""
    port = int(base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if index % 2:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"email": '
        )
    else:
        sock.sendall(b"GET /api/v1/questions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def test_idle_connections_do_not_stall_the_workers(proxy):
    with ExitStack() as stack:
        for index in range(IDLE_CONNECTIONS):
            stack.callback(_half_sent(proxy, index).close)
        # Every worker is free for whole requests, again and again (more than the workers).
        for _ in range(3 * WORKERS):
            assert http("GET", f"{proxy}/healthz").status == 200
            reply = http("GET", f"{proxy}/api/v1/questions?per_page=2")
            assert reply.status == 200, reply.brief()
            assert len(reply.body["data"]) == 2


def _request(target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [target, "Host: 127.0.0.1", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        pytest.param(
            _request("GET /api/v1/questions?q=" + "a" * 9000 + " HTTP/1.1"),
            414,
            "uri-too-long",
            id="request-line-past-nginx",
        ),
        pytest.param(
            _request("GET /api/v1/questions?q=" + "a" * 5000 + " HTTP/1.1"),
            414,
            "uri-too-long",
            id="request-line-past-gunicorn",
        ),
        pytest.param(
            _request("GET /api/v1/questions HTTP/1.1", "X-Big: " + "a" * 9000),
            431,
            "header-fields-too-large",
            id="header",
        ),
        pytest.param(
            _request("GET /api/v1/questions HTTP/1.1", "Content-Length: 20000000"),
            413,
            "content-too-large",
            id="body",
        ),
        pytest.param(b"GET /\x01 HTTP/1.1\r\n\r\n", 400, "malformed-request", id="malformed"),
    ],
)
def test_what_nginx_refuses_is_a_problem(proxy, request_bytes, status, slug):
    reply = raw_exchange(proxy, request_bytes)
    assert reply.status == status, reply
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert b"aaaa" not in reply.body
    assert reply.headers["server"] == "nginx"  # no version


def test_the_apis_own_answers_pass_through(proxy):
    reply = http("GET", f"{proxy}/api/v1/questions/999999")
    assert reply.status == 404
    assert reply.body["type"] == "/problems/not-found"
    assert reply.headers["Server"] == "nginx"


def test_an_upstream_that_does_not_answer_is_a_503_problem():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with nginx_in_front(f"127.0.0.1:{port}") as base:
            reply = http("GET", f"{base}/api/v1/questions")
    assert reply.is_problem_503, reply.brief()
    assert reply.body["type"] == "/problems/service-unavailable"
    assert json.dumps(reply.body).isascii()


def test_compose_puts_this_nginx_configuration_in_front():
    import yaml

    from tests.support.live import ROOT
    from tests.support.servers import NGINX_TEMPLATE

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    mounts = [volume.split(":")[0] for volume in services["proxy"]["volumes"]]
    assert (ROOT / mounts[0]).resolve() == NGINX_TEMPLATE
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in services["api"]  # reachable through nginx only
    assert services["api"]["environment"]["TRUSTED_PROXY_HOPS"] == "1"
