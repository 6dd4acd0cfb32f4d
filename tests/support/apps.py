"""Apps for tests: built on a database URL, seeded with the curated bank, counted queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from sqlalchemy import event

from api import create_app, schema
from api.bank.transfer.seeding import seed_bank
from api.bank.transfer.writing import read_bank_file
from api.cli import DEFAULT_BANK
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import login_headers, make_user

# The two raw documents the first bank was built from, kept in the repository.
SEED_DOCS = Path(__file__).resolve().parents[2] / "seeds" / "raw"


def editor_app(database_factory, backend: str, name: str, **config) -> tuple:
    """A new, empty bank's app (database `name`, migrated) and an editor's auth headers."""
    app = build_app(database_factory(backend, name), **config)
    return app, login_headers(app, make_user(app, "editor"))


def build_app(database_url: str, **overrides):
    app = create_app(TestConfig(database_url, **overrides))
    with app.app_context():
        schema.drop_all()
        schema.create_all()
    return app


@contextmanager
def temporary_app(database_url: str, *, build: bool = False, **overrides) -> Iterator:
    """An app for one test, its connections closed after (psycopg warns otherwise)."""
    app = (
        build_app(database_url, **overrides)
        if build
        else create_app(TestConfig(database_url, **overrides))
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def seed_bank_into(app) -> None:
    with app.app_context():
        seed_bank(bank=read_bank_file(DEFAULT_BANK))
        db.session.remove()


def seeded_database(database_factory, backend: str, name: str) -> str:
    """A new database of that name holding the curated bank; its URL."""
    url = database_factory(backend, name)
    app = build_app(url)
    seed_bank_into(app)
    with app.app_context():
        db.engine.dispose()
    return url


class QueryCounter:
    """Counts the SQL statements an app issues while active."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # transaction control, not a query
            self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


# What the seed file holds: tests count against it rather than against numbers of the day.
SEED_BANK = yaml.safe_load(DEFAULT_BANK.read_text(encoding="utf-8"))
SEED_QUESTIONS = len(SEED_BANK["questions"])
SEED_TOPICS = len(SEED_BANK["topics"])
SEED_OPEN = sum(q["type"] == "open" for q in SEED_BANK["questions"])


def slugs(refs: list[dict]) -> list[str]:
    """The slugs of a question's `topics` or `tags` (`{slug, name}` each)."""
    return [ref["slug"] for ref in refs]
