"""The Alembic migrations build the same schema the models describe, on both backends."""

from __future__ import annotations

import json
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from api import create_app
from api.bank.transfer.seeding import seed_bank
from api.bank.transfer.writing import read_bank_file
from api.cli import DEFAULT_BANK
from api.config import TestConfig
from api.extensions import db
from tests.support.apps import build_app

SEARCH_OBJECTS = {"questions_fts", "search_tsv", "ix_questions_search_tsv"}


def _not_search(obj, name, type_, reflected, compare_to) -> bool:
    """Search structures are dialect-specific DDL, not model columns: leave them out."""
    return not (name in SEARCH_OBJECTS or (name or "").startswith("questions_fts"))


@pytest.fixture()
def migrated_app(backend, database_factory):
    app = create_app(TestConfig(database_factory(backend, "qbank_migrations")))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_migrated_schema_matches_models(migrated_app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _not_search, "compare_type": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_migration_installs_search(migrated_app, backend):
    seed_bank(bank=read_bank_file(DEFAULT_BANK))
    response = migrated_app.test_client().get("/api/v1/questions?q=blueprints")
    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) >= 2
    names = set(inspect(db.engine).get_table_names())
    if backend == "sqlite":
        assert "questions_fts" in names
        mode = db.session.execute(text("PRAGMA journal_mode")).scalar()
        assert mode == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    else:
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("questions")}
        assert "ix_questions_search_tsv" in indexes


def test_downgrade_removes_everything_and_upgrade_again(migrated_app):
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"questions", "topics", "tags"} <= set(inspect(db.engine).get_table_names())


def test_key_points_become_objects_and_back(migrated_app, backend):
    """0007 turns stored key point strings into {text, alternatives, contradictions}."""
    downgrade(revision="0006_provenance")
    insert = (
        "INSERT INTO questions (slug, prompt, answer, key_points, difficulty, type, "
        "alternate_prompts, sources, search_text, version) VALUES ('kp', 'Why?', 'Because.', "
        "{points}, 1, 'open', {empty}, {empty}, 'Why? Because.', 3)"
    )
    cast = "CAST('{}' AS JSON)" if backend == "postgresql" else "'{}'"
    points = cast.format('["first point", "second"]')
    db.session.execute(text(insert.format(points=points, empty=cast.format("[]"))))
    db.session.commit()
    upgrade()
    row = db.session.execute(
        text("SELECT key_points, version FROM questions WHERE slug = 'kp'")
    ).one()
    stored = row.key_points if isinstance(row.key_points, list) else json.loads(row.key_points)
    assert stored == [
        {"text": "first point", "alternatives": [], "contradictions": []},
        {"text": "second", "alternatives": [], "contradictions": []},
    ]
    assert row.version == 3  # the content did not change
    db.session.commit()
    downgrade(revision="0006_provenance")
    back = db.session.execute(text("SELECT key_points FROM questions WHERE slug = 'kp'")).scalar()
    assert (back if isinstance(back, list) else json.loads(back)) == ["first point", "second"]
    db.session.commit()
    upgrade()


# --- The migrations' frozen DDL and the models' schema never drift apart ---------------------
#
# The revisions carry their dialect-specific DDL (search, bank version triggers) as literal
# SQL, frozen as applied; the test schema (conftest's build_app) installs today's. Whatever a
# later revision changes must change both, or this fails.

_SQLITE_OBJECTS = """
    SELECT type, name, tbl_name, sql FROM sqlite_master
    WHERE type IN ('table', 'index', 'trigger', 'view') AND tbl_name != 'alembic_version'
"""
_PG_TRIGGERS = """
    SELECT t.tgname, pg_get_triggerdef(t.oid)
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND NOT t.tgisinternal
"""
_PG_FUNCTIONS = """
    SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
"""
_PG_INDEXES = """
    SELECT tablename, indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'public' AND tablename != 'alembic_version'
"""
_PG_GENERATED_COLUMNS = """
    SELECT table_name, column_name, generation_expression FROM information_schema.columns
    WHERE table_schema = 'public' AND is_generated = 'ALWAYS'
"""


