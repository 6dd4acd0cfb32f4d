"""Learners report problems with questions; editors list, resolve or dismiss them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.bank.models import Report
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into

Q = "/api/v1/questions"
R = "/api/v1/reports"


@pytest.fixture(scope="module")
def bank_app(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_reports"))
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def client(bank_app):
    return bank_app.test_client()


@pytest.fixture(scope="module")
def editor(bank_app):
    return login_headers(bank_app, make_user(bank_app, "editor"))


@pytest.fixture()
def learner(bank_app):
    return login_headers(bank_app, make_user(bank_app, "learner"))


def report_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Report))
        db.session.remove()
    return count


def test_a_learner_reports_and_an_editor_resolves(bank_app, client, learner, editor):
    filed = client.post(
        f"{Q}/7/reports",
        json={"reason": "outdated", "comment": "Flask 3 uses `flask run`."},
        headers=learner,
    )
    assert filed.status_code == 201, filed.get_json()
    report = filed.get_json()
    assert filed.headers["Location"].endswith(f"{R}/{report['id']}")
    assert (report["question_id"], report["reason"], report["status"]) == (7, "outdated", "open")
    assert report["comment"] == "Flask 3 uses `flask run`."

    view = client.get(f"{Q}/7?include=reports,answer", headers=editor)
    assert view.status_code == 200
    assert view.headers["Cache-Control"] == "private, no-cache"
    assert view.get_json()["open_reports"] >= 1
    assert "answer" in view.get_json()
    assert "open_reports" not in client.get(f"{Q}/7").get_json()  # the public read

    listed = client.get(R, query_string={"status": "open", "question_id": 7}, headers=editor)
    assert listed.status_code == 200
    assert report["id"] in [r["id"] for r in listed.get_json()["data"]]
    assert listed.headers["X-Total-Count"]

    closed = client.patch(
        f"{R}/{report['id']}", json={"status": "resolved", "note": "Rewritten."}, headers=editor
    )
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert (body["status"], body["resolution_note"]) == ("resolved", "Rewritten.")
    assert body["resolved_at"] and body["resolved_by"]
    # the same close again is a no-op; another is a conflict
    again = client.patch(
        f"{R}/{report['id']}", json={"status": "resolved", "note": "Rewritten."}, headers=editor
    )
    assert again.status_code == 200 and again.get_json() == body
    other = client.patch(f"{R}/{report['id']}", json={"status": "dismissed"}, headers=editor)
    assert other.status_code == 409
    # once closed, the learner may report the question again
    refiled = client.post(f"{Q}/7/reports", json={"reason": "typo"}, headers=learner)
    assert refiled.status_code == 201


def test_one_open_report_per_learner_and_question(bank_app, client, learner, assert_problem):
    first = client.post(f"{Q}/3/reports", json={"reason": "ambiguous"}, headers=learner)
    assert first.status_code == 201
    before = report_count(bank_app)
    detail = assert_problem(
        client.post(f"{Q}/3/reports", json={"reason": "incorrect"}, headers=learner), 409
    )
    assert str(first.get_json()["id"]) in detail["detail"]
    assert report_count(bank_app) == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "reason"),
        ({"reason": "boring"}, "reason"),
        ({"reason": "other", "comment": "x" * 1001}, "comment"),
        ({"reason": "other", "comment": "a\x00b"}, "comment"),
        ({"reason": "other", "extra": 1}, "extra"),
    ],
)
def test_bad_reports_are_422_and_store_nothing(
    bank_app, client, learner, body, field, assert_problem
):
    before = report_count(bank_app)
    detail = assert_problem(client.post(f"{Q}/5/reports", json=body, headers=learner), 422)
    assert field in detail["errors"]
    assert report_count(bank_app) == before


def test_who_may_do_what(bank_app, client, learner, editor, assert_problem):
    assert_problem(client.post(f"{Q}/5/reports", json={"reason": "typo"}), 401)
    assert_problem(client.post(f"{Q}/99999/reports", json={"reason": "typo"}, headers=learner), 404)
    assert_problem(client.get(R, headers=learner), 403)
    assert_problem(client.get(R), 401)
    assert_problem(client.get(f"{Q}/5?include=reports", headers=learner), 403)
    assert_problem(client.get(f"{Q}/5?include=reports"), 401)
    assert_problem(client.patch(f"{R}/1", json={"status": "resolved"}, headers=learner), 403)
    assert_problem(client.get(f"{R}/99999", headers=editor), 404)
    assert_problem(client.get(R, query_string={"status": "lost"}, headers=editor), 400)
    assert_problem(client.patch(f"{R}/1", json={"status": "open"}, headers=editor), 422)


def test_reports_are_rate_limited(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_reports_limited"), RATELIMIT_REPORTS="2/hour")
    seed_bank_into(app)
    client, learner = app.test_client(), login_headers(app, make_user(app, "learner"))
    for question_id in (1, 2):
        assert (
            client.post(
                f"{Q}/{question_id}/reports", json={"reason": "typo"}, headers=learner
            ).status_code
            == 201
        )
    refused = client.post(f"{Q}/3/reports", json={"reason": "typo"}, headers=learner)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"]
    with app.app_context():
        db.engine.dispose()
