"""wrk: installed when missing, run against one server, its Lua report parsed."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.endpoints import Endpoint
from bench.settings import APT_LOCK, CONNECTIONS, LUA, THREADS
from tests.support.live import Server


def ensure_wrk() -> str:
    """Debian's wrk, installed with apt-get (as root, non-interactive) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed and this is not root: apt-get install -y wrk")
    print("bench: installing wrk with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    opts = ["-o", "DPkg::Lock::Timeout=300"]
    with open(APT_LOCK, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if not shutil.which("wrk"):
                for cmd in (
                    ["apt-get", *opts, "update"],
                    ["apt-get", *opts, "install", "-y", "--no-install-recommends", "wrk"],
                ):
                    subprocess.run(
                        cmd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        timeout=900,
                        check=False,
                    )
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get could not install wrk")
    return found


_BENCH_JSON = re.compile(r"^BENCH_JSON (\{.*\})$", re.MULTILINE)


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int  # socket errors and timeouts
    bad_status: int  # answers that were not 2xx or 3xx
    raw: str = ""


def run_wrk(wrk: str, server: Server, ep: Endpoint, duration: int, workdir: Path) -> WrkResult:
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(ep.lines()) + "\n")
    env = dict(
        os.environ,
        BENCH_PATHS=str(paths_file),
        BENCH_METHOD=ep.method,
        BENCH_BODY=ep.body,
        BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in ep.headers.items()),
        # Keys of this wrk run: its prefix is new, so no key repeats one of an earlier run.
        BENCH_IDEMPOTENCY_PREFIX=uuid.uuid4().hex if ep.idempotency else "",
    )
    cmd = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        server.base,
    ]
    result = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        stdin=subprocess.DEVNULL,
    )
    match = _BENCH_JSON.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        requests=data["requests"],
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        bad_status=data["status"],
        raw=result.stdout,
    )
