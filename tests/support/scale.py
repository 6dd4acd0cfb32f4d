"""What the scale tests (tests/bank/scale/) share: the numbers they pin, the generated bank
as they read it, and the SQL plans they check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from tests.support.apps import QueryCounter

SCALE = 100_000
URL = "/api/v1/questions"
# A generator word (api/bank/synthetic.py) that no other generated word starts with,
# so that prefix search and a substring count agree.
WORD = "redis"
TOPIC = "gen-topic-3"  # a generated topic the deep pages and random draws filter on

# Statements per request, whatever the page size or draw count:
QUESTION_LIST_STATEMENTS = 3  # total, page (ids through an index + rows by id), slugs
RANDOM_STATEMENTS = 4  # id bounds + capped count, ids or id probes, rows, topic and tag slugs
# After the pool's first read: rows, topics and tags. The bank version is read on the
# worker's own connection (bank_revision.VersionReader), which the capture does not see.
POOLED_RANDOM_STATEMENTS = 2
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
    return " ".join(
        [question["prompt"], question["answer"], *(p["text"] for p in question["key_points"])]
    ).lower()


def _occurrences(question: dict, word: str) -> int:
    return len(re.findall(rf"\b{word}\b", _full_text(question)))
