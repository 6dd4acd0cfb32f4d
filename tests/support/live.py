"""A real gunicorn on loopback, and HTTP to it, for end-to-end tests and `make bench`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

from tests.support.problems import PROBLEM

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HTTP_TIMEOUT = 15  # seconds per request by default: an answer later than this counts as a hang


def terminate(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def free_port() -> int:
    """An unused loopback port, the one way the suite and `make bench` pick a port.

    The port is released before the server binds it, so another process can grab it in
    between; servers that must not fail on that (PostgreSQL, Redis) retry on a fresh port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flask_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Alive and not a zombie (the test process reaps gunicorn only when its helper exits)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int) -> set[int]:
    """The running processes whose parent is `pid` (a gunicorn master's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] not in ("Z", "X") and int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_until_serving(
    proc: subprocess.Popen[bytes], base: str, workers: int, timeout: float, log: Callable[[], str]
) -> None:
    """Until `base` answers /healthz and gunicorn's master (`proc`) has all its workers.

    The master forks its workers one after the other, so the first can answer /healthz
    while the last is still booting: a test that counts or signals the workers waits for
    all of them. Bounded by `timeout`; fails at once, with the log's tail, if `proc` exits.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log()[-4000:]}")
        if len(children(proc.pid)) >= workers:
            try:
                with direct_opener.open(f"{base}/healthz", timeout=2) as response:
                    if 200 <= response.status < 300:  # the bench baseline answers its row's status
                        return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no /healthz with {workers} workers within {timeout} s:\n{log()[-4000:]}"
            )
        time.sleep(0.1)


@dataclass
class Server:
    """A gunicorn master serving on loopback: its base URL, process and log file."""

    base: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextmanager
def serve(
    env: dict[str, str],
    *,
    app: str = "api:create_app()",
    workers: int = 2,
    extra: tuple[str, ...] = (),
    config: bool = False,
    log_path: Path | None = None,
    timeout: float = 60,
) -> Iterator[Server]:
    """gunicorn on a free loopback port until every worker is up; stopped (SIGTERM) after.

    With `config`, the project's gunicorn.conf.py decides the settings (as in production
    and `make bench`), given the port and worker count through its BIND and WORKERS
    variables; otherwise gunicorn's defaults with `--workers`, `--bind` and `extra`.
    """
    port = free_port()
    bind = f"127.0.0.1:{port}"
    if log_path is None:
        log_path = Path(env.get("QBANK_INSTANCE_DIR", "/tmp")) / f"gunicorn-{port}.log"
    if config:
        env = dict(env, BIND=bind, WORKERS=str(workers))
        args = ["--config", str(ROOT / "gunicorn.conf.py"), *extra, app]
    else:
        args = ["--workers", str(workers), "--bind", bind, *extra, app]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(f"http://{bind}", proc, log_path)
    try:
        wait_until_serving(proc, server.base, workers, timeout, lambda: tail(log_path))
        yield server
    finally:
        terminate(proc, grace=40)


@contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 2, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """Serve the app with gunicorn on a free loopback port; yields the base URL."""
    with serve(env, workers=workers, extra=extra) as server:
        yield server.base


def tail(path: Path, limit: int = 4000) -> str:
    """The end of a log file, for a failure's message."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


def app_env(database_url: str, instance_dir: Path, **extra: str) -> dict[str, str]:
    """The app's environment: development config and this database; nothing of the
    caller's QBANK_*, DATABASE_*, REDIS_URL, RATELIMIT_STORAGE_URI, GUNICORN_ or BENCH_*
    settings leaks in."""
    drop = (
        "QBANK_",
        "DATABASE_",
        "BENCH_",
        "REDIS_URL",
        "RATELIMIT_STORAGE_URI",
        "ACCESS_LOG",
        "GUNICORN_",
        "FLASK_DEBUG",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        DATABASE_URL=database_url,
        QBANK_ENV="development",
        QBANK_INSTANCE_DIR=str(instance_dir),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        **extra,
    )
    return env


# No proxy, whatever the environment says: these requests only ever go to loopback.
direct_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api_request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    key: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> urllib.request.Request:
    """A JSON request to a server on loopback, with a bearer token, an Idempotency-Key and
    other headers when given (open it with `direct_opener`)."""
    assert url.startswith("http://127.0.0.1:"), url
    headers = {"Accept": "application/json", **(extra_headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return urllib.request.Request(url, data=data, method=method, headers=headers)


@dataclass(frozen=True)
class Reply:
    """One request's outcome; status 0 when no HTTP answer came (see `error`)."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    started: float
    ended: float
    error: str | None = None
    key: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.error == "timeout"

    @property
    def is_problem_503(self) -> bool:
        return (
            self.status == 503
            and self.headers.get("Content-Type", "").startswith(PROBLEM)
            and isinstance(self.body, dict)
            and self.body.get("status") == 503
            and int(self.headers.get("Retry-After", "0")) > 0
        )

    def brief(self) -> tuple:
        return (self.method, self.path, self.status, self.error, self.body)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    key: str | None = None,
    timeout: float = HTTP_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request with a client timeout; connection failures become a status-0 Reply."""
    request = api_request(method, url, token=token, body=body, key=key, extra_headers=headers)
    path = url.split("/", 3)[-1]
    started = time.monotonic()

    def failed(error: str) -> Reply:
        return Reply(method, path, 0, {}, None, started, time.monotonic(), error, key)

    try:
        try:
            response = direct_opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            raw = response.read()
            status = response.status
            reply_headers = dict(response.headers.items())
    except urllib.error.URLError as exc:
        reason = exc.reason
        return failed("timeout" if isinstance(reason, TimeoutError) else repr(reason))
    except TimeoutError:
        return failed("timeout")
    except (OSError, HTTPException) as exc:
        return failed(repr(exc))
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:200]
    return Reply(method, path, status, reply_headers, parsed, started, time.monotonic(), None, key)


@dataclass(frozen=True)
class Client:
    """A server on loopback with the test client's `post(path, json=...)`, for the helpers
    (`tests.support.accounts.register`) that work on either."""

    base: str
    timeout: float = HTTP_TIMEOUT

    def post(self, path: str, *, json: Any = None, **kwargs: Any) -> Reply:
        return http("POST", f"{self.base}{path}", body=json, timeout=self.timeout, **kwargs)


@dataclass(frozen=True)
class RawReply:
    """An HTTP/1.1 answer read off a socket: status, headers (names lowercased), body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(base: str, request: bytes, *, timeout: float = HTTP_TIMEOUT) -> RawReply:
    """Send `request` as written (no client library tidies it) and read the whole answer;
    the server closes the connection after it (requests here say `Connection: close`, and
    what gunicorn refuses is answered with a close)."""
    assert base.startswith("http://127.0.0.1:"), base
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawReply(int(lines[0].split()[1]), headers, body)


def chunked(body: bytes, size: int = 65536) -> bytes:
    """`body` in the chunked transfer coding."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def pid_tagged_app():
    """The app, each response naming the gunicorn worker that made it (X-Worker-Pid), so a
    test can tell that its requests were answered by several workers."""
    from api import create_app

    app = create_app()

    @app.after_request
    def _tag(response):
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app
