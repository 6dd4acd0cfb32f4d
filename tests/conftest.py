"""Fixtures: every database-backed test runs on SQLite and on a throwaway PostgreSQL.

The helpers behind them (apps, accounts, servers) are in tests/support/; the fixtures every
folder uses are here: the backends and their databases, the seeded `app` and `client`, the
role clients (`auth_headers`) and `assert_problem`. A folder's conftest.py adds what only
its modules share.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from api import create_app
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import QueryCounter, seeded_database
from tests.support.problems import check_problem
from tests.support.servers import postgres_server, redis_server

BACKENDS = [b for b in os.environ.get("QBANK_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


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


@pytest.fixture(scope="module")
def redis():
    """A throwaway Redis of the module's own: a test may stop and start it, or flush it."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


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


@pytest.fixture()
def count_queries(app):
    def make() -> QueryCounter:
        with app.app_context():
            return QueryCounter(db.engine)

    return make


@pytest.fixture()
def auth_headers(request):
    """`auth_headers("editor")`: the Authorization header of a new account with that role.

    On the shared `app` unless another is given: `auth_headers("admin", app=my_app)`.
    """

    def make(role: str = "learner", *, app=None) -> dict[str, str]:
        app = app if app is not None else request.getfixturevalue("app")
        return login_headers(app, make_user(app, role))

    return make


@pytest.fixture()
def assert_problem():
    """`assert_problem(response, 404)` (or `..., 404, "not-found"`): an RFC 9457
    problem+json of that status (never cached); returns its body."""
    return check_problem