_TABLE_CONSTRAINT = ("CONSTRAINT ", "PRIMARY KEY", "UNIQUE", "CHECK", "FOREIGN KEY")


def _squash(sql: str | None) -> str | None:
    return None if sql is None else " ".join(sql.split())


def _top_level_clauses(body: str) -> list[str]:
    """`body` split at the commas outside parentheses and quotes."""
    clauses, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(body):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            clauses.append(body[start:i].strip())
            start = i + 1
    return [*clauses, body[start:].strip()]


def _canonical_create_table(sql: str) -> str:
    """A CREATE TABLE statement with what SQLite gives no meaning to evened out.

    Alembic's op.create_table lists a table's constraints in the order the revision names
    them and the models in theirs, and a revision's server_default=sa.text('(X)') keeps
    parentheses a model's X has none of: neither changes the table. Columns keep their order.
    A table a revision rebuilt and renamed has its name quoted (`CREATE TABLE "questions"`).
    """
    head, _, rest = sql.partition("(")
    head = re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", head.strip())
    clauses = _top_level_clauses(rest.rstrip()[:-1])
    columns = [
        re.sub(r"\bDEFAULT \((\w+)\)", r"DEFAULT \1", clause)
        for clause in clauses
        if not clause.upper().startswith(_TABLE_CONSTRAINT)
    ]
    constraints = sorted(c for c in clauses if c.upper().startswith(_TABLE_CONSTRAINT))
    return f"{head.strip()} ({', '.join(columns)}; {', '.join(constraints)})"


def _sqlite_row(row) -> tuple:
    type_, name, table, sql = row
    sql = _squash(sql)
    if type_ == "table" and sql and sql.upper().startswith("CREATE TABLE "):
        sql = _canonical_create_table(sql)
    return type_, name, table, sql


def _dialect_objects(app) -> dict[str, list[tuple]]:
    """The schema's dialect-specific objects, as the database itself reports them."""
    with app.app_context(), db.engine.connect() as conn:
        objects: dict[str, list[tuple]] = {}
        if conn.dialect.name == "sqlite":
            objects["sqlite_master"] = sorted(map(_sqlite_row, conn.execute(text(_SQLITE_OBJECTS))))
            queries = {}
        else:
            queries = {
                "triggers": _PG_TRIGGERS,
                "functions": _PG_FUNCTIONS,
                "indexes": _PG_INDEXES,
                "generated columns": _PG_GENERATED_COLUMNS,
            }
        # The row the bank version triggers update is laid down with them.
        queries["bank_version rows"] = "SELECT id, version FROM bank_version"
        for kind, sql in queries.items():
            objects[kind] = sorted(
                tuple(_squash(v) if isinstance(v, str) else v for v in row)
                for row in conn.execute(text(sql))
            )
        return objects


def test_frozen_migrations_match_models_ddl(backend, database_factory):
    migrated = create_app(TestConfig(database_factory(backend, "qbank_frozen_migrated")))
    modelled = build_app(database_factory(backend, "qbank_frozen_modelled"))
    try:
        with migrated.app_context():
            upgrade()
        from_migrations = _dialect_objects(migrated)
        from_models = _dialect_objects(modelled)
    finally:
        for app in (migrated, modelled):
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    # Not vacuous: the search and bank version DDL are among what is compared.
    if backend == "sqlite":
        names = {row[1] for row in from_models["sqlite_master"]}
        assert {"questions_fts", "questions_fts_au", "bank_version_tags_delete"} <= names
    else:
        assert "bank_version_questions" in {row[0] for row in from_models["triggers"]}
        assert "bank_version_bump" in {row[0] for row in from_models["functions"]}
        assert "ix_questions_search_tsv" in {row[1] for row in from_models["indexes"]}
        assert from_models["generated columns"]
    assert from_models["bank_version rows"] == [(1, 1)]

    for kind in from_models:
        assert from_migrations[kind] == from_models[kind], kind
