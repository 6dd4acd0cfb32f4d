"""`make bench`: the API under wrk on loopback, beside a bare-Flask baseline.

For each backend (SQLite file, throwaway PostgreSQL) and each bank size, a fresh database
is migrated (`flask db upgrade`) and filled (bench/data.py); then every endpoint is run
under wrk against the app served by gunicorn (gunicorn.conf.py, 2 sync workers), and
right after against bench/baseline.py served the same way with a body of the size the app
answered. One server runs at a time; each is started for one endpoint and stopped after.
See bench/README.md for what is measured and the settings (BENCH_* variables).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "wrk.lua"
API = "/api/v1"
APT_LOCK = Path("/tmp/qbank-apt.lock")  # the lock tests/servers.py takes for apt-get too
MB = 1024 * 1024


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


QUICK = os.environ.get("BENCH_QUICK", "") == "1"
DURATION = _env_int("BENCH_DURATION", 3 if QUICK else 8)  # seconds per wrk run
# Every endpoint is run this many times on each bank, in rounds (all of them once, then
# again), and the table keeps the best; see `best_of`.
ROUNDS = max(1, _env_int("BENCH_ROUNDS", 1 if QUICK else 2))
WARMUP = _env_int("BENCH_WARMUP", 1)  # seconds of wrk before each measured run
THREADS = _env_int("BENCH_THREADS", 2)
CONNECTIONS = _env_int("BENCH_CONNECTIONS", 16)
WORKERS = _env_int("BENCH_WORKERS", 2)
LEARNERS = _env_int("BENCH_LEARNERS", 1000)
ATTEMPTS = _env_int("BENCH_ATTEMPTS", 20_000 if QUICK else 200_000)
SIZES = [
    int(s)
    for s in os.environ.get("BENCH_SIZES", "1000" if QUICK else "1000,10000,100000").split(",")
    if s.strip()
]
BACKENDS = [
    b.strip() for b in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]
ENDPOINTS_ENV = os.environ.get("BENCH_ENDPOINTS", "")
# Past this the remaining (backend, size) combinations are skipped and reported as such.
MAX_MINUTES = _env_int("BENCH_MAX_MINUTES", 80)
RATE_LIMIT = "1000000/minute"
ONE_QUESTION_IDS = 1000

SEARCHES = [
    "session cookie",
    "blueprint",
    "jinja template",
    "databa",
    "token header",
    "gunicorn worker",
    "celery task queue",
    "csrf",
    "migration schema",
    "redis cache",
    "how does the request context work",
    "websocket stream",
]


# --------------------------------------------------------------------------- tools


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url: str, instance_dir: Path, **extra: str) -> dict[str, str]:
    """The app's environment: development config, this database, writes not rate limited."""
    drop = ("QBANK_", "DATABASE_", "BENCH_", "REDIS_URL", "ACCESS_LOG", "GUNICORN_", "FLASK_DEBUG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        DATABASE_URL=database_url,
        QBANK_ENV="development",
        QBANK_INSTANCE_DIR=str(instance_dir),
        RATELIMIT_WRITES=RATE_LIMIT,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def run_python(env: dict[str, str], *args: str, timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


# --------------------------------------------------------------------------- servers


def worker_pids(master: int) -> list[int]:
    """Children of the gunicorn master (scans /proc: no /proc/<pid>/task/*/children here)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == master:
            pids.append(int(entry))
    return pids


def vm_hwm(pid: int) -> int | None:
    """Peak resident set size of a process, in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class WorkerSampler:
    """Peak RSS and CPU time of each worker, sampled from /proc while wrk runs and after.

    Sampling during the run catches workers that gunicorn recycles (max_requests) before
    they exit. CPU time is counted from the first sample of each worker (0 for one that
    started during the run, so its boot is included); the last 0.5 s of a worker that
    exits mid-run is lost.
    """

    def __init__(self, master: int, interval: float = 0.5) -> None:
        self.master = master
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in worker_pids(self.master):
            hwm = vm_hwm(pid)
            cpu = cpu_seconds(pid)
            if hwm is not None:
                self.peaks[pid] = max(hwm, self.peaks.get(pid, 0))
            if cpu is not None:
                self.cpu_first.setdefault(pid, cpu if not self._started else 0.0)
                self.cpu_last[pid] = cpu

    @property
    def cpu(self) -> float:
        return sum(self.cpu_last[pid] - self.cpu_first[pid] for pid in self.cpu_last)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> WorkerSampler:
        self.sample()
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


@dataclass
class Server:
    base: str
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path, ready_path: str) -> Iterator[Server]:
    """gunicorn with the project's config file, WORKERS workers, on a free loopback port."""
    port = free_port()
    env = dict(env, BIND=f"127.0.0.1:{port}", WORKERS=str(WORKERS))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), app],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn {app} exited:\n{tail(log)}")
            try:
                with urllib.request.urlopen(server.base + ready_path, timeout=5) as response:
                    if response.status < 300 and len(worker_pids(proc.pid)) >= WORKERS:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {app} not ready within 90 s:\n{tail(log)}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


