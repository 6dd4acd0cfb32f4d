"""Headless Debian Chromium driven over chromedriver's W3C WebDriver HTTP API (urllib only)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.live import free_port, terminate

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_LOCK = Path("/tmp/qbank-apt.lock")
APT_TIMEOUT = 900  # seconds for each apt-get step

# Root in CI: Chromium's sandbox needs user namespaces it may not get, hence --no-sandbox.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _installed() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def ensure_chromium() -> None:
    """Debian's chromium and chromium-driver, installed with apt-get when missing (root only)."""
    if _installed():
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: run "
            "`apt-get install chromium chromium-driver` as root (CI installs them itself)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time across parallel runs
        try:
            if _installed():
                return
            for command in (
                ["apt-get", "update"],
                [
                    "apt-get",
                    "install",
                    "-y",
                    "--no-install-recommends",
                    "chromium",
                    "chromium-driver",
                ],
            ):
                result = subprocess.run(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=APT_TIMEOUT,
                )
                if result.returncode != 0:
                    raise RuntimeError(
                        f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n"
                        f"{result.stderr[-3000:]}"
                    )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not _installed():
        raise RuntimeError(
            f"apt-get installed chromium, yet {CHROMIUM} or {CHROMEDRIVER} is missing"
        )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """Serve DIRECTORY on a free loopback port in a thread; yields the origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(directory)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One WebDriver session: navigate, run a script, read what the page left for us."""

    def __init__(self, endpoint: str, session_id: str) -> None:
        self.endpoint = endpoint
        self.session = f"{endpoint}/session/{session_id}"

    def get(self, url: str) -> None:
        _call("POST", f"{self.session}/url", {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        return _call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, expression: str, *, timeout: float = 60) -> Any:
        """Poll a JS expression until it is neither null nor undefined; bounded by TIMEOUT."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.execute(f"return ({expression}) ?? null;")
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still unset after {timeout} s")
            time.sleep(0.1)


def _call(method: str, url: str, body: dict | None = None, *, timeout: float = 60) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        with exc:
            detail = exc.read().decode(errors="replace")
        raise WebDriverError(f"{method} {url}: {exc.code} {detail[:2000]}") from None
    return payload.get("value")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium through a private chromedriver on loopback; all cleaned up after."""
    ensure_chromium()
    profile = Path(tempfile.mkdtemp(prefix="qbank-chromium-"))
    port = free_port()
    log = open(profile.parent / f"{profile.name}-chromedriver.log", "w+")  # noqa: SIM115
    driver = subprocess.Popen(
        [str(CHROMEDRIVER), f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: Chromium and helpers go with it
    )
    endpoint = f"http://127.0.0.1:{port}"
    session_id = None
    try:
        deadline = time.monotonic() + 30
        while True:
            if driver.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"chromedriver exited:\n{log.read()[-4000:]}")
            try:
                if _call("GET", f"{endpoint}/status", timeout=2).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromedriver not ready within 30 s")
            time.sleep(0.1)
        options = {
            "binary": str(CHROMIUM),
            "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile / 'profile'}"],
        }
        created = _call(
            "POST",
            f"{endpoint}/session",
            {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
            timeout=90,
        )
        session_id = created["sessionId"]
        browser = Browser(endpoint, session_id)
        _call("POST", f"{browser.session}/timeouts", {"script": 30_000, "pageLoad": 30_000})
        yield browser
    finally:
        if session_id is not None:
            try:
                _call("DELETE", f"{endpoint}/session/{session_id}", timeout=30)
            except (OSError, WebDriverError):
                pass
        terminate(driver, grace=15)
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # any Chromium left in the driver's group
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
        Path(log.name).unlink(missing_ok=True)
