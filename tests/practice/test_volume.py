"""How much one learner can write: the daily attempt quota, the byte bound on a batch's
answers, bounded quiz filters, expiring Idempotency-Keys (and their purge), and when an
offline attempt may say it was answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from api.extensions import db
from api.practice.models import Attempt, IdempotencyRecord, Quiz, ReviewState
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into
from tests.support.practice import (
    V1,
    Q,
    attempt,
    attempts_total,
    batch,
    created,
    item,
    new_learner,
    past,
    stored,
    user_id,
    when,
)

QUOTA = 3


@pytest.fixture(scope="module")
def quota_app(backend, database_factory):
    """A seeded bank allowing each learner three attempts a day."""
    app = build_app(database_factory(backend, "qbank_practice_quota"), ATTEMPTS_PER_DAY=QUOTA)
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _question_ids(app, count: int) -> list[int]:
    body = app.test_client().get(Q, query_string={"per_page": count, "sort": "id"}).get_json()
    return [q["id"] for q in body["data"]]


def _refused_for_quota(response, assert_problem, used: int) -> dict:
    problem = assert_problem(response, 429, "attempt-quota-exceeded")
    assert problem["limit"] == QUOTA and problem["used"] == used
    resets = when(problem["resets_at"])
    assert resets.time() == datetime.min.time() and resets.tzinfo is not None
    assert resets.utcoffset() == timedelta(0)
    # Until midnight UTC: whole seconds, at most a day.
    assert 1 <= int(response.headers["Retry-After"]) <= 86400
    assert resets - timedelta(days=1) <= datetime.now(UTC) < resets
    return problem


# --- the daily quota ----------------------------------------------------------------------


def test_attempts_beyond_the_daily_quota_are_429_and_stored_nowhere(quota_app, assert_problem):
    client, learner = quota_app.test_client(), new_learner(quota_app)
    ids = _question_ids(quota_app, QUOTA + 1)
    for qid in ids[:QUOTA]:
        created(attempt(client, learner, qid, self_rating="good"))
    refused = attempt(client, learner, ids[QUOTA], self_rating="good")
    _refused_for_quota(refused, assert_problem, used=QUOTA)
    assert attempts_total(client, learner) == QUOTA
    assert stored(quota_app, ReviewState, user_id(client, learner)) == QUOTA
    # Another learner has a quota of their own.
    created(attempt(client, new_learner(quota_app), ids[QUOTA], self_rating="good"))


def test_a_batch_that_would_pass_the_quota_is_refused_whole(quota_app, assert_problem):
    client, learner = quota_app.test_client(), new_learner(quota_app)
    first, second, third = _question_ids(quota_app, 3)
    created(attempt(client, learner, first, self_rating="good"))
    refused = batch(
        client,
        learner,
        item(second, past(hours=2), self_rating="good"),
        item(third, past(hours=1), self_rating="good"),
        item(first, past(minutes=1), self_rating="good"),
    )
    problem = _refused_for_quota(refused, assert_problem, used=1)
    assert "This request adds 3, and 2 are left." in problem["detail"]
    assert attempts_total(client, learner) == 1
    assert (
        len(
            created(batch(client, learner, item(second, past(hours=2), self_rating="good")))["data"]
        )
        == 1
    )
    assert attempts_total(client, learner) == 2


def test_concurrent_batches_cannot_pass_the_quota_together(quota_app):
    """Each batch of two fits the quota of three alone, but only one of them can be
    stored: the count is read with the learner's row locked, in the storing transaction."""
    learner = new_learner(quota_app)
    ids = _question_ids(quota_app, 12)

    def upload(n: int) -> int:
        pair = [
            item(ids[2 * n], past(hours=2), self_rating="good"),
            item(ids[2 * n + 1], past(hours=1), self_rating="good"),
        ]
        return batch(quota_app.test_client(), learner, *pair).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(upload, range(6)))
    assert statuses == [201, 429, 429, 429, 429, 429]
    assert attempts_total(quota_app.test_client(), learner) == 2


