"""`make bench` settings: BENCH_* variables with their defaults (bench/README.md)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "wrk.lua"
API = "/api/v1"
APT_LOCK = Path("/tmp/qbank-apt.lock")  # the lock tests/support/servers.py takes for apt-get too
MB = 1024 * 1024


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


QUICK = os.environ.get("BENCH_QUICK", "") == "1"
DURATION = env_int("BENCH_DURATION", 3 if QUICK else 8)  # seconds per wrk run
# Every endpoint is run this many times on each bank, in rounds (all of them once, then
# again), and the table keeps the best; see `best_of`.
ROUNDS = max(1, env_int("BENCH_ROUNDS", 1 if QUICK else 2))
WARMUP = env_int("BENCH_WARMUP", 1)  # seconds of wrk before each measured run
THREADS = env_int("BENCH_THREADS", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 16)
WORKERS = env_int("BENCH_WORKERS", 2)
LEARNERS = env_int("BENCH_LEARNERS", 1000)
# The rows of a learner (posting answers, reading the review queue, stats, attempts) cycle
# through this many learners' tokens, and the free-text answers through this many open
# questions with key points.
TOKEN_LEARNERS = env_int("BENCH_TOKEN_LEARNERS", 200)
OPEN_QUESTIONS = 2000
# The daily attempt quota stays on (its check runs as in production) but far above what
# the run posts per learner.
ATTEMPTS_PER_DAY = 1_000_000
ATTEMPTS = env_int("BENCH_ATTEMPTS", 20_000 if QUICK else 200_000)
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
MAX_MINUTES = env_int("BENCH_MAX_MINUTES", 80)
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
