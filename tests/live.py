"""A real gunicorn on loopback, for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
                    if response.status == 200:
                        return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no /healthz with {workers} workers within {timeout} s:\n{log()[-4000:]}"
            )
        time.sleep(0.1)


@contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 2, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """Serve the app with gunicorn on a free loopback port; yields the base URL."""
    port = free_port()
    log = open(Path(env.get("QBANK_INSTANCE_DIR", "/tmp")) / f"gunicorn-{port}.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            *extra,
            "api:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, workers, 60, lambda: Path(log.name).read_text())
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def app_env(database_url: str, instance_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBANK_", "DATABASE_"))}
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
