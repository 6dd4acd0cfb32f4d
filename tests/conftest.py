"""Fixtures: every database-backed test runs on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from api import create_app, schema
from api.bank.transfer.seeding import seed_bank
from api.bank.transfer.writing import read_bank_file
from api.cli import DEFAULT_BANK
from api.config import TestConfig
from api.extensions import db
from tests.servers import postgres_server

BACKENDS = [b for b in os.environ.get("QBANK_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
# The two raw documents the first bank was built from, kept in the repository.
SEED_DOCS = Path(__file__).resolve().parents[1] / "seeds" / "raw"


@pytest.fixture(scope="session")
def pg_server():
    with postgres_server() as pg:
        yield pg


@pytest.fixture(scope="session")
def database_factory(request, tmp_path_factory):
    """Makes an empty database of a backend, by name, so big fixtures don't share one."""
    created: list[tuple[str, str]] = []

    def make(backend: str, name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp(name)}/{name}.sqlite3"
        pg = request.getfixturevalue("pg_server")
        import psycopg

        url = make_url(pg.url)
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append((backend, name))
        return url.set(database=name).render_as_string(hide_password=False)

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


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


@pytest.fixture(scope="session")
def seeded_url(backend, database_factory) -> str:
    """A database holding the curated bank, shared by read-only tests."""
    return seeded_database(database_factory, backend, "qbank_seeded")


@pytest.fixture(scope="session")
def app(seeded_url) -> Iterator:
    app = create_app(TestConfig(seeded_url))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def prod_app(seeded_url) -> Iterator:
    """The same bank with TESTING and DEBUG off: errors must still be problem+json."""
    app = create_app(TestConfig(seeded_url, TESTING=False, DEBUG=False))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def prod_client(prod_app):
    return prod_app.test_client()


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


@pytest.fixture()
def count_queries(app):
    def make() -> QueryCounter:
        with app.app_context():
            return QueryCounter(db.engine)

    return make


DEFAULT_PASSWORD = "correct horse battery staple"


def make_user(app, role: str = "learner", *, email: str | None = None) -> str:
    """An account of `role` through the accounts service (registration only makes learners)."""
    from api.accounts.users import create_user

    email = email or f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    with app.app_context():
        create_user(email=email, password=DEFAULT_PASSWORD, role=role)
    return email


def login_headers(app, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = app.test_client().post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture()
def auth_headers(request):
    """`auth_headers("editor")`: the Authorization header of a new account with that role.

    On the shared `app` unless another is given: `auth_headers("admin", app=my_app)`.
    """

    def make(role: str = "learner", *, app=None) -> dict[str, str]:
        app = app if app is not None else request.getfixturevalue("app")
        return login_headers(app, make_user(app, role))

    return make


def unmet_outcomes(
    seen: dict[str, set[int]], expected: dict[str, set[int]], run: str
) -> dict[str, list[int]]:
    """Per operation, the statuses a contract run was to meet and never did.

    Skips the calling test when the run did not reach every operation (it was cut short).
    """
    if set(seen) != set(expected):
        pytest.skip(f"the {run} run did not run in full")
    return {
        label: sorted(statuses - seen[label])
        for label, statuses in expected.items()
        if statuses - seen[label]
    }
