"""The practice contract tests' seeded bank (with choice questions, TESTING/DEBUG off) and
its learner; package-scoped, one for the modules here that use them."""

from __future__ import annotations

import pytest

from api.extensions import db
from tests.support.practice_contract import Bank, Learner, build_practice_app, prepared_learner


@pytest.fixture(scope="package")
def practice_app(backend, database_factory):
    """A seeded bank of the practice contract tests' own, with choice questions, and
    TESTING/DEBUG off."""
    app = build_practice_app(database_factory(backend, "qbank_contract_practice"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="package")
def bank(practice_app) -> Bank:
    return Bank.of(practice_app)


@pytest.fixture(scope="package")
def learner(practice_app) -> Learner:
    """The learner of the run, with quizzes (one finished) and attempts to read."""
    return prepared_learner(practice_app)