def test_the_quota_counts_the_current_utc_day_only(quota_app):
    client, learner = quota_app.test_client(), new_learner(quota_app)
    ids = _question_ids(quota_app, QUOTA + 1)
    for qid in ids[:QUOTA]:
        created(attempt(client, learner, qid, self_rating="good"))
    uid = user_id(client, learner)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with quota_app.app_context():
        db.session.execute(
            update(Attempt)
            .where(Attempt.user_id == uid)
            .values(created_at=midnight - timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
    created(attempt(client, learner, ids[QUOTA], self_rating="good"))


def test_a_replay_is_not_refused_by_a_full_quota(quota_app):
    client, learner = quota_app.test_client(), new_learner(quota_app)
    ids = _question_ids(quota_app, QUOTA)
    keyed = {**learner, "Idempotency-Key": "before-the-quota"}
    first = created(attempt(client, keyed, ids[0], self_rating="good"))
    for qid in ids[1:]:
        created(attempt(client, learner, qid, self_rating="good"))
    repeat = attempt(client, keyed, ids[0], self_rating="good")
    assert created(repeat) == first
    assert repeat.headers["Idempotent-Replayed"] == "true"


# --- the batch's bytes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, items",
    [("x" * 5000, 14), ("\u00e9" * 5000, 7)],  # 70,000 bytes of UTF-8 each
    ids=["ascii", "two-byte"],
)
def test_a_batch_of_too_many_answer_bytes_is_413(
    bank_app, client, learner, slugs, assert_problem, text, items
):
    qid = slugs["what-is-flask"]
    body = [item(qid, past(hours=i + 1), answer=text) for i in range(items)]
    response = batch(client, learner, *body)
    problem = assert_problem(response, 413, "batch-too-large")
    assert problem["limit"] == 64 * 1024 and problem["size"] == 70_000
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0


# --- quiz filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"difficulty": ["easy"] * 21}, "difficulty"),
        ({"type": ["open"] * 21}, "type"),
        ({"difficulty": ["easy"] * 100_000}, "difficulty"),
        ({"topic": ["routing"] * 21}, "topic"),
        ({"tag": ["wsgi"] * 21}, "tag"),
    ],
    ids=["difficulty", "type", "difficulty-100000", "topic", "tag"],
)
def test_quiz_filter_lists_are_bounded(bank_app, client, learner, body, field, assert_problem):
    detail = assert_problem(client.post(f"{V1}/quizzes", json=body, headers=learner), 422)
    assert field in detail["errors"]
    assert stored(bank_app, Quiz, user_id(client, learner)) == 0


def test_a_quiz_stores_each_filter_value_once(client, learner):
    quiz = created(
        client.post(
            f"{V1}/quizzes",
            json={"count": 1, "difficulty": ["easy", "easy", "medium"] * 6, "type": ["open"] * 20},
            headers=learner,
        )
    )
    assert quiz["filters"] == {
        "topic": [],
        "tag": [],
        "difficulty": ["easy", "medium"],
        "type": ["open"],
    }


@pytest.mark.parametrize("name, value", [("difficulty", "easy"), ("type", "open")])
def test_review_filter_lists_are_bounded(client, learner, name, value, assert_problem):
    response = client.get(
        f"{V1}/review", query_string={name: ",".join([value] * 21)}, headers=learner
    )
    assert name in assert_problem(response, 400)["errors"]


# --- idempotency records expire -------------------------------------------------------------


def _age_records(app, uid: int, by: timedelta) -> None:
    with app.app_context():
        db.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.user_id == uid)
            .values(created_at=datetime.now(UTC) - by)
        )
        db.session.commit()
        db.session.remove()


