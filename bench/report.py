"""The benchmark's table and verdicts: one row per (backend, size, endpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bench.settings import (
    ATTEMPTS,
    ATTEMPTS_PER_DAY,
    BACKENDS,
    CONNECTIONS,
    DURATION,
    LEARNERS,
    QUICK,
    RATE_LIMIT,
    ROUNDS,
    THREADS,
    TOKEN_LEARNERS,
    WARMUP,
    WORKERS,
)


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


# Issue 17's ratio targets, judged at the largest bank run (with the older page and 304 ones).
RATIO_TARGETS = [
    ("questions page", {"sqlite": 0.5, "postgresql": 0.5}),
    ("304 revalidation", {"sqlite": 0.8, "postgresql": 0.8}),
    ("random", {"sqlite": 0.5, "postgresql": 0.5}),
    ("one question", {"sqlite": 0.8, "postgresql": 0.8}),
    ("post attempt", {"sqlite": 0.3, "postgresql": 0.25}),
    ("review queue", {"sqlite": 0.3, "postgresql": 0.3}),
    ("my stats", {"sqlite": 0.3, "postgresql": 0.3}),
]
SEARCH_P99_MS = 50
RSS_MB = 120


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
        for name, target in RATIO_TARGETS:
            row = find(backend, big, name)
            if row:
                goal = target[backend]
                out.append(
                    (
                        row.ratio >= goal,
                        f"{backend} {big:,}: {name} at {row.ratio:.2f} of the baseline's req/s "
                        f"({row.rps:,.0f} vs {row.base_rps:,.0f}); target >= {goal}",
                    )
                )
        for name in ("search", "search uncached"):
            row = find(backend, 100_000, name)
            if row:
                out.append(
                    (
                        row.p99_ms <= SEARCH_P99_MS,
                        f"{backend} 100,000: {name}: p99 {row.p99_ms:.1f} ms "
                        f"(p50 {row.p50_ms:.1f} ms); target <= {SEARCH_P99_MS} ms",
                    )
                )
            else:
                out.append((None, f"{backend}: {name} p99 target needs the 100,000 bank"))
        measured = [r for r in rows if r.backend == backend and r.peak_rss_mb]
        if measured:
            worst = max(measured, key=lambda r: r.peak_rss_mb)
            out.append(
                (
                    worst.peak_rss_mb <= RSS_MB,
                    f"{backend}: peak RSS per worker {worst.peak_rss_mb:.1f} MB at most "
                    f"({worst.endpoint}, {worst.size:,} questions); target <= {RSS_MB} MB",
                )
            )
        # Not a target: the floor of a request that Flask handles (bench/endpoints.py). A row
        # whose requests reach a handler cannot do better than this ratio.
        floor = find(backend, big, "through Flask")
        if floor:
            out.append(
                (
                    "info",
                    f"{backend} {big:,}: through Flask (not a target; the ceiling of every "
                    f"row answered by a handler): {floor.ratio:.2f} of the baseline's req/s, "
                    f"{floor.cpu_ms or 0:.2f} ms CPU/req vs {floor.base_cpu_ms or 0:.2f}",
                )
            )
        if backend == "postgresql":
            # Judged on the graded free-text answers (durable PostgreSQL); the self-rating
            # figure follows for comparison.
            post = find(backend, big, "post attempt")
            if post:
                rated = find(backend, big, "post self-rating")
                also = f"; self-ratings: {rated.rps:,.0f}/s" if rated else ""
                out.append(
                    (
                        post.rps >= 300,
                        f"postgresql {big:,}: {post.rps:,.0f} graded free-text attempts/s with "
                        f"{WORKERS} workers (durable commits){also}; target >= 300",
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
        f"{RATE_LIMIT}; daily attempt quota checked, at {ATTEMPTS_PER_DAY:,}",
        "- PostgreSQL durable: fsync, synchronous_commit and full_page_writes on (checked "
        "with SHOW before the run)",
        f"- learner rows (post attempt, post self-rating, review queue, my stats, my "
        f"attempts) cycle through {TOKEN_LEARNERS} learners' bearer tokens; `post attempt` "
        "is a graded free-text answer of about 40 words to an open question with key "
        "points, each POST with its own Idempotency-Key",
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