# --------------------------------------------------------------------------- endpoints


@dataclass
class Endpoint:
    name: str
    paths: list[str]
    status: int
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    needs_token: bool = False
    # Extra environment for the app's server (the baseline is unaffected).
    env: dict[str, str] = field(default_factory=dict)


ENDPOINT_NAMES = [
    "questions page",
    "search",
    "search uncached",
    "random",
    "one question",
    "304 revalidation",
    "post attempt",
]


# BENCH_ENDPOINTS="search,post attempt" runs only those (development).
ENDPOINTS_RUN = [
    name
    for name in ENDPOINT_NAMES
    if not ENDPOINTS_ENV or name in {e.strip() for e in ENDPOINTS_ENV.split(",")}
]


def endpoints(max_id: int) -> list[Endpoint]:
    rng = random.Random(11)
    ids = [rng.randint(1, max_id) for _ in range(2000)]
    # One question: the same number of distinct ids at every bank size (all of the 1,000
    # bank), so that each size renders as many first reads before serving from the cache.
    distinct = rng.sample(range(1, max_id + 1), min(ONE_QUESTION_IDS, max_id))
    page = f"{API}/questions?page=1&per_page=20"
    return [
        Endpoint("questions page", [page], 200),
        Endpoint(
            "search",
            [f"{API}/questions?q={urllib.parse.quote(q)}" for q in SEARCHES],
            200,
        ),
        # The same searches with the response cache off: every request runs the query.
        Endpoint(
            "search uncached",
            [f"{API}/questions?q={urllib.parse.quote(q)}" for q in SEARCHES],
            200,
            env={"RESPONSE_CACHE_MAX_BYTES": "0"},
        ),
        Endpoint("random", [f"{API}/questions/random?count=10"], 200),
        Endpoint("one question", [f"{API}/questions/{i}" for i in distinct], 200),
        # If-None-Match is filled in from a first GET of the page (preflight).
        Endpoint("304 revalidation", [page], 304),
        Endpoint(
            "post attempt",
            [f"{API}/questions/{i}/attempts" for i in ids],
            201,
            method="POST",
            body=json.dumps({"self_rating": "good"}),
            needs_token=True,
        ),
    ]


def fetch(url: str, *, method: str, body: str, headers: dict[str, str]) -> tuple[int, bytes, dict]:
    data = body.encode() if body else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    if data:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def preflight(server: Server, ep: Endpoint) -> tuple[int, str]:
    """Check the app answers as expected; returns the mean body size and the ETag (for 304)."""
    sizes = []
    etag = ""
    for path in ep.paths[:5]:
        status, body, headers = fetch(
            server.base + path, method=ep.method, body=ep.body, headers=ep.headers
        )
        expected = 200 if ep.status == 304 else ep.status
        if status != expected:
            raise RuntimeError(f"{ep.name}: {ep.method} {path} answered {status}: {body[:500]!r}")
        sizes.append(len(body))
        etag = etag or headers.get("ETag", "")
    if ep.status == 304:
        if not etag:
            raise RuntimeError(f"{ep.name}: no ETag on {ep.paths[0]}")
        headers = {**ep.headers, "If-None-Match": etag}
        status, _, _ = fetch(server.base + ep.paths[0], method="GET", body="", headers=headers)
        if status != 304:
            raise RuntimeError(f"{ep.name}: If-None-Match {etag} answered {status}, not 304")
    return round(sum(sizes) / len(sizes)), etag


# --------------------------------------------------------------------------- wrk

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
    paths_file.write_text("\n".join(ep.paths) + "\n")
    env = dict(
        os.environ,
        BENCH_PATHS=str(paths_file),
        BENCH_METHOD=ep.method,
        BENCH_BODY=ep.body,
        BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in ep.headers.items()),
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


