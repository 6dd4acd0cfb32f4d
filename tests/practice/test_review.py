"""Scheduling and the review queue: due cards, new questions per day in the learner's own
day, a lost race for a card, and a fixed number of statements per attempt."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import bindparam, null, select

from api.extensions import db
from api.practice import attempts as practice
from api.practice.models import ReviewState
from tests.support.apps import QueryCounter, slugs
from tests.support.practice import (
    ANSWER_FIELDS,
    V1,
    attempt,
    attempts_total,
    batch,
    created,
    far_zone,
    item,
    local,
    new_learner,
    past,
    review,
    topic_ids,
    user_id,
    when,
)

# --- scheduling and the review queue -------------------------------------------------------


def test_next_review_is_later_the_better_the_answer(client, learner, slugs):
    def wait(slug: str, rating: str) -> timedelta:
        body = created(attempt(client, learner, slugs[slug], self_rating=rating))
        return when(body["next_review_at"]) - when(body["answered_at"])

    again = wait("what-is-jinja2", "again")
    good = wait("render-html-template", "good")
    easy = wait("request-object", "easy")
    assert timedelta(0) < again < good < easy
    assert again <= timedelta(hours=1)  # due again within the session
    assert easy >= timedelta(days=1)


def test_after_again_the_question_is_due_soon_and_not_offered_as_new(client, learner, slugs):
    qid = slugs["what-is-jinja2"]
    now = created(attempt(client, learner, qid, self_rating="again"))
    assert when(now["next_review_at"]) - when(now["answered_at"]) <= timedelta(hours=1)
    # No longer new.
    queue = review(client, learner, topic="templates")
    assert queue["data"]
    assert ("new", qid) not in [(entry["kind"], entry["question"]["id"]) for entry in queue["data"]]
    # The same `again` an hour earlier: due by now.
    earlier = new_learner(client.application)
    assert batch(client, earlier, item(qid, past(hours=1), self_rating="again")).status_code == 201
    queue = review(client, earlier, topic="templates")
    assert queue["data"][0]["kind"] == "review"
    assert queue["data"][0]["question"]["id"] == qid
    assert queue["meta"]["due_total"] == 1


def test_review_lists_due_cards_most_overdue_first_mixed_with_new(client, learner):
    routing = topic_ids(client, "routing")
    assert len(routing) >= 6
    # Overdue by different amounts, in an order unlike the ids.
    first, second, third = routing[2], routing[0], routing[1]
    answered = batch(
        client,
        learner,
        item(second, past(days=2), self_rating="again"),
        item(first, past(days=3), self_rating="again"),
        item(third, past(days=1), self_rating="again"),
    )
    assert answered.status_code == 201, answered.get_json()
    queue = review(client, learner, topic="routing", limit=6)
    kinds = [entry["kind"] for entry in queue["data"]]
    assert kinds == ["review", "new", "review", "new", "review", "new"]
    due = [entry for entry in queue["data"] if entry["kind"] == "review"]
    assert [entry["question"]["id"] for entry in due] == [first, second, third]
    assert when(due[0]["due"]) < when(due[1]["due"]) < when(due[2]["due"])
    new = [entry for entry in queue["data"] if entry["kind"] == "new"]
    assert [entry["question"]["id"] for entry in new] == routing[3:6]
    assert all(entry["due"] is None for entry in new)
    for entry in queue["data"]:
        assert "routing" in slugs(entry["question"]["topics"])
        assert not ANSWER_FIELDS & set(entry["question"])
    assert queue["meta"] == {
        "due_total": 3,
        "new_today_remaining": 10,  # the batch was answered on earlier days
        "new_per_day": 10,
        "timezone": "UTC",
    }
    # A small limit keeps the most overdue.
    short = review(client, learner, topic="routing", limit=2)
    assert [entry["question"]["id"] for entry in short["data"]] == [first, second]
    assert short["meta"]["due_total"] == 3


@pytest.mark.parametrize(
    "args", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"topic": "Not A Slug"}, {"q": "x"}]
)
def test_review_query_validation(client, learner, args, assert_problem):
    detail = assert_problem(client.get(f"{V1}/review", query_string=args, headers=learner), 400)
    assert set(args) <= set(detail["errors"])


def test_new_questions_stop_after_the_daily_limit(limited_app):
    client = limited_app.test_client()
    learner = new_learner(limited_app)
    fresh = review(client, learner)
    assert [entry["kind"] for entry in fresh["data"]] == ["new"] * 3
    assert fresh["meta"]["new_today_remaining"] == 3
    assert fresh["meta"]["new_per_day"] == 3
    ids = [entry["question"]["id"] for entry in fresh["data"]]
    for qid in ids[:2]:
        created(attempt(client, learner, qid, self_rating="easy"))
    after_two = review(client, learner)
    assert [entry["kind"] for entry in after_two["data"]] == ["new"]
    assert after_two["data"][0]["question"]["id"] == ids[2]
    assert after_two["meta"]["new_today_remaining"] == 1
    created(attempt(client, learner, ids[2], self_rating="easy"))
    spent = review(client, learner)
    assert spent["data"] == []
    assert spent["meta"]["new_today_remaining"] == 0
    assert spent["meta"]["due_total"] == 0
    # Other learners have their own allowance.
    assert len(review(client, new_learner(limited_app))["data"]) == 3


def test_the_new_question_day_starts_at_the_learners_midnight(limited_app):
    client = limited_app.test_client()
    zone = far_zone()
    midnight = local(datetime.now(zone).date(), 0, 0, zone)
    ids = topic_ids(client, "extensions")[:3]
    items = [
        item(ids[0], midnight - timedelta(minutes=2), self_rating="easy"),
        item(ids[1], midnight - timedelta(minutes=1), self_rating="easy"),
        item(ids[2], midnight + timedelta(minutes=1), self_rating="easy"),
    ]
    learner = new_learner(limited_app, timezone=zone.key)
    assert batch(client, learner, *items).status_code == 201
    queue = review(client, learner)
    assert queue["meta"]["timezone"] == zone.key
    assert queue["meta"]["new_today_remaining"] == 2  # only the one after local midnight
    assert [entry["kind"] for entry in queue["data"]] == ["new", "new"]
    # In UTC the three fall on one day: all of them count today, or none does.
    utc_learner = new_learner(limited_app)
    assert batch(client, utc_learner, *items).status_code == 201
    assert review(client, utc_learner)["meta"]["new_today_remaining"] in (0, 3)


def test_a_first_attempt_that_lost_the_race_for_the_card_moves_the_winners_card_on(
    bank_app, client, learner, slugs, backend, monkeypatch
):
    """Two first attempts on one card in parallel: both read no card, one inserts it. The
    other's insert does nothing, so it locks the winner's card and reviews that instead.
    The race is staged: the second attempt reads the card as if it were not there yet."""
    qid = slugs["what-is-jinja2"]
    first = created(attempt(client, learner, qid, self_rating="good"))
    uid = user_id(client, learner)
    questions = practice._questions
    before_the_winner = select(
        *practice._QUESTION_COLUMNS,
        null().label("card"),
        null().label("reviews"),
        null().label("lapses"),
    ).where(questions.c.id == bindparam("card_question_id"))
    monkeypatch.setitem(practice._QUESTION_AND_CARD, backend, before_the_winner)
    second = created(attempt(client, learner, qid, self_rating="again"))
    monkeypatch.undo()
    assert second["grade"]["passed"] is False
    with bank_app.app_context():
        card = db.session.get(ReviewState, (uid, qid))
        assert (card.reviews, card.lapses, card.last_passed) == (2, 1, False)
        assert card.first_reviewed_at == when(first["answered_at"])
        assert card.last_reviewed_at == when(second["answered_at"])
        assert card.due == when(second["next_review_at"])
        db.session.remove()
    assert attempts_total(client, learner, question_id=qid) == 2


def test_an_attempt_takes_a_fixed_number_of_statements(backend, bank_app, client, learner, slugs):
    """The session check with the user, today's count for the quota (on PostgreSQL after
    locking the learner's row), the question with the card, the card's write and the
    attempt's insert; a keyed attempt also looks up and stores its replay record."""
    qid = slugs["what-is-flask"]
    quota = 2 if backend == "postgresql" else 1

    def statements(**headers) -> list[str]:
        with bank_app.app_context():
            with QueryCounter(db.engine) as counter:
                created(attempt(client, {**learner, **headers}, qid, self_rating="good"))
        return counter.statements

    first, review = statements(), statements()
    assert len(first) == len(review) == 4 + quota, first + review
    assert not [s for s in first + review if "topics" in s or "tags" in s]
    assert len(statements(**{"Idempotency-Key": "counted"})) == 6 + quota
