"""`make bench`: the API under wrk on loopback, beside a bare-Flask baseline.

For each backend (SQLite file, throwaway PostgreSQL) and each bank size, a fresh database
is migrated (`flask db upgrade`) and filled (bench/data.py); then every endpoint is run
under wrk against the app served by gunicorn (gunicorn.conf.py, 2 sync workers), and
right after against bench/baseline.py served the same way with a body of the size the app
answered. One server runs at a time; each is started for one endpoint and stopped after.
See bench/README.md for what is measured and the settings (BENCH_* variables). The parts:
bench/harness.py runs, bench/endpoints.py says what, bench/report.py writes the results.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime

from bench.harness import bench_backend
from bench.report import Row, report
from bench.settings import BACKENDS, DURATION, MAX_MINUTES, RESULTS, SIZES
from bench.wrk import ensure_wrk


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