def measure(wrk: str, server: Server, ep: Endpoint, workdir: Path) -> tuple[WrkResult, dict]:
    if WARMUP > 0:
        run_wrk(wrk, server, ep, WARMUP, workdir)
    with WorkerSampler(server.pid) as workers:
        result = run_wrk(wrk, server, ep, DURATION, workdir)
    peaks = workers.peaks
    return result, {
        "peak_rss_mb": round(max(peaks.values()) / MB, 1) if peaks else None,
        "workers_seen": len(peaks),
        "cpu_ms": round(workers.cpu * 1000 / result.requests, 2) if result.requests else None,
    }


# --------------------------------------------------------------------------- databases


@dataclass
class Row:
    backend: str
    size: int
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    base_rps: float
    base_p50_ms: float
    base_p99_ms: float
    ratio: float
    peak_rss_mb: float | None
    base_peak_rss_mb: float | None
    cpu_ms: float | None  # worker CPU time per request, both workers together
    base_cpu_ms: float | None
    body_bytes: int
    requests: int
    notes: str
    load1: float
    rps_rounds: list[float] = field(default_factory=list)  # the app's req/s in each round


@contextlib.contextmanager
def databases(backend: str) -> Iterator:
    """Yields make(size) -> context manager of a fresh, empty database URL."""
    if backend == "sqlite":

        @contextlib.contextmanager
        def make(size: int, workdir: Path) -> Iterator[str]:
            yield f"sqlite:///{workdir / 'bench.sqlite3'}"

        yield make
        return
    if backend != "postgresql":
        raise SystemExit(f"unknown backend {backend!r} (sqlite, postgresql)")
    import psycopg

    from tests.servers import postgres_server

    with postgres_server() as pg:
        admin = f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres"

        @contextlib.contextmanager
        def make(size: int, workdir: Path) -> Iterator[str]:
            name = f"bench_{size}"
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                yield f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{name}"
            finally:
                with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        yield make


@dataclass
class Bank:
    backend: str
    size: int
    env: dict[str, str]
    workdir: Path
    info: dict
    endpoints: dict[str, Endpoint]


def prepare_bank(backend: str, size: int, url: str, workdir: Path) -> Bank:
    """Migrate the empty database and fill it (bench/data.py)."""
    env = app_env(url, workdir)
    started = time.monotonic()
    run_python(env, "-m", "flask", "--app", "api", "db", "upgrade", timeout=300)
    populate = [
        *("-m", "bench.data", "populate", "--questions", str(size)),
        *("--learners", str(LEARNERS), "--attempts", str(ATTEMPTS)),
    ]
    info = json.loads(run_python(env, *populate, timeout=1800).strip().splitlines()[-1])
    print(
        f"bench: {backend} {size}: data in {time.monotonic() - started:.0f}s "
        f"({info['questions']} questions, {info['learners']} learners, "
        f"{info['attempts']} attempts, {info['review_states']} review states)",
        flush=True,
    )
    eps = {ep.name: ep for ep in endpoints(info["max_question_id"])}
    return Bank(backend, size, env, workdir, info, eps)


def run_bank_endpoint(wrk: str, bank: Bank, name: str) -> Row:
    ep = bank.endpoints[name]
    if ep.needs_token:  # minted just before use: access tokens live 15 minutes
        learner = str(bank.info["learner_ids"][0])
        token = run_python(bank.env, "-m", "bench.data", "token", "--user-id", learner, timeout=120)
        ep.headers["Authorization"] = f"Bearer {token.strip()}"
    return bench_endpoint(wrk, bank.backend, bank.size, ep, bank.env, bank.workdir)


