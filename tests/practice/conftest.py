"""The practice tests' own seeded banks, and role clients on them.

Every test runs on SQLite and on PostgreSQL, against a seeded bank of the practice tests'
own (these tests write): package-scoped, one for every module here. Each test makes its own
learners, so their histories never mix. Times are compared with each other, never with the
wall clock to a tolerance.
"""

from __future__ import annotations

import pytest

from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into
from tests.support.practice import Q, new_learner


@pytest.fixture(scope="package")
def bank_app(backend, database_factory):
    """A seeded bank of the practice tests' own: they write to it."""
    app = build_app(database_factory(backend, "qbank_practice"))
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="package")
def limited_app(backend, database_factory):
    """Another seeded bank, offering only three new questions a day."""
    app = build_app(database_factory(backend, "qbank_practice_daily"), NEW_QUESTIONS_PER_DAY=3)
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def client(bank_app):
    return bank_app.test_client()


@pytest.fixture(scope="package")
def editor(bank_app):
    return login_headers(bank_app, make_user(bank_app, "editor"))


@pytest.fixture(scope="package")
def admin(bank_app):
    return login_headers(bank_app, make_user(bank_app, "admin"))


@pytest.fixture()
def learner(bank_app):
    """A new learner's Authorization header, for this test alone."""
    return new_learner(bank_app)


@pytest.fixture(scope="package")
def slugs(bank_app) -> dict[str, int]:
    """Question ids by slug."""
    client, found, page = bank_app.test_client(), {}, 1
    while True:
        response = client.get(Q, query_string={"per_page": 100, "page": page})
        found.update({q["slug"]: q["id"] for q in response.get_json()["data"]})
        if len(found) >= int(response.headers["X-Total-Count"]):
            return found
        page += 1


@pytest.fixture(scope="package")
def choice_questions(bank_app, editor) -> dict[str, int]:
    """A multiple-choice (correct: 0 and 2) and a true/false (correct: False) question."""
    client = bank_app.test_client()
    mc = client.post(
        Q,
        json={
            "prompt": "Which of these are Flask extensions?",
            "answer": "Flask-WTF and Flask-Login are Flask extensions; Django REST is not.",
            "key_points": ["Flask-WTF", "Flask-Login"],
            "type": "multiple_choice",
            "choices": ["Flask-WTF", "Django REST framework", "Flask-Login", "Rails"],
            "correct_choices": [0, 2],
            "note": "Extensions are named Flask-Something by convention.",
            "difficulty": "easy",
            "topics": ["extensions"],
            "tags": ["practice-test"],
        },
        headers=editor,
    )
    assert mc.status_code == 201, mc.get_json()
    tf = client.post(
        Q,
        json={
            "prompt": "Flask ships with a built-in ORM.",
            "answer": "False: Flask leaves the database layer to extensions.",
            "key_points": ["no built-in ORM"],
            "type": "true_false",
            "correct_choices": [1],
            "difficulty": "easy",
            "topics": ["extensions"],
            "tags": ["practice-test"],
        },
        headers=editor,
    )
    assert tf.status_code == 201, tf.get_json()
    return {"multiple_choice": mc.get_json()["id"], "true_false": tf.get_json()["id"]}
