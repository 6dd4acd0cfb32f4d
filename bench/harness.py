"""`make bench`'s harness: fresh databases filled with data, then each endpoint under wrk
against the app and against the bare-Flask baseline, one gunicorn at a time."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.endpoints import ENDPOINT_NAMES, ENDPOINTS_RUN, Endpoint, endpoints, preflight
from bench.report import Row, best_of
from bench.settings import (
    ATTEMPTS,
    ATTEMPTS_PER_DAY,
    DURATION,
    LEARNERS,
    MAX_MINUTES,
    MB,
    OPEN_QUESTIONS,
    RATE_LIMIT,
    ROOT,
    ROUNDS,
    SIZES,
    TOKEN_LEARNERS,
    WARMUP,
    WORKERS,
)
from bench.workers import WorkerSampler
from bench.wrk import WrkResult, run_wrk
from tests.support.live import Server, app_env, serve


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


DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


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

    from tests.support.servers import postgres_server

    # Durable, as a production server: a commit returns once its WAL is flushed to disk
    # (the test suite's clusters run with all three off, for speed).
    with postgres_server(durable=True) as pg:
        admin = f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            for setting in DURABILITY:
                value = conn.execute(f"SHOW {setting}").fetchone()[0]
                if value != "on":
                    raise SystemExit(f"bench: PostgreSQL runs with {setting}={value}, not on")
        print(f"bench: postgresql with {', '.join(f'{s}=on' for s in DURABILITY)}", flush=True)

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


def _data(env: dict[str, str], *args: str, timeout: float) -> dict:
    """Run a `bench.data` command; what it printed last, one JSON line."""
    output = run_python(env, "-m", "bench.data", *args, timeout=timeout)
    return json.loads(output.strip().splitlines()[-1])


def prepare_bank(backend: str, size: int, url: str, workdir: Path) -> Bank:
    """Migrate the empty database, fill it (bench/data.py), mint the learners' tokens."""
    # The daily attempt quota is checked on every attempt, as in production, but raised
    # far above what a learner posts in a run; writes are not rate-limited.
    env = app_env(
        url,
        workdir,
        RATELIMIT_WRITES=RATE_LIMIT,
        ATTEMPTS_PER_DAY=str(ATTEMPTS_PER_DAY),
        PYTHONPATH=str(ROOT),
    )
    started = time.monotonic()
    run_python(env, "-m", "flask", "--app", "api", "db", "upgrade", timeout=300)
    populate = [
        *("populate", "--questions", str(size)),
        *("--learners", str(LEARNERS), "--attempts", str(ATTEMPTS)),
    ]
    info = _data(env, *populate, timeout=1800)
    print(
        f"bench: {backend} {size}: data in {time.monotonic() - started:.0f}s "
        f"({info['questions']} questions, {info['learners']} learners, "
        f"{info['attempts']} attempts, {info['review_states']} review states)",
        flush=True,
    )
    # Access tokens of many learners, minted once per bank: in this process only, they
    # live past the run's time budget (the servers check each token's own expiry).
    out = workdir / "learners.json"
    mint_env = dict(env, JWT_ACCESS_TOKEN_SECONDS=str((MAX_MINUTES + 60) * 60))
    mint = [
        *("learners", "--learners", str(TOKEN_LEARNERS)),
        *("--questions", str(OPEN_QUESTIONS), "--out", str(out)),
    ]
    counts = _data(mint_env, *mint, timeout=300)
    print(
        f"bench: {backend} {size}: {counts['learners']} learners' tokens, "
        f"{counts['questions']} of {counts['open_with_key_points']} open questions with key "
        f"points ({counts['open_total']} open)",
        flush=True,
    )
    info["open_with_key_points"] = counts["open_with_key_points"]
    eps = {ep.name: ep for ep in endpoints(info["max_question_id"], json.loads(out.read_text()))}
    return Bank(backend, size, env, workdir, info, eps)


def run_bank_endpoint(wrk: str, bank: Bank, name: str) -> Row:
    return bench_endpoint(
        wrk, bank.backend, bank.size, bank.endpoints[name], bank.env, bank.workdir
    )


def bench_endpoint(
    wrk: str, backend: str, size: int, ep: Endpoint, env: dict[str, str], workdir: Path
) -> Row:
    """The app, then the baseline with a body of the app's size, each under wrk."""
    load1 = os.getloadavg()[0]
    slug = ep.name.replace(" ", "-").replace(",", "")
    app_env = dict(env, **ep.env)
    # A new server each round: its ETag is asked for again by a plain first GET.
    ep.headers.pop("If-None-Match", None)
    with serve(
        app_env, workers=WORKERS, config=True, log_path=workdir / f"app-{slug}.log", timeout=90
    ) as app:
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
    with serve(
        base_env,
        app="bench.baseline:create_app()",
        workers=WORKERS,
        config=True,
        log_path=base_log,
        timeout=90,
    ) as base:
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
