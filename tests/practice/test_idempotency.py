"""Idempotency-Key replays, and offline batches of attempts applied in answer order, all or
nothing."""

from __future__ import annotations

import pytest

from api.practice.models import Attempt, IdempotencyRecord, ReviewState
from tests.support.practice import (
    ATTEMPT_FIELDS,
    TEACHING_FIELDS,
    V1,
    Q,
    attempts_total,
    batch,
    created,
    item,
    new_learner,
    past,
    review,
    stored,
    user_id,
    when,
)

# --- idempotency ---------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response(bank_app, client, learner, slugs):
    qid = slugs["create-flask-application"]
    keyed = {**learner, "Idempotency-Key": "attempt-0001"}
    body = {"answer": "Create a Flask instance, define routes and run the development server."}
    first = client.post(f"{Q}/{qid}/attempts", json=body, headers=keyed)
    original = created(first)
    assert "Idempotent-Replayed" not in first.headers
    repeat = client.post(f"{Q}/{qid}/attempts", json=body, headers=keyed)
    assert created(repeat) == original
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.headers["Location"] == first.headers["Location"]
    assert attempts_total(client, learner, question_id=qid) == 1
    uid = user_id(client, learner)
    assert stored(bank_app, Attempt, uid) == 1
    assert stored(bank_app, IdempotencyRecord, uid) == 1


@pytest.mark.parametrize(
    "path, body",
    [
        ("create-flask-application", {"self_rating": "easy"}),  # another body
        ("what-is-flask", {"self_rating": "good"}),  # another question
    ],
)
def test_idempotency_key_reused_for_another_request_is_422(
    client, learner, slugs, path, body, assert_problem
):
    keyed = {**learner, "Idempotency-Key": "reused"}
    qid = slugs["create-flask-application"]
    created(client.post(f"{Q}/{qid}/attempts", json={"self_rating": "good"}, headers=keyed))
    detail = assert_problem(
        client.post(f"{Q}/{slugs[path]}/attempts", json=body, headers=keyed), 422
    )
    assert "Idempotency-Key" in detail["errors"]
    assert attempts_total(client, learner) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
def test_invalid_idempotency_key_is_422(client, learner, slugs, key, assert_problem):
    response = client.post(
        f"{Q}/{slugs['what-is-flask']}/attempts",
        json={"self_rating": "good"},
        headers={**learner, "Idempotency-Key": key},
    )
    assert assert_problem(response, 422)["errors"] == {"Idempotency-Key": ["Invalid key."]}
    assert attempts_total(client, learner) == 0


def test_idempotency_keys_are_per_user(client, slugs):
    app = client.application
    url = f"{Q}/{slugs['what-is-flask']}/attempts"
    mine, theirs = new_learner(app), new_learner(app)
    first = created(
        client.post(url, json={"self_rating": "good"}, headers={**mine, "Idempotency-Key": "k1"})
    )
    response = client.post(
        url, json={"self_rating": "good"}, headers={**theirs, "Idempotency-Key": "k1"}
    )
    other = created(response)
    assert "Idempotent-Replayed" not in response.headers
    assert other["id"] != first["id"]
    assert client.get(f"{V1}/attempts/{other['id']}", headers=theirs).status_code == 200
    assert attempts_total(client, mine) == attempts_total(client, theirs) == 1


def test_quiz_creation_is_idempotent(client, learner):
    keyed = {**learner, "Idempotency-Key": "quiz-1"}
    first = client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=keyed)
    quiz = created(first)
    repeat = client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=keyed)
    assert created(repeat) == quiz
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.headers["Location"] == first.headers["Location"]
    fresh = created(
        client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=learner)
    )
    assert not {q["id"] for q in fresh["questions"]} & {q["id"] for q in quiz["questions"]}


# --- offline batch -------------------------------------------------------------------------


def test_batch_is_processed_in_answer_order(client, learner, slugs):
    qid = slugs["what-is-a-view-function"]
    later, earlier = past(hours=1), past(hours=2)
    response = batch(
        client,
        learner,
        item(qid, later, self_rating="good"),
        item(qid, earlier, answer="It is a database."),
    )
    body = created(response)
    assert "Location" not in response.headers
    replies = body["data"]
    assert [when(r["answered_at"]) for r in replies] == [earlier, later]
    assert [r["kind"] for r in replies] == ["free_text", "self_rating"]
    assert [r["rating"] for r in replies] == ["again", "good"]
    assert set(replies[0]) == ATTEMPT_FIELDS | TEACHING_FIELDS
    assert when(replies[1]["next_review_at"]) > when(replies[0]["next_review_at"])
    # The card ends where the later answer left it (due by now: a learning step).
    queue = review(client, learner, topic="routing", limit=1)
    assert queue["data"][0]["question"]["id"] == qid
    assert when(queue["data"][0]["due"]) == when(replies[1]["next_review_at"])
    listed = client.get(f"{V1}/attempts", headers=learner).get_json()["data"]
    assert [a["id"] for a in listed] == [replies[1]["id"], replies[0]["id"]]


def test_batch_with_an_unknown_question_stores_nothing(
    bank_app, client, learner, slugs, assert_problem
):
    response = batch(
        client,
        learner,
        item(slugs["what-is-flask"], past(hours=3), self_rating="good"),
        item(999_999, past(hours=2), self_rating="good"),
    )
    assert assert_problem(response, 404)["detail"] == "There is no question 999999."
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0
    assert review(client, learner)["meta"]["new_today_remaining"] == 10


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"answered_at": "2999-01-01T00:00:00Z", "self_rating": "good"}, "attempts.1.answered_at"),
        ({"answered_at": "2020-01-01T00:00:00", "self_rating": "good"}, "attempts.1.answered_at"),
        (
            {"answered_at": "0001-01-01T00:30:00+01:00", "self_rating": "good"},
            "attempts.1.answered_at",
        ),
        ({"answered_at": "yesterday", "self_rating": "good"}, "attempts.1.answered_at"),
        ({"self_rating": "good"}, "attempts.1.answered_at"),
        ({"answered_at": past(days=2).isoformat()}, "attempts.1._schema"),
        ({"answered_at": past(days=2).isoformat(), "choices": [0]}, "choices"),
    ],
)
def test_batch_with_one_bad_item_is_422_and_stores_nothing(
    bank_app, client, learner, slugs, bad, field, assert_problem
):
    good = item(slugs["what-is-flask"], past(hours=3), self_rating="good")
    response = batch(client, learner, good, {"question_id": slugs["define-route"], **bad})
    detail = assert_problem(response, 422)
    assert field in detail["errors"], detail
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"attempts": []},
        {"attempts": {}},
        {"attempts": [item(1, past(hours=1), self_rating="good")] * 101},
    ],
)
def test_batch_envelope_validation(client, learner, body, assert_problem):
    response = client.post(f"{V1}/attempts/batch", json=body, headers=learner)
    assert "attempts" in assert_problem(response, 422)["errors"]


def test_batch_is_idempotent(client, learner, slugs):
    keyed = {**learner, "Idempotency-Key": "offline-sync-7"}
    body = {"attempts": [item(slugs["what-is-flask"], past(hours=1), self_rating="hard")]}
    first = created(client.post(f"{V1}/attempts/batch", json=body, headers=keyed))
    repeat = client.post(f"{V1}/attempts/batch", json=body, headers=keyed)
    assert created(repeat) == first
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert attempts_total(client, learner) == 1
