"""The container's entrypoint, run as the container runs it, outside a container.

No Docker engine is available to CI, so this runs `boot.sh` itself (the Dockerfile's
ENTRYPOINT) with the same `gunicorn.conf.py`, against a PostgreSQL database and a Redis
server started by the tests, as `compose.yaml` wires them. It checks what an operator
relies on: migrations applied to an empty database and the bank seeded before anything
is served; gunicorn exec'd in place of the shell (so the container's stop signal reaches
it); the configured number of workers, with the app preloaded and each worker on its own
database connections after the fork; Redis used for sessions; a graceful stop on
SIGTERM; and a second start on the same database (a container restart) changing nothing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import SEED_QUESTIONS
from tests.support.live import (
    ROOT,
    api_request,
    app_env,
    children,
    direct_opener,
    free_port,
    wait_until_serving,
)

WORKERS = 2
START_TIMEOUT = 120  # migrations and the seed run before gunicorn: bounded, not timed
PASSWORD = "correct horse battery staple"
STOP_TIMEOUT = 40  # gunicorn.conf.py's graceful_timeout (20 s) and some


def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    request = api_request(method, url, **kwargs)
    try:
        with direct_opener.open(request, timeout=15) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


class Boot:
    """`sh boot.sh` in the project's root with `env`, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("w+")
        self.proc = subprocess.Popen(
            ["sh", "boot.sh"],
            cwd=ROOT,
            env=dict(env, BIND=f"127.0.0.1:{self.port}"),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_until_serving(self) -> None:
        wait_until_serving(self.proc, self.base, WORKERS, START_TIMEOUT, self.log)

    def stop(self) -> int:
        """SIGTERM, as `docker stop` sends it to the container's process; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return -9
        finally:
            self._log.close()


@pytest.fixture()
def boot_env(database_factory, redis, tmp_path) -> dict[str, str]:
    url = database_factory("postgresql", f"qbank_boot_{uuid.uuid4().hex[:8]}")
    return app_env(
        url,
        tmp_path,
        REDIS_URL=redis.url,
        WORKERS=str(WORKERS),
        GUNICORN_PRELOAD="1",  # the app is loaded before the fork: post_fork must dispose
    )


def test_boot_migrates_seeds_and_execs_gunicorn_which_stops_gracefully(boot_env, redis, tmp_path):
    boot = Boot(boot_env, tmp_path / "boot-1.log")
    try:
        boot.wait_until_serving()
        log = boot.log()
        # Migrations from an empty database, then the seed, before gunicorn listened.
        assert "Running upgrade  -> 0001" in log, log[-3000:]
        assert log.index("seeded bank.yaml") < log.index("Listening at"), log[-3000:]
        assert f"seeded bank.yaml: created {SEED_QUESTIONS}" in log, log[-3000:]

        # exec: the process the container started is gunicorn's master itself, and its
        # workers are the number configured.
        cmdline = Path(f"/proc/{boot.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(b"gunicorn" in part for part in cmdline), cmdline
        assert f"Listening at: http://127.0.0.1:{boot.port} ({boot.proc.pid})" in log
        assert len(children(boot.proc.pid)) == WORKERS
        assert "Using worker: api.platform.serving.ProblemWorker" in log, log[-3000:]

        assert call("GET", f"{boot.base}/readyz")[0] == 200
        status, page = call("GET", f"{boot.base}/api/v1/questions?per_page=5")
        assert status == 200 and page["meta"]["total"] == SEED_QUESTIONS

        # Both preloaded workers read and write on connections of their own: concurrent
        # reads and attempts all succeed (a connection shared across the fork would
        # corrupt the protocol and fail some of them).
        status, account = call(
            "POST",
            f"{boot.base}/api/v1/auth/register",
            body={"email": f"boot-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
        )
        assert status == 201, account
        token = account["access_token"]
        ids = [q["id"] for q in page["data"]]

        def one(i: int) -> int:
            if i % 4 == 0:
                url = f"{boot.base}/api/v1/questions/{ids[i % len(ids)]}/attempts"
                return call("POST", url, token=token, body={"self_rating": "good"})[0]
            return call("GET", f"{boot.base}/api/v1/questions?per_page=3&page={i % 9 + 1}")[0]

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(120)))
        assert {s for i, s in enumerate(statuses) if i % 4 == 0} == {201}, statuses
        assert {s for i, s in enumerate(statuses) if i % 4} == {200}, statuses

        # Sessions are revoked in Redis (REDIS_URL), as compose.yaml runs it.
        status, _ = call("POST", f"{boot.base}/api/v1/auth/logout", token=token)
        assert status in (200, 204)
        import redis as redis_client

        client = redis_client.Redis.from_url(redis.url)
        try:
            assert client.keys("qbank:revoked:*"), "logout wrote nothing to Redis"
        finally:
            client.close()
        assert call("GET", f"{boot.base}/api/v1/me", token=token)[0] == 401
    finally:
        code = boot.stop()
    log = boot.log()
    assert code == 0, log[-3000:]
    assert "Handling signal: term" in log and "Shutting down: Master" in log, log[-3000:]
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log, log[-3000:]

    # A restart on the same database (a container restart) migrates nothing and changes
    # nothing in the bank, and serves again.
    again = Boot(boot_env, tmp_path / "boot-2.log")
    try:
        again.wait_until_serving()
        log = again.log()
        assert "Running upgrade" not in log, log[-3000:]
        assert f"created 0, updated 0, unchanged {SEED_QUESTIONS}" in log, log[-3000:]
        status, page = call("GET", f"{again.base}/api/v1/questions?per_page=1")
        assert status == 200 and page["meta"]["total"] == SEED_QUESTIONS
    finally:
        assert again.stop() == 0, again.log()[-3000:]


def test_boot_stops_before_serving_when_the_database_cannot_be_migrated(tmp_path):
    """A database that cannot be reached fails the start (set -e), rather than serving."""
    env = app_env(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none", tmp_path)
    proc = subprocess.run(
        ["sh", "boot.sh"],
        cwd=ROOT,
        env=dict(env, BIND=f"127.0.0.1:{free_port()}"),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert "Listening at" not in proc.stdout + proc.stderr
