"""The accounts tests' own database, empty (they register their accounts), with TESTING on
and off; package-scoped, one for every module here. `client` is the test client of it."""

from __future__ import annotations

import pytest

from api import create_app
from api.config import TestConfig
from api.extensions import db
from tests.support.apps import build_app


@pytest.fixture(scope="package")
def auth_url(backend, database_factory) -> str:
    return database_factory(backend, "qbank_auth")


@pytest.fixture(scope="package")
def test_app(auth_url):
    app = build_app(auth_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="package")
def live_prod_app(auth_url, test_app):
    """TESTING and DEBUG off, on the same database as test_app."""
    app = create_app(TestConfig(auth_url, TESTING=False, DEBUG=False))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(params=["testing", "production"])
def any_app(request, test_app, live_prod_app):
    return test_app if request.param == "testing" else live_prod_app


@pytest.fixture()
def client(test_app):
    return test_app.test_client()
