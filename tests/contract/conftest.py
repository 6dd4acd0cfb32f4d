"""The practice contract tests' seeded bank (with choice questions, TESTING/DEBUG off) and
its learner; package-scoped, one for the modules here that use them."""

from __future__ import annotations

import pytest

from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into
from tests.support.practice_contract import CHOICE_QUESTIONS, V1, Bank, Learner, new_learner


@pytest.fixture(scope="package")
def practice_app(backend, database_factory):
    """A seeded bank of the practice contract tests' own, with choice questions, and
    TESTING/DEBUG off."""
    app = build_app(
        database_factory(backend, "qbank_contract_practice"), TESTING=False, DEBUG=False
    )
    seed_bank_into(app)
    editor = login_headers(app, make_user(app, "editor"))
    for question in CHOICE_QUESTIONS:
        response = app.test_client().post(f"{V1}/questions", json=question, headers=editor)
        assert response.status_code == 201, response.get_json()
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
    learner = new_learner(practice_app)
    client = practice_app.test_client()
    for _ in range(3):
        quiz = client.post(f"{V1}/quizzes", json={"count": 3}, headers=learner.headers)
        assert quiz.status_code == 201, quiz.get_json()
        body = quiz.get_json()
        for question in body["questions"]:
            answered = client.post(
                f"{V1}/questions/{question['id']}/attempts",
                json={"self_rating": "good", "quiz_id": body["id"]},
                headers=learner.headers,
            )
            assert answered.status_code == 201, answered.get_json()
    finished = client.post(f"{V1}/quizzes/{body['id']}/finish", headers=learner.headers)
    assert finished.status_code == 200, finished.get_json()
    return learner
