"""At scale: a generated bank of 100,000 questions, on SQLite and on PostgreSQL.

What is proven, from the SQL the endpoints really run (captured with its parameters while
the endpoint is called through the test client, then EXPLAINed as is):

- full-text search goes through the search index (FTS5 / GIN), never a scan of questions;
- deep pages, sorts and filters walk an index in order: nothing sorts the table;
- random draws never ORDER BY RANDOM(); their id probes are index lookups by id;
- every list endpoint issues a fixed number of statements, whatever the page size;
- totals, last pages and search results are right, checked against hand-written SQL.

No timings are asserted (speed is measured by the benchmarks). generate_bank ends with
VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite), as autovacuum would: the PostgreSQL
plans below depend on those statistics and on the visibility map that VACUUM sets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from api.bank.synthetic import TAGS, TOPICS, WORDS, generate_bank
from api.extensions import db
from tests.support.apps import QueryCounter, build_app, temporary_app

pytestmark = pytest.mark.slow

SCALE = 100_000
URL = "/api/v1/questions"
# A generator word (api/bank/synthetic.py) that no other generated word starts with,
# so that prefix search and a substring count agree.
WORD = "redis"

# Statements per request, whatever the page size or draw count:
QUESTION_LIST_STATEMENTS = 3  # total, page (ids through an index + rows by id), slugs
RANDOM_STATEMENTS = 4  # id bounds + capped count, ids or id probes, rows, topic and tag slugs
POOLED_RANDOM_STATEMENTS = 3  # bank version, rows, slugs (after the pool's first read)
# A search ranked by relevance: on PostgreSQL the page query also counts (a window count).
SEARCH_LIST_STATEMENTS = {"sqlite": 3, "postgresql": 2}
TOPIC_LIST_STATEMENTS = 2  # total, page with per-topic counts
TAG_LIST_STATEMENTS = 2  # total, page with per-tag counts


# --------------------------------------------------------------------------- helpers


class StatementCapture(QueryCounter):
    """QueryCounter that also keeps each statement's parameters, to EXPLAIN it as it ran."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.parameters: list[Any] = []

    def _record(self, conn, cursor, statement, parameters, *args) -> None:
        before = len(self.statements)
        super()._record(conn, cursor, statement, parameters, *args)
        if len(self.statements) > before:
            self.parameters.append(parameters)

    def calls(self) -> list[tuple[str, Any]]:
        return list(zip(self.statements, self.parameters, strict=True))


@dataclass
class Bank:
    backend: str
    app: Any
    engine: Any

    def get(self, path: str) -> tuple[Any, StatementCapture]:
        """Call an endpoint; its response and the statements it ran."""
        with StatementCapture(self.engine) as capture:
            response = self.app.test_client().get(path)
        assert response.status_code == 200, (path, response.get_json())
        return response, capture

    def sql(self, statement: str, **params) -> list[tuple]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(statement), params)]

    def explain(self, statement: str, parameters: Any) -> Plan:
        """The plan of exactly this statement with exactly these parameters."""
        with self.engine.connect() as connection:
            if self.backend == "sqlite":
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                return Plan(self.backend, [row[3] for row in rows], [])
            (document,) = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            ).one()
        return Plan(self.backend, [], list(_pg_nodes(document[0]["Plan"])))


def _pg_nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


@dataclass(repr=False)
class Plan:
    """A query plan: SQLite EXPLAIN QUERY PLAN lines, or PostgreSQL plan nodes."""

    backend: str
    lines: list[str]
    nodes: list[dict]

    def __repr__(self) -> str:  # what an assertion shows: the plan, one line a node
        if self.backend == "sqlite":
            return "\n".join(self.lines)
        return "\n".join(
            f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name') or ''} "
            f"rows={n.get('Plan Rows')} {n.get('Index Cond') or n.get('Filter') or ''}".strip()
            for n in self.nodes
        )

    # SQLite
    def full_scans_of_questions(self) -> list[str]:
        """`SCAN questions ...`: every row (or index entry) of the table is visited."""
        return [line for line in self.lines if re.match(r"SCAN questions\b", line)]

    def temp_sorts(self) -> list[str]:
        return [line for line in self.lines if "USE TEMP B-TREE FOR ORDER BY" in line]

    # PostgreSQL
    def seq_scans_of_questions(self) -> list[dict]:
        return [
            n
            for n in self.nodes
            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "questions"
        ]

    def sorts_of_most_rows(self) -> list[dict]:
        return [n for n in self.nodes if n["Node Type"] == "Sort" and n["Plan Rows"] >= SCALE / 2]

    def index_scans(self, index: str) -> list[dict]:
        return [
            n
            for n in self.nodes
            if n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
            and n.get("Index Name") == index
        ]


