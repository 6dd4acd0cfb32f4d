"""The benchmark's bookkeeping (bench/report.py): which round a row keeps, what is judged.

Nothing is run under wrk here (that is `make bench`); these are the rules that turn its
measurements into the table and the verdicts.
"""

from __future__ import annotations

import pytest

from bench import report


def row(size: int, endpoint: str, rps: float, base_rps: float, **extra) -> report.Row:
    values = dict(
        backend="postgresql",
        size=size,
        endpoint=endpoint,
        rps=rps,
        p50_ms=16_000 / rps,
        p99_ms=20_000 / rps,
        base_rps=base_rps,
        base_p50_ms=16_000 / base_rps,
        base_p99_ms=20_000 / base_rps,
        ratio=round(rps / base_rps, 3),
        peak_rss_mb=80.0,
        base_peak_rss_mb=60.0,
        cpu_ms=1.0,
        base_cpu_ms=0.5,
        body_bytes=500,
        requests=int(rps * 8),
        notes="",
        load1=1.0,
    )
    values.update(extra)
    return report.Row(**values)


def test_a_row_keeps_the_apps_best_round_and_the_baselines_best_round():
    first = row(1000, "post attempt", 250.0, 3000.0, peak_rss_mb=90.0, cpu_ms=6.0)
    second = row(1000, "post attempt", 400.0, 2500.0, peak_rss_mb=85.0, cpu_ms=4.0)
    (kept,) = report.best_of([first, second])
    assert (kept.rps, kept.p50_ms, kept.cpu_ms) == (400.0, second.p50_ms, 4.0)
    assert (kept.base_rps, kept.base_p50_ms) == (3000.0, first.base_p50_ms)
    # The ratio is recomputed against the best baseline, never the round's own.
    assert kept.ratio == pytest.approx(400 / 3000, abs=1e-3)
    assert kept.peak_rss_mb == 90.0  # memory: the highest of the rounds
    assert kept.rps_rounds == [250.0, 400.0]


def test_rounds_are_grouped_per_backend_size_and_endpoint():
    rows = [
        row(1000, "random", 300.0, 3000.0),
        row(100_000, "random", 200.0, 3000.0),
        row(1000, "random", 320.0, 3100.0),
        row(1000, "search", 2000.0, 3000.0, backend="sqlite"),
    ]
    kept = {(r.backend, r.size, r.endpoint): r for r in report.best_of(rows)}
    assert set(kept) == {
        ("postgresql", 1000, "random"),
        ("postgresql", 100_000, "random"),
        ("sqlite", 1000, "search"),
    }
    assert kept["postgresql", 1000, "random"].rps_rounds == [300.0, 320.0]
    assert kept["postgresql", 100_000, "random"].rps_rounds == [200.0]


def _passing_bank(size: int, slow: float) -> list[report.Row]:
    return [
        row(size, "questions page", 2000 / slow, 3000.0),
        row(size, "304 revalidation", 2900 / slow, 3000.0),
        row(size, "search", 2500 / slow, 3000.0),
        row(size, "search uncached", 600 / slow, 3000.0),
        row(size, "random", 1900 / slow, 3000.0),
        row(size, "one question", 2900 / slow, 3000.0),
        row(size, "post attempt", 1000 / slow, 3000.0),
        row(size, "post self-rating", 1200 / slow, 3000.0),
        row(size, "review queue", 1200 / slow, 3000.0),
        row(size, "my stats", 1200 / slow, 3000.0),
        row(size, "through Flask", 1700 / slow, 3000.0),
    ]


def test_targets_judge_each_of_the_issues_targets(monkeypatch):
    monkeypatch.setattr(report, "BACKENDS", ["postgresql"])
    rows = _passing_bank(1000, 1.0) + _passing_bank(100_000, 1.2)
    verdicts = report.targets(rows)
    judged = [(ok, text) for ok, text in verdicts if ok in (True, False)]
    assert judged and all(ok for ok, _ in judged), verdicts
    # Every ratio target of the issue has its line, with the backend's own goal.
    for name, goal in (("random", 0.5), ("one question", 0.8), ("post attempt", 0.25)):
        assert [t for _, t in judged if f": {name} at " in t and f"target >= {goal}" in t]
    for name in ("review queue", "my stats"):
        assert [t for _, t in judged if f": {name} at " in t and "target >= 0.3" in t]
    # Attempts/s is judged on the graded free-text row; the self-ratings are shown beside.
    (posts,) = [text for _, text in judged if "attempts/s" in text]
    assert "833 graded free-text attempts/s" in posts and "self-ratings: 1,000/s" in posts
    (floor,) = [text for ok, text in verdicts if ok == "info"]
    assert "through Flask" in floor and "0.47 of the baseline" in floor


def test_a_slow_uncached_search_a_fat_worker_or_a_slow_read_fail(monkeypatch):
    monkeypatch.setattr(report, "BACKENDS", ["postgresql"])
    changed = ("search uncached", "my stats")
    rows = [
        r
        for r in _passing_bank(1000, 1.0) + _passing_bank(100_000, 1.0)
        if r.endpoint not in changed
    ]
    rows.append(row(100_000, "search uncached", 70.0, 3000.0))  # p99 286 ms
    rows.append(row(1000, "search uncached", 600.0, 3000.0))
    rows.append(row(100_000, "my stats", 600.0, 3000.0, peak_rss_mb=131.5))  # 0.2
    rows.append(row(1000, "my stats", 600.0, 3000.0))
    failed = [text for ok, text in report.targets(rows) if ok is False]
    assert [t for t in failed if "search uncached: p99 285.7 ms" in t and "<= 50 ms" in t]
    assert [t for t in failed if "my stats at 0.20" in t]
    assert [t for t in failed if "peak RSS per worker 131.5 MB" in t and "(my stats" in t]
    # Growth is judged on every endpoint but the uncached search (x8.6 here, not failing).
    assert not [t for t in failed if "p50 latency" in t]
    rows.append(row(100_000, "random", 100.0, 3000.0))
    rows.append(row(1000, "random", 300.0, 3000.0))
    growth = [(ok, text) for ok, text in report.targets(rows) if "p50 latency" in text]
    assert growth == [(False, growth[0][1])] and "random" in growth[0][1]
    text = report.report(rows, _meta(), [])
    assert "Targets" in text and "FAIL" in text


def _meta() -> dict:
    return {
        "started": "2026-11-22 00:00 UTC",
        "finished": "00:30 UTC",
        "minutes": 30.0,
        "cpus": 2,
        "load_start": 1.0,
        "load_end": 1.0,
    }
