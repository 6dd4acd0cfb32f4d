"""Random draws from 100,000 questions never ORDER BY RANDOM(); their id probes are index
lookups by id, and the id pool is read once per bank version."""

from __future__ import annotations

import pytest

from api.extensions import db
from tests.support.apps import slugs, temporary_app
from tests.support.scale import (
    POOLED_RANDOM_STATEMENTS,
    RANDOM_STATEMENTS,
    TOPIC,
    URL,
    WORD,
    Bank,
    _occurrences,
    _only,
)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- random


RANDOM_FILTERS = [
    ("", lambda q: True),
    ("type=open", lambda q: q["type"] == "open"),
    (
        "type=multiple_choice&difficulty=hard",
        lambda q: q["type"] == "multiple_choice" and q["difficulty"] == "hard",
    ),
    (f"topic={TOPIC}", lambda q: TOPIC in slugs(q["topics"])),
    (f"q={WORD}", lambda q: _occurrences(q, WORD) >= 1),
]


@pytest.mark.parametrize(
    ("query", "matches"), RANDOM_FILTERS, ids=[q or "all" for q, _ in RANDOM_FILTERS]
)
def test_random_draws_distinct_matching_questions_without_order_by_random(bank, query, matches):
    response, capture = bank.get(f"{URL}/random?count=10&include=answer&{query}")
    assert not [s for s in capture.statements if "random(" in s.lower()]
    drawn = response.get_json()["data"]
    assert len(drawn) == 10
    assert len({q["id"] for q in drawn}) == 10
    assert all(matches(q) for q in drawn), drawn
    assert len(capture.statements) == RANDOM_STATEMENTS


@pytest.mark.parametrize("query", ["", "type=open"], ids=["all", "type=open"])
def test_random_probes_ids_through_an_index(bank, query):
    """A large match set is sampled by probing random points of the id range."""
    _, capture = bank.get(f"{URL}/random?count=10&{query}")
    probe = _only(capture.calls(), lambda s: " UNION " in s and "min(questions.id)" in s)
    plan = bank.explain(*probe)
    if bank.backend == "sqlite":
        assert not plan.full_scans_of_questions(), plan
        searches = [line for line in plan.lines if line.startswith("SEARCH questions")]
        assert len(searches) >= 14, plan  # one per probe: 2 * count + 4 points
        if not query:
            assert set(searches) == {"SEARCH questions USING INTEGER PRIMARY KEY (rowid>?)"}, plan
        else:
            assert all(line.endswith("id>?)") for line in searches), plan
    else:
        assert not plan.seq_scans_of_questions(), plan
        scans = [n for n in plan.nodes if n.get("Relation Name") == "questions"]
        assert len(scans) >= 14, plan
        assert all(n["Node Type"] in ("Index Scan", "Index Only Scan") for n in scans), plan
        assert all("id >=" in n.get("Index Cond", "") for n in scans), plan
        if not query:
            assert {n["Index Name"] for n in scans} == {"pk_questions"}, plan


@pytest.mark.parametrize("query", ["", "type=open", f"topic={TOPIC}"], ids=["all", "open", "topic"])
def test_random_draws_from_an_id_pool_read_once_per_version(bank, bank_url, query):
    """With the pools on (the default), the matching ids are read once, then only sampled.

    The one read is of the ids alone (an index, no rows); later draws read the bank
    version (on the worker's own connection) and the rows drawn.
    """
    with temporary_app(bank_url, RESPONSE_CACHE_MAX_BYTES=0) as app:
        with app.app_context():
            pooled = Bank(bank.backend, app, db.engine)
        first, capture = pooled.get(f"{URL}/random?count=10&{query}")
        assert len(capture.statements) == POOLED_RANDOM_STATEMENTS + 1, capture.statements
        _only(capture.calls(), lambda s: s.startswith("SELECT questions.id \nFROM"))
        seen: set[int] = set()
        for _ in range(5):
            response, capture = pooled.get(f"{URL}/random?count=10&{query}&exclude=1&exclude=2")
            drawn = [q["id"] for q in response.get_json()["data"]]
            assert len(set(drawn)) == 10 and not {1, 2} & set(drawn)
            assert len(capture.statements) == POOLED_RANDOM_STATEMENTS, capture.statements
            assert capture.statements[0].startswith("SELECT questions.id, questions.slug")
            seen.update(drawn)
        assert len(seen) > 40  # draws differ
    assert len(first.get_json()["data"]) == 10