def _only(calls: list[tuple[str, Any]], predicate) -> tuple[str, Any]:
    found = [call for call in calls if predicate(call[0])]
    assert len(found) == 1, [s for s, _ in calls]
    return found[0]


def _page_query(capture: StatementCapture) -> tuple[str, Any]:
    """The statement that reads the page of questions (not the total, not the relations)."""
    return _only(capture.calls(), lambda s: "questions.prompt" in s and "LIMIT" in s)


def _full_text(question: dict) -> str:
    return " ".join([question["prompt"], question["answer"], *question["key_points"]]).lower()


def _occurrences(question: dict, word: str) -> int:
    return len(re.findall(rf"\b{word}\b", _full_text(question)))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bank_url(backend, database_factory) -> str:
    url = database_factory(backend, "qbank_scale")
    app = build_app(url)
    with app.app_context():
        assert generate_bank(count=SCALE) == SCALE
        db.engine.dispose()
    return url


@pytest.fixture(scope="module")
def bank(backend, bank_url) -> Iterator[Bank]:
    """The app with its caches off: every request runs its SQL, which is what is examined."""
    with temporary_app(bank_url, RESPONSE_CACHE_MAX_BYTES=0, ID_POOL_MAX_BYTES=0) as app:
        with app.app_context():
            engine = db.engine
        yield Bank(backend, app, engine)


def test_gen_bank_command(backend, database_factory):
    """`flask gen-bank N` adds N questions with their topics and tags, and runs again."""
    app = build_app(database_factory(backend, "qbank_scale_cli"))
    with app.app_context():
        cli_bank = Bank(backend, app, db.engine)
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(args=["gen-bank", "40", "--seed", "7"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "generated 40 questions"
        result = runner.invoke(args=["gen-bank", "3"])
        assert result.exit_code == 0, result.output

        ids = [row[0] for row in cli_bank.sql("SELECT id FROM questions ORDER BY id")]
        assert ids == list(range(1, 44))
        assert cli_bank.sql("SELECT count(*) FROM topics") == [(TOPICS,)]
        assert cli_bank.sql("SELECT count(*) FROM tags") == [(TAGS,)]
        unlinked = "SELECT count(*) FROM questions WHERE id NOT IN (SELECT question_id FROM {})"
        assert cli_bank.sql(unlinked.format("question_topics")) == [(0,)]
        assert cli_bank.sql(unlinked.format("question_tags")) == [(0,)]
        response, _ = cli_bank.get(f"{URL}?per_page=100")
        assert response.headers["X-Total-Count"] == "43"
        assert [q["id"] for q in response.get_json()["data"]] == ids
    finally:
        cli_bank.engine.dispose()


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


# --------------------------------------------------------------------------- deep pages

TOPIC = "gen-topic-3"
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


# --------------------------------------------------------------------------- random


RANDOM_FILTERS = [
    ("", lambda q: True),
    ("type=open", lambda q: q["type"] == "open"),
    (
        "type=multiple_choice&difficulty=hard",
        lambda q: q["type"] == "multiple_choice" and q["difficulty"] == "hard",
    ),
    (f"topic={TOPIC}", lambda q: TOPIC in q["topics"]),
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
    version and the rows drawn.
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
            assert "bank_version" in capture.statements[0]
            seen.update(drawn)
        assert len(seen) > 40  # draws differ
    assert len(first.get_json()["data"]) == 10


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


def test_generated_words_are_the_generator_vocabulary():
    """WORD must stay a word no other generated word starts with (see WORD above)."""
    assert WORD in WORDS
    assert [w for w in WORDS if w.startswith(WORD[:4])] == [WORD]
