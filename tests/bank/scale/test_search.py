"""Full-text search on 100,000 questions goes through the search index (FTS5 / GIN), never
a scan of questions, and finds exactly the matching questions, best first."""

from __future__ import annotations

import pytest

from tests.support.scale import SCALE, SEARCH_LIST_STATEMENTS, URL, WORD, _occurrences

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- search


def test_search_uses_the_full_text_index(bank):
    response, capture = bank.get(f"{URL}?q={WORD}&per_page=50&include=answer")
    calls = [
        (s, p) for s, p in capture.calls() if "questions_fts" in s or "questions.search_tsv" in s
    ]
    # The total and the page; on PostgreSQL the page query also counts (a window count).
    assert len(calls) == SEARCH_LIST_STATEMENTS[bank.backend] - 1, capture.statements
    for statement, parameters in calls:
        plan = bank.explain(statement, parameters)
        if bank.backend == "sqlite":
            assert any(
                line.startswith("SCAN questions_fts VIRTUAL TABLE INDEX") for line in plan.lines
            ), plan
            assert not plan.full_scans_of_questions(), plan
        else:
            assert plan.index_scans("ix_questions_search_tsv"), plan
            assert all(
                n["Node Type"] == "Bitmap Index Scan"
                for n in plan.index_scans("ix_questions_search_tsv")
            ), plan
            assert not plan.seq_scans_of_questions(), plan
    assert response.status_code == 200


def test_search_finds_exactly_the_matching_questions_best_first(bank):
    ((expected,),) = bank.sql(
        "SELECT count(*) FROM questions WHERE lower(search_text) LIKE :pattern",
        pattern=f"%{WORD}%",
    )
    assert 0 < expected < SCALE
    response, _ = bank.get(f"{URL}?q={WORD}&per_page=100&include=answer")
    assert int(response.headers["X-Total-Count"]) == expected
    page = response.get_json()["data"]
    assert len(page) == 100
    assert all(_occurrences(q, WORD) >= 1 for q in page)
    # Every generated question has as many words, so relevance is term frequency: the
    # best match has the word three times (prompt, answer, key point), and no later
    # result has it more often than an earlier one.
    frequencies = [_occurrences(q, WORD) for q in page]
    assert WORD in page[0]["prompt"].lower()
    assert frequencies[0] == 3
    assert frequencies == sorted(frequencies, reverse=True)


def test_search_of_two_words_needs_both(bank):
    first, second = WORD, "queue"
    ((expected,),) = bank.sql(
        "SELECT count(*) FROM questions WHERE lower(search_text) LIKE :one "
        "AND lower(search_text) LIKE :two",
        one=f"%{first}%",
        two=f"%{second}%",
    )
    response, _ = bank.get(f"{URL}?q={first}%20{second}&per_page=100&include=answer")
    assert int(response.headers["X-Total-Count"]) == expected > 0
    for question in response.get_json()["data"]:
        assert _occurrences(question, first) and _occurrences(question, second)