def bench_endpoint(
    wrk: str, backend: str, size: int, ep: Endpoint, env: dict[str, str], workdir: Path
) -> Row:
    """The app, then the baseline with a body of the app's size, each under wrk."""
    load1 = os.getloadavg()[0]
    slug = ep.name.replace(" ", "-").replace(",", "")
    app_env = dict(env, **ep.env)
    # A new server each round: its ETag is asked for again by a plain first GET.
    ep.headers.pop("If-None-Match", None)
    with gunicorn("api:create_app()", app_env, workdir / f"app-{slug}.log", "/healthz") as app:
        body_bytes, etag = preflight(app, ep)
        if ep.status == 304:
            ep.headers["If-None-Match"] = etag
        result, memory = measure(wrk, app, ep, workdir)
    base_env = dict(
        env,
        BENCH_BODY_BYTES=str(body_bytes),
        BENCH_STATUS=str(200 if ep.status == 304 else ep.status),
        BENCH_ETAG=etag if ep.status == 304 else "",
    )
    base_log = workdir / f"base-{slug}.log"
    with gunicorn("bench.baseline:create_app()", base_env, base_log, "/healthz") as base:
        base_result, base_memory = measure(wrk, base, ep, workdir)
    notes = []
    if result.errors or result.bad_status:
        notes.append(f"{result.bad_status} bad status, {result.errors} socket errors")
    if memory["workers_seen"] > WORKERS:
        notes.append(f"{memory['workers_seen'] - WORKERS} worker restarts (max_requests)")
    if base_result.errors or base_result.bad_status:
        notes.append(f"baseline: {base_result.bad_status + base_result.errors} errors")
    row = Row(
        backend=backend,
        size=size,
        endpoint=ep.name,
        rps=round(result.rps, 1),
        p50_ms=round(result.p50_ms, 2),
        p99_ms=round(result.p99_ms, 2),
        base_rps=round(base_result.rps, 1),
        base_p50_ms=round(base_result.p50_ms, 2),
        base_p99_ms=round(base_result.p99_ms, 2),
        ratio=round(result.rps / base_result.rps, 3) if base_result.rps else 0.0,
        peak_rss_mb=memory["peak_rss_mb"],
        base_peak_rss_mb=base_memory["peak_rss_mb"],
        cpu_ms=memory["cpu_ms"],
        base_cpu_ms=base_memory["cpu_ms"],
        body_bytes=body_bytes,
        requests=result.requests,
        notes="; ".join(notes),
        load1=round(load1, 2),
    )
    print(
        f"bench: {backend} {size} {ep.name}: {row.rps} req/s p50 {row.p50_ms} ms "
        f"p99 {row.p99_ms} ms | baseline {row.base_rps} req/s | ratio {row.ratio} | "
        f"cpu {row.cpu_ms} vs {row.base_cpu_ms} ms/req | rss {row.peak_rss_mb} MB | "
        f"load {row.load1} {row.notes}",
        flush=True,
    )
    return row


# --------------------------------------------------------------------------- report


def _num(value: float | None, fmt: str) -> str:
    return "?" if value is None else format(value, fmt)


