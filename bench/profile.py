"""Where each benchmark row's time goes: `make profile` (in process; no wrk, no gunicorn).

For each backend, a bank is built as `make bench` builds it (bench/harness.py
`prepare_bank`, PROFILE_SIZE questions, 100,000 by default), then a child process serves
every row's requests (bench/endpoints.py) through Flask's test client, PROFILE_REQUESTS
times each after a warm-up, and measures per request:

- CPU: the process's CPU time (on SQLite this includes the database's own work, which
  runs in the process; on PostgreSQL the server's work is not in it);
- wall: elapsed time (on PostgreSQL it includes waiting for the server);
- statements and driver time: what went through the engine's cursor (SQLAlchemy's
  before/after_cursor_execute events), the time inside the driver's execute;
- where the CPU goes: one more pass under cProfile, each function's own time assigned to
  the package it belongs to (the shares are of the profiled time; cProfile inflates
  Python calls more than C, so read them as proportions).

`through Flask` is the floor of any request Flask handles (bench/endpoints.py): `above
floor` is what a row costs beyond it, which is what its handler and its data add.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench.endpoints import FLOOR_ORIGIN, Endpoint
from bench.harness import databases, prepare_bank, run_python
from bench.settings import BACKENDS, RESULTS, env_int

SIZE = env_int("PROFILE_SIZE", 100_000)
REQUESTS = env_int("PROFILE_REQUESTS", 300)
WARMUP = 30
# Where a function's own time is counted, by the first match in its file's path.
PACKAGES = [
    # Werkzeug's test client stands in for gunicorn here: its cost is not the app's.
    ("test client", ("/werkzeug/test.py", "/flask/testing.py")),
    ("api", "/api/"),
    ("SQLAlchemy", "/sqlalchemy/"),
    ("marshmallow", "/marshmallow/"),
    ("Flask & extensions", ("/flask", "/werkzeug/", "/limits/", "/jinja2/")),
    ("JWT", "/jwt/"),
    ("DB driver", ("sqlite3", "/psycopg")),
    ("grading libs", ("/Stemmer", "/rapidfuzz/", "/wordfreq/")),
    ("JSON", ("/json/", "method _json.")),
    ("logging", "/logging/"),
]


def _package(filename: str, name: str) -> str:
    where = f"{filename} {name}"
    for label, marks in PACKAGES:
        for mark in (marks,) if isinstance(marks, str) else marks:
            if mark in where:
                return label
    if filename == "~":
        return "builtins"
    if "/site-packages/" not in filename and "/lib/python3" in filename:
        return "stdlib"
    return "other"


def _requests(ep: Endpoint, client):
    """The row's i-th request, as wrk.lua sends it (304: revalidating the first GET's ETag)."""
    if ep.status == 304:
        etag = client.get(ep.paths[0]).headers["ETag"]
        ep.headers["If-None-Match"] = etag

    def send(i: int):
        path, body, headers = ep.request(i)
        kwargs = {"data": body, "content_type": "application/json"} if body else {}
        return client.open(path, method=ep.method, headers=headers, **kwargs)

    return send


def profile_row(ep: Endpoint) -> dict:
    """Measure one row in this process (its own app, with the row's extra environment)."""
    from sqlalchemy import event

    from api import create_app
    from api.extensions import db

    saved = {k: os.environ.get(k) for k in ep.env}
    os.environ.update(ep.env)
    try:
        app = create_app()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    with app.app_context():
        engine = db.engine
    driver = {"n": 0, "seconds": 0.0}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, many):
        conn.info["profile_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, many):
        driver["n"] += 1
        driver["seconds"] += time.perf_counter() - conn.info.pop("profile_started")

    send = _requests(ep, app.test_client())
    for i in range(WARMUP):
        response = send(i)
        if response.status_code != ep.status:
            raise SystemExit(f"{ep.name}: {response.status_code} {response.get_data()[:300]!r}")
    driver.update(n=0, seconds=0.0)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(WARMUP, WARMUP + REQUESTS):
        send(i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(REQUESTS):
        send(WARMUP + REQUESTS + i)
    profiler.disable()
    shares: dict[str, float] = {}
    total = 0.0
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in pstats.Stats(
        profiler
    ).stats.items():
        label = _package(filename, name)
        shares[label] = shares.get(label, 0.0) + own
        total += own
    with app.app_context():
        db.engine.dispose()
    return {
        "endpoint": ep.name,
        "cpu_ms": cpu / REQUESTS * 1000,
        "wall_ms": wall / REQUESTS * 1000,
        # The measured pass and the profiled pass both count statements: halve.
        "statements": driver["n"] / (2 * REQUESTS),
        "driver_ms": driver["seconds"] / (2 * REQUESTS) * 1000,
        "shares": {k: round(v / total, 3) for k, v in shares.items()} if total else {},
    }


def inner(learners_file: str, max_id: int) -> None:
    """The child: every row of this bank, one JSON line each."""
    from bench.endpoints import endpoints

    rows = endpoints(max_id, json.loads(Path(learners_file).read_text()))
    for ep in rows:
        print(json.dumps({"row": profile_row(ep)}), flush=True)


def table(backend: str, rows: list[dict]) -> str:
    floor = next((r["cpu_ms"] for r in rows if r["endpoint"] == "through Flask"), None)
    labels = [label for label, _ in PACKAGES] + ["builtins", "stdlib", "other"]
    head = (
        "| backend | endpoint | CPU ms/req | above floor | wall ms/req | statements | "
        "driver ms/req | " + " | ".join(labels) + " |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in labels)
    )
    lines = []
    for r in rows:
        above = "" if floor is None else f"{r['cpu_ms'] - floor:.2f}"
        shares = " | ".join(f"{r['shares'].get(label, 0) * 100:.0f}%" for label in labels)
        lines.append(
            f"| {backend} | {r['endpoint']} | {r['cpu_ms']:.2f} | {above} | {r['wall_ms']:.2f} "
            f"| {r['statements']:.1f} | {r['driver_ms']:.2f} | {shares} |"
        )
    return head + "\n" + "\n".join(lines) + "\n"


def main() -> int:
    if sys.argv[1:2] == ["inner"]:
        inner(sys.argv[2], int(sys.argv[3]))
        return 0
    out = [f"# Where the time goes: {SIZE:,} questions, {REQUESTS} requests a row, in process\n"]
    for backend in BACKENDS:
        with databases(backend) as make, tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            with make(SIZE, workdir) as url:
                bank = prepare_bank(backend, SIZE, url, workdir)
                env = dict(bank.env, CORS_ORIGINS=FLOOR_ORIGIN)
                learners = str(workdir / "learners.json")
                args = ("-m", "bench.profile", "inner", learners, str(bank.info["max_question_id"]))
                output = run_python(env, *args, timeout=3600)
                found = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
                rows = [item["row"] for item in found if "row" in item]
                out.append(table(backend, rows))
                print(out[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile.md").write_text("\n".join(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
