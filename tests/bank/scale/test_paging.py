"""Deep pages, sorts and filters on 100,000 questions walk an index in order (nothing sorts
the table); totals and last pages are right; every list endpoint issues a fixed number of
statements, whatever the page size."""

from __future__ import annotations

import math

import pytest

from api.bank.synthetic import TAGS
from tests.support.scale import (
    QUESTION_LIST_STATEMENTS,
    RANDOM_STATEMENTS,
    SCALE,
    SEARCH_LIST_STATEMENTS,
    TAG_LIST_STATEMENTS,
    TOPIC,
    TOPIC_LIST_STATEMENTS,
    URL,
    WORD,
    _page_query,
)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- deep pages

# (query, the WHERE and ORDER BY of a hand-written equivalent, the index that must serve it).
# SQLite's primary key is the table itself (rowid order): "SCAN questions" walks it in id
# order; every other walk must be over a covering index, never the rows.
DEEP_PAGES = [
    ("", "TRUE", "id", {"sqlite": "SCAN questions", "postgresql": "pk_questions"}),
    (
        "sort=-updated_at",
        "TRUE",
        "updated_at DESC, id DESC",
        {
            "sqlite": "SCAN questions USING COVERING INDEX ix_questions_updated_at_id",
            "postgresql": "ix_questions_updated_at_id",
        },
    ),
    (
        "sort=difficulty",
        "TRUE",
        "difficulty, id",
        {
            "sqlite": "SCAN questions USING COVERING INDEX ix_questions_difficulty_id",
            "postgresql": "ix_questions_difficulty_id",
        },
    ),
    (
        "type=true_false",
        "type = 'true_false'",
        "id",
        {
            "sqlite": "SEARCH questions USING COVERING INDEX ix_questions_type_id (type=?)",
            "postgresql": "ix_questions_type_id",
        },
    ),
    (
        "difficulty=hard",
        "difficulty = 3",
        "id",
        {
            "sqlite": "SEARCH questions USING COVERING INDEX ix_questions_difficulty_id "
            "(difficulty=?)",
            "postgresql": "ix_questions_difficulty_id",
        },
    ),
    (
        f"topic={TOPIC}",
        "id IN (SELECT question_id FROM question_topics JOIN topics "
        f"ON topics.id = question_topics.topic_id WHERE topics.slug = '{TOPIC}')",
        "id",
        {
            "sqlite": "SEARCH question_topics USING COVERING INDEX "
            "ix_question_topics_topic_question (topic_id=?)",
            "postgresql": "ix_question_topics_topic_question",
        },
    ),
]


@pytest.mark.parametrize(
    ("query", "where", "order", "index"), DEEP_PAGES, ids=[q or "all" for q, *_ in DEEP_PAGES]
)
@pytest.mark.parametrize("per_page", [100, 30])
def test_last_page_is_right_and_read_through_an_index(bank, query, where, order, index, per_page):
    expected_ids = [
        row[0] for row in bank.sql(f"SELECT id FROM questions WHERE {where} ORDER BY {order}")
    ]
    total = len(expected_ids)
    last = math.ceil(total / per_page)
    remainder = total - (last - 1) * per_page

    response, capture = bank.get(f"{URL}?{query}&page={last}&per_page={per_page}")

    assert int(response.headers["X-Total-Count"]) == total
    body = response.get_json()
    assert body["meta"]["pages"] == last
    assert [q["id"] for q in body["data"]] == expected_ids[-remainder:]
    assert 'rel="next"' not in response.headers["Link"]
    assert len(capture.statements) == QUESTION_LIST_STATEMENTS

    plan = bank.explain(*_page_query(capture))
    if bank.backend == "sqlite":
        assert not plan.temp_sorts(), plan
        assert any(line.startswith(index[bank.backend]) for line in plan.lines), plan
        # The rows themselves are read by primary key, only the page's.
        assert "SEARCH questions USING INTEGER PRIMARY KEY (rowid=?)" in plan.lines, plan
    else:
        assert not plan.seq_scans_of_questions(), plan
        assert not plan.sorts_of_most_rows(), plan
        # The page is found walking the index alone, the rows are read by primary key.
        assert any(
            n["Node Type"] == "Index Only Scan" for n in plan.index_scans(index[bank.backend])
        ), plan
        assert any(
            n["Node Type"] == "Index Scan" and n["Index Name"] == "pk_questions" for n in plan.nodes
        ), plan


