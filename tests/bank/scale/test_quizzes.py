"""Quizzes over 100,000 questions draw from the worker's id pool: after the pool's first
read (one index scan of the ids), starting a quiz visits no more than its own rows."""

from __future__ import annotations

import pytest

from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import temporary_app
from tests.support.scale import Bank, StatementCapture

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "body", [{"count": 10}, {"count": 10, "type": ["open"]}], ids=["all", "open"]
)
def test_a_quiz_reads_no_whole_pool_once_the_ids_are_pooled(backend, bank_url, body):
    with temporary_app(bank_url, RESPONSE_CACHE_MAX_BYTES=0) as app:
        with app.app_context():
            pooled = Bank(backend, app, db.engine)
        headers = login_headers(app, make_user(app))
        client = app.test_client()
        first = client.post("/api/v1/quizzes", json=body, headers=headers)
        assert first.status_code == 201, first.get_json()
        with StatementCapture(pooled.engine) as capture:
            second = client.post("/api/v1/quizzes", json=body, headers=headers)
        assert second.status_code == 201, second.get_json()
        questions = second.get_json()["questions"]
        assert len(questions) == 10
        had = {q["id"] for q in first.get_json()["questions"]}
        assert not had & {q["id"] for q in questions}  # never a question of an earlier quiz
        if "type" in body:
            assert {q["type"] for q in questions} == {"open"}
        for statement, parameters in capture.calls():
            if "FROM questions" not in statement or not statement.startswith("SELECT"):
                continue
            plan = pooled.explain(statement, parameters)
            if backend == "sqlite":
                assert not plan.full_scans_of_questions(), (statement, plan)
            else:
                assert not plan.seq_scans_of_questions(), (statement, plan)
