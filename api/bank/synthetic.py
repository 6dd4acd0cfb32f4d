"""Synthetic banks for scale tests and benchmarks, written in bulk.

Rows go in as Core executemany inserts on SQLite and through COPY on PostgreSQL (several
times faster than multi-row INSERTs there), in one transaction, and the planner
statistics are refreshed afterwards so that the new rows are planned with the indexes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.exc import DBAPIError

from api.bank.models import Question, QuestionTag, QuestionTopic, Tag, Topic
from api.extensions import db
from api.platform.db_types import utcnow

WORDS = (
    "request response route view blueprint template jinja session cookie context "
    "application config extension database model query migration schema index cache "
    "token header middleware decorator signal logging testing fixture client server "
    "worker thread process deploy container proxy static upload form validation error "
    "handler json api rest resource endpoint serializer pagination filter sort search "
    "security password hash csrf cors auth login permission role admin user account "
    "redis queue task celery socket websocket stream async event hook plugin wsgi "
    "gunicorn nginx docker environment variable secret debug profile benchmark"
).split()
TOPICS = 20
TAGS = 200
BATCH = 5000


def generate_bank(*, count: int, seed: int = 1) -> int:
    """Insert `count` questions spread over synthetic topics and tags; returns the count.

    Question n is created n minutes after question n - 1, the newest now, and last updated
    at a random moment since, so that sorting by either timestamp is not sorting by id.
    """
    rng = random.Random(seed)
    topics = _ensure(
        Topic,
        [f"gen-topic-{i}" for i in range(1, TOPICS + 1)],
        lambda s: Topic(slug=s, name=s.replace("-", " ").title(), description="Generated."),
    )
    tags = _ensure(Tag, [f"gen-tag-{i}" for i in range(1, TAGS + 1)], lambda s: Tag(slug=s))
    topic_ids, tag_ids = list(topics.values()), list(tags.values())
    start = (db.session.scalar(select(func.max(Question.id))) or 0) + 1
    now = utcnow()
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # VACUUM can only mark the new pages all-visible once this commit is flushed to
        # the WAL, which synchronous_commit=off (a common bulk-load setting) postpones.
        connection.exec_driver_sql("SET LOCAL synchronous_commit = on")
    for offset in range(0, count, BATCH):
        rows, topic_links, tag_links = [], [], []
        for n in range(start + offset, start + min(offset + BATCH, count)):
            created = now - timedelta(minutes=start + count - 1 - n)
            rows.append(_question_row(rng, n, created, now))
            topic_links.append({"question_id": n, "topic_id": rng.choice(topic_ids)})
            tag_links.extend(
                {"question_id": n, "tag_id": t} for t in rng.sample(tag_ids, rng.randint(1, 3))
            )
        write_rows(connection, Question.__table__, rows)
        write_rows(connection, QuestionTopic.__table__, topic_links)
        write_rows(connection, QuestionTag.__table__, tag_links)
    db.session.commit()
    refresh_statistics()
    return count


BANK_TABLES = ("questions", "question_topics", "question_tags", "topics", "tags")


def refresh_statistics(tables: tuple[str, ...] = BANK_TABLES) -> None:
    """Up-to-date planner statistics after a bulk load, as autovacuum would leave them.

    PostgreSQL gets VACUUM ANALYZE (outside any transaction): ANALYZE for the row
    estimates, VACUUM for the visibility map that makes index-only scans cheap -- the
    deep-page plans depend on both. SQLite gets ANALYZE (sqlite_stat1).
    """
    if db.engine.dialect.name == "postgresql":
        autocommit = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            connection.exec_driver_sql("VACUUM ANALYZE " + ", ".join(tables))
            # Seen on servers run with fsync and synchronous_commit off (the tests'): the
            # first VACUUM could leave freshly loaded pages without their hint bits, so not
            # all-visible; after a checkpoint a second VACUUM marks them. A role that may not
            # CHECKPOINT (pg_checkpoint) just keeps what the first VACUUM did.
            try:
                connection.exec_driver_sql("CHECKPOINT")
            except DBAPIError:
                return
            connection.exec_driver_sql("VACUUM " + ", ".join(tables))
    else:
        with db.engine.begin() as connection:
            for table in tables:
                connection.exec_driver_sql(f"ANALYZE {table}")


def write_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany elsewhere; values bound as SQLAlchemy
    would bind them (also used by bench/data.py)."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    binders = [
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
    ]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([bind(row[name]) if bind else row[name] for name, bind in binders])


def _ensure(model, slugs: list[str], make) -> dict[str, int]:
    """Ids of the rows with these slugs, creating the missing ones with `make(slug)`."""

    def ids() -> dict[str, int]:
        rows = db.session.execute(select(model.slug, model.id).where(model.slug.in_(slugs)))
        return dict(rows.all())

    have = ids()
    missing = [s for s in slugs if s not in have]
    if missing:
        db.session.add_all(make(s) for s in missing)
        db.session.flush()
        have = ids()
    return have


def _question_row(rng: random.Random, n: int, created: datetime, now: datetime) -> dict:
    words = rng.sample(WORDS, 6)
    prompt = f"Question {n}: how does the {words[0]} {words[1]} relate to {words[2]}?"
    answer = (
        f"The {words[0]} {words[1]} works with the {words[2]} through {words[3]} and {words[4]}."
    )
    key_points = [f"{words[0]} {words[1]}", f"{words[3]} {words[5]}"]
    kind = rng.choices(("open", "multiple_choice", "true_false"), weights=(6, 3, 1))[0]
    choices = correct = None
    if kind == "multiple_choice":
        choices = [f"The {w}" for w in rng.sample(WORDS, 4)]
        correct = [rng.randrange(4)]
    elif kind == "true_false":
        choices, correct = ["True", "False"], [rng.randrange(2)]
    search_text = "\n".join([prompt, answer, *key_points])
    return {
        "id": n,
        "slug": f"generated-{n}",
        "prompt": prompt,
        "answer": answer,
        "key_points": [
            {"text": text, "alternatives": [], "contradictions": []} for text in key_points
        ],
        "note": None,
        "difficulty": rng.randint(1, 3),
        "type": kind,
        "choices": choices,
        "correct_choices": correct,
        "alternate_prompts": [],
        "sources": [{"document": "generated", "position": n}],
        "search_text": search_text,
        "version": 1,
        "created_at": created,
        "updated_at": created + (now - created) * rng.random(),
    }
