"""The Alembic migrations build the same schema the models describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from api import create_app
from api.cli import DEFAULT_BANK
from api.config import TestConfig
from api.extensions import db
from api.services.bank import read_bank_file, seed_bank

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