def table(rows: list[Row]) -> str:
    head = (
        "| backend | questions | endpoint | req/s | p50 ms | p99 ms | baseline req/s | ratio "
        "| peak RSS MB/worker | CPU ms/req | baseline CPU ms/req | body B | req/s by round "
        "| notes |\n"
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | --- |\n"
    )
    lines = [
        f"| {r.backend} | {r.size:,} | {r.endpoint} | {r.rps:,.0f} | {r.p50_ms:.1f} "
        f"| {r.p99_ms:.1f} | {r.base_rps:,.0f} | {r.ratio:.2f} | {_num(r.peak_rss_mb, '.1f')} "
        f"| {_num(r.cpu_ms, '.2f')} | {_num(r.base_cpu_ms, '.2f')} | {r.body_bytes:,} "
        f"| {' / '.join(f'{v:,.0f}' for v in r.rps_rounds) or f'{r.rps:,.0f}'} | {r.notes} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def targets(rows: list[Row]) -> list[tuple[bool | str | None, str]]:
    """Each target with PASS/FAIL and its numbers, at the largest bank that was run."""
    out: list[tuple[bool | str | None, str]] = []

    def find(backend: str, size: int, endpoint: str) -> Row | None:
        for r in rows:
            if (r.backend, r.size, r.endpoint) == (backend, size, endpoint):
                return r
        return None

    for backend in BACKENDS:
        sizes = sorted({r.size for r in rows if r.backend == backend})
        if not sizes:
            out.append((None, f"{backend}: no results"))
            continue
        big, small = sizes[-1], sizes[0]
        for name, label, target in (
            ("questions page", "questions page", 0.5),
            ("304 revalidation", "304", 0.8),
        ):
            row = find(backend, big, name)
            if row:
                out.append(
                    (
                        row.ratio >= target,
                        f"{backend} {big:,}: {label} at {row.ratio:.2f} of the baseline's req/s "
                        f"({row.rps:,.0f} vs {row.base_rps:,.0f}); target >= {target}",
                    )
                )
        search = find(backend, 100_000, "search")
        if search:
            out.append(
                (
                    search.p99_ms < 50,
                    f"{backend} 100,000: search: p99 {search.p99_ms:.1f} ms "
                    f"(p50 {search.p50_ms:.1f} ms); target < 50 ms",
                )
            )
        else:
            out.append((None, f"{backend}: search p99 target needs the 100,000 bank"))
        # Not a target: what a search costs the first time its words are asked for (with
        # the response cache off every request runs the full-text query). Shown beside
        # the target so that nobody reads the cached figure as the cost of the query.
        cold = find(backend, 100_000, "search uncached")
        if cold:
            out.append(
                (
                    "info",
                    f"{backend} 100,000: search uncached (not a target; each search a first "
                    f"search): p99 {cold.p99_ms:.1f} ms (p50 {cold.p50_ms:.1f} ms), "
                    f"{'under' if cold.p99_ms < 50 else 'over'} 50 ms",
                )
            )
        if backend == "postgresql":
            post = find(backend, big, "post attempt")
            if post:
                out.append(
                    (
                        post.rps >= 300,
                        f"postgresql {big:,}: {post.rps:,.0f} attempts/s with {WORKERS} "
                        "workers; target >= 300",
                    )
                )
        if big == small or big < 100_000 or small > 1000:
            out.append((None, f"{backend}: growth target needs both 1,000 and 100,000 banks"))
            continue
        worst = []
        for r in rows:
            if r.backend != backend or r.size != big:
                continue
            first = find(backend, small, r.endpoint)
            if first and first.p50_ms > 0:
                cpu = ""
                if first.cpu_ms and r.cpu_ms:
                    cpu = f", CPU/req x{r.cpu_ms / first.cpu_ms:.2f}"
                worst.append((r.p50_ms / first.p50_ms, r.endpoint, first.p50_ms, r.p50_ms, cpu))
        worst.sort(reverse=True)
        # The uncached search is shown for what a first search costs; the issue's endpoints
        # (the others) are the ones the target is judged on.
        bad = [w for w in worst if w[0] > 1.5 and w[1] != "search uncached"]
        detail = ", ".join(
            f"{name} {a:.1f} -> {b:.1f} ms (x{f:.2f}{cpu})" for f, name, a, b, cpu in worst
        )
        out.append(
            (
                not bad,
                f"{backend}: p50 latency at {big:,} vs {small:,} questions, worst first: "
                f"{detail}; target <= x1.5 for every endpoint but `search uncached`",
            )
        )
    return out


def report(rows: list[Row], meta: dict, skipped: list[str]) -> str:
    verdicts = targets(rows)
    marks = {True: "PASS", False: "FAIL", None: "n/a", "info": "info"}
    lines = [
        "# Benchmark results",
        "",
        f"- run: {meta['started']} to {meta['finished']} ({meta['minutes']:.1f} min), "
        f"{meta['cpus']} CPUs, load average {meta['load_start']} at start, "
        f"{meta['load_end']} at end (other work on the machine shares the CPUs)",
        f"- wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s (+{WARMUP}s warm-up) per run; "
        f"gunicorn.conf.py, {WORKERS} sync workers; one server at a time on 127.0.0.1",
        f"- {ROUNDS} round(s): every endpoint on every bank, then all of it again; a row keeps "
        "the app's best round by req/s (its latencies and CPU with it) and the baseline's "
        "best round, since other load only ever slows a run down; peak RSS is the highest "
        "of the rounds; `req/s by round` shows the app's rounds",
        f"- data: generated bank of N questions, {LEARNERS:,} learners, {ATTEMPTS:,} attempts "
        "(the same learners and attempts at every N); writes rate limit raised to "
        f"{RATE_LIMIT}",
        "- ratio: the app's req/s over the baseline's (bare Flask, same gunicorn settings, "
        "a JSON body of the size the app answered; for the 304, the baseline revalidates "
        "the same ETag)",
        "- peak RSS: highest VmHWM of any worker during the endpoint's run (server started "
        "per endpoint); CPU ms/req: the workers' CPU time over the requests served, which "
        "depends less on other load than req/s does",
        "- sizes are interleaved per endpoint (1,000, 10,000, 100,000, then the next "
        "endpoint), so each comparison across sizes is made within minutes",
    ]
    if QUICK:
        lines.append("- BENCH_QUICK=1: development run, not a measurement")
    lines += ["", table(rows), "## Targets", ""]
    lines += [f"- **{marks[ok]}** {text}" for ok, text in verdicts]
    if skipped:
        lines += ["", "## Not run", ""] + [f"- {s}" for s in skipped]
    return "\n".join(lines) + "\n"


def bench_backend(wrk: str, backend: str, deadline: float, skipped: list[str]) -> list[Row]:
    """Fill every bank first, then run each endpoint on the banks one after the other.

    Sizes are interleaved per endpoint so that the comparison across sizes, like the one
    with the baseline, is made within a minute or two, under the same machine load.
    """
    rows: list[Row] = []
    with databases(backend) as make, contextlib.ExitStack() as stack:
        banks: list[Bank] = []
        for size in SIZES:
            workdir = Path(tempfile.mkdtemp(prefix=f"qbank-bench-{backend}-{size}-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            try:
                url = stack.enter_context(make(size, workdir))
                banks.append(prepare_bank(backend, size, url, workdir))
            except Exception as exc:  # the other banks still run; the report says why
                skipped.append(f"{backend} {size:,}: {type(exc).__name__}: {exc}"[:2000])
                print(f"bench: {backend} {size} FAILED: {exc}", file=sys.stderr, flush=True)
        for round_no in range(1, ROUNDS + 1):
            for name in ENDPOINTS_RUN:
                for bank in banks:
                    where = f"{backend} {bank.size:,} {name} (round {round_no})"
                    if time.monotonic() > deadline:
                        skipped.append(f"{where}: time budget spent")
                        continue
                    try:
                        rows.append(run_bank_endpoint(wrk, bank, name))
                    except Exception as exc:
                        skipped.append(f"{where}: {type(exc).__name__}: {exc}"[:2000])
                        print(f"bench: {where} FAILED: {exc}", file=sys.stderr, flush=True)
    order = {name: i for i, name in enumerate(ENDPOINT_NAMES)}
    kept = best_of(rows)
    kept.sort(key=lambda r: (r.size, order[r.endpoint]))
    return kept


def best_of(rows: list[Row]) -> list[Row]:
    """One row per (backend, size, endpoint): the best of its rounds.

    Other work on the machine can only slow a run down, so the least disturbed run is the
    better estimate of what the code costs: the app's run with the most requests/s (its
    latencies and CPU come with it), and the baseline's best run, whichever round it was
    in. Peak memory is the highest of all rounds; `rps_rounds` lists every round's.
    """
    groups: dict[tuple[str, int, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.backend, row.size, row.endpoint), []).append(row)
    kept = []
    for group in groups.values():
        app = max(group, key=lambda r: r.rps)
        base = max(group, key=lambda r: r.base_rps)
        peaks = [r.peak_rss_mb for r in group if r.peak_rss_mb is not None]
        notes = sorted({r.notes for r in group if r.notes})
        kept.append(
            replace(
                app,
                base_rps=base.base_rps,
                base_p50_ms=base.base_p50_ms,
                base_p99_ms=base.base_p99_ms,
                base_cpu_ms=base.base_cpu_ms,
                base_peak_rss_mb=base.base_peak_rss_mb,
                ratio=round(app.rps / base.base_rps, 3) if base.base_rps else 0.0,
                peak_rss_mb=max(peaks) if peaks else None,
                notes="; ".join(notes),
                rps_rounds=[r.rps for r in group],
            )
        )
    return kept


def main() -> int:
    wrk = ensure_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    clock = time.monotonic()
    load_start = round(os.getloadavg()[0], 2)
    print(
        f"bench: backends {BACKENDS}, sizes {SIZES}, {DURATION}s per run, "
        f"load average {load_start}",
        flush=True,
    )
    rows: list[Row] = []
    skipped: list[str] = []
    deadline = clock + MAX_MINUTES * 60
    for backend in BACKENDS:
        if time.monotonic() > deadline:
            skipped.append(f"{backend}: time budget BENCH_MAX_MINUTES={MAX_MINUTES} spent")
            continue
        rows += bench_backend(wrk, backend, deadline, skipped)
    meta = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "finished": datetime.now(UTC).strftime("%H:%M UTC"),
        "minutes": (time.monotonic() - clock) / 60,
        "cpus": os.cpu_count(),
        "load_start": load_start,
        "load_end": round(os.getloadavg()[0], 2),
    }
    text = report(rows, meta, skipped)
    print("\n" + text)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=1) + "\n"
    )
    return 1 if skipped and not rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