def test_every_page_size_tiles_the_same_order(bank):
    """Pages of different sizes agree: the order is total, also across equal sort keys."""
    query = f"{URL}?sort=difficulty&difficulty=medium"
    big, _ = bank.get(f"{query}&page=3&per_page=100")
    small = []
    for page in range(11, 16):
        response, _ = bank.get(f"{query}&page={page}&per_page=20")
        small.extend(q["id"] for q in response.get_json()["data"])
    assert small == [q["id"] for q in big.get_json()["data"]]


# --------------------------------------------------------------------------- statement counts


@pytest.mark.parametrize(
    ("path", "sizes", "expected"),
    [
        (f"{URL}?per_page={{n}}", (1, 10, 100), QUESTION_LIST_STATEMENTS),
        (f"{URL}?per_page={{n}}&page=7&sort=-updated_at", (1, 10, 100), QUESTION_LIST_STATEMENTS),
        (f"{URL}?per_page={{n}}&q={WORD}&topic={TOPIC}", (1, 10, 100), SEARCH_LIST_STATEMENTS),
        ("/api/v1/topics?per_page={n}", (1, 10, 100), TOPIC_LIST_STATEMENTS),
        ("/api/v1/tags?per_page={n}", (1, 10, 100), TAG_LIST_STATEMENTS),
        ("/api/v1/tags?per_page={n}&sort=-question_count", (1, 10, 100), TAG_LIST_STATEMENTS),
        (f"{URL}/random?count={{n}}", (1, 10, 50), RANDOM_STATEMENTS),
        (
            f"{URL}/random?count={{n}}&type=true_false&difficulty=easy",
            (1, 10, 50),
            RANDOM_STATEMENTS,
        ),
    ],
    ids=[
        "questions",
        "questions-sorted",
        "questions-searched",
        "topics",
        "tags",
        "tags-by-count",
        "random",
        "random-filtered",
    ],
)
def test_statement_count_does_not_grow_with_the_page(bank, path, sizes, expected):
    if isinstance(expected, dict):
        expected = expected[bank.backend]
    counts = {}
    for n in sizes:
        response, capture = bank.get(path.format(n=n))
        assert 0 < len(response.get_json()["data"]) <= n
        counts[n] = len(capture.statements)
    assert set(counts.values()) == {expected}, counts


def test_topic_and_tag_counts_are_right(bank):
    topic_counts = dict(
        bank.sql(
            "SELECT topics.slug, count(*) FROM question_topics "
            "JOIN topics ON topics.id = question_topics.topic_id GROUP BY topics.slug"
        )
    )
    tag_counts = dict(
        bank.sql(
            "SELECT tags.slug, count(*) FROM question_tags "
            "JOIN tags ON tags.id = question_tags.tag_id GROUP BY tags.slug"
        )
    )
    topics, _ = bank.get("/api/v1/topics?per_page=100")
    assert {t["slug"]: t["question_count"] for t in topics.get_json()["data"]} == topic_counts
    assert sum(topic_counts.values()) == SCALE

    listed = []
    for page in (1, 2):
        tags, _ = bank.get(f"/api/v1/tags?per_page=100&page={page}&sort=-question_count")
        listed.extend((t["slug"], t["question_count"]) for t in tags.get_json()["data"])
    assert dict(listed) == tag_counts
    assert [n for _, n in listed] == sorted(tag_counts.values(), reverse=True)
    assert len(listed) == TAGS  # each tag once across the pages