def test_an_expired_idempotency_key_is_a_new_key(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    keyed = {**learner, "Idempotency-Key": "yesterday"}
    first = created(attempt(client, keyed, qid, self_rating="good"))
    _age_records(bank_app, user_id(client, learner), timedelta(hours=24, seconds=1))
    # The same request runs again, and so does another one with the key.
    again = attempt(client, keyed, qid, self_rating="good")
    assert "Idempotent-Replayed" not in again.headers
    assert created(again)["id"] != first["id"]
    repeat = attempt(client, keyed, qid, self_rating="good")
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert created(repeat)["id"] == created(again)["id"]
    assert attempts_total(client, learner) == 2
    assert stored(bank_app, IdempotencyRecord, user_id(client, learner)) == 1
    _age_records(bank_app, user_id(client, learner), timedelta(hours=25))
    other = attempt(client, keyed, qid, self_rating="hard")  # was a 422 within the lifetime
    assert created(other)["self_rating"] == "hard"
    assert attempts_total(client, learner) == 3


def test_a_key_within_its_lifetime_still_replays(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    keyed = {**learner, "Idempotency-Key": "this-morning"}
    first = created(attempt(client, keyed, qid, self_rating="good"))
    _age_records(bank_app, user_id(client, learner), timedelta(hours=23))
    repeat = attempt(client, keyed, qid, self_rating="good")
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert created(repeat) == first


def test_purge_idempotency_deletes_expired_records_only(bank_app, client, slugs):
    qid = slugs["what-is-flask"]
    old, fresh = new_learner(bank_app), new_learner(bank_app)
    for i in range(2):
        created(attempt(client, {**old, "Idempotency-Key": f"old-{i}"}, qid, self_rating="good"))
    created(attempt(client, {**fresh, "Idempotency-Key": "fresh"}, qid, self_rating="good"))
    _age_records(bank_app, user_id(client, old), timedelta(days=2))
    with bank_app.app_context():
        cutoff = datetime.now(UTC) - timedelta(hours=24)
        expired = db.session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.created_at < cutoff)
        )
        db.session.remove()
    result = bank_app.test_cli_runner().invoke(args=["purge-idempotency"])
    assert result.exit_code == 0, result.output
    assert result.output == f"purged {expired} idempotency records older than 24 hours\n"
    assert expired >= 2
    assert stored(bank_app, IdempotencyRecord, user_id(client, old)) == 0
    assert stored(bank_app, IdempotencyRecord, user_id(client, fresh)) == 1
    again = bank_app.test_cli_runner().invoke(args=["purge-idempotency"])
    assert again.output.startswith("purged 0 ")


# --- answered_at ----------------------------------------------------------------------------


def test_an_attempt_answered_before_the_account_existed_is_422(
    bank_app, client, slugs, assert_problem
):
    email = make_user(bank_app, "learner")  # registered just now
    learner = login_headers(bank_app, email)
    response = batch(
        client,
        learner,
        item(slugs["what-is-flask"], past(minutes=1) + timedelta(minutes=2), self_rating="good"),
        item(slugs["define-route"], past(days=1), self_rating="good"),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert list(problem["errors"]) == ["attempts.1.answered_at"]
    assert "Before your account was created" in problem["errors"]["attempts.1.answered_at"][0]
    assert attempts_total(client, learner) == 0


def test_an_attempt_answered_before_the_cards_last_review_is_422(
    bank_app, client, learner, slugs, assert_problem
):
    qid, other = slugs["what-is-flask"], slugs["define-route"]
    created(batch(client, learner, item(qid, past(hours=1), self_rating="good")))
    response = batch(
        client,
        learner,
        item(other, past(hours=3), self_rating="good"),
        item(qid, past(hours=2), self_rating="good"),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert list(problem["errors"]) == ["attempts.1.answered_at"]
    assert "Before your last review" in problem["errors"]["attempts.1.answered_at"][0]
    assert attempts_total(client, learner) == 1
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 1
    # At or after it is fine; so is a card answered online now, then nothing earlier.
    created(batch(client, learner, item(qid, past(hours=1), self_rating="hard")))
    created(attempt(client, learner, other, self_rating="good"))
    refused = batch(client, learner, item(other, past(minutes=10), self_rating="good"))
    assert "attempts.0.answered_at" in assert_problem(refused, 422)["errors"]


def test_answered_at_may_run_a_little_ahead_of_the_server(client, learner, slugs, assert_problem):
    qid = slugs["what-is-flask"]
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    reply = created(batch(client, learner, item(qid, ahead, self_rating="good")))["data"][0]
    # Taken as the server's now: a card never moves into the future.
    assert when(reply["answered_at"]) <= when(reply["created_at"]) < ahead
    too_far = datetime.now(UTC) + timedelta(minutes=6)
    refused = batch(client, learner, item(qid, too_far, self_rating="good"))
    problem = assert_problem(refused, 422, "validation-error")
    assert problem["errors"] == {
        "attempts.0.answered_at": [
            "In the future (more than 5 minutes ahead of the server's clock)."
        ]
    }
    assert attempts_total(client, learner) == 1
