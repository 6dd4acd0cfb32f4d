"""The learner's final word on a grade (PATCH /attempts/{id}), and `flask regrade`.

An override reschedules the card as if the learner's rating had been given: the tests
rebuild the expected card with the FSRS scheduler from the attempts' own times and
ratings, and compare it with what the API stored.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from api.extensions import db
from api.practice import scheduling
from api.practice.grading import GRADER_VERSION
from api.practice.models import Attempt, ReviewState
from tests.support.practice import (
    ATTEMPT_FIELDS,
    V1,
    attempt,
    batch,
    created,
    item,
    new_learner,
    past,
    user_id,
    when,
)

WRONG = "Flask is a database engine for storing tables."
UNCERTAIN = "micro framework lightweight"  # borderline: a looser or stricter rule flips it


def patch(client, headers, attempt_id: int, **body):
    return client.patch(f"{V1}/attempts/{attempt_id}", json=body, headers=headers)


def card(app, uid: int, question_id: int) -> ReviewState | None:
    with app.app_context():
        state = db.session.get(ReviewState, (uid, question_id))
        if state is not None:
            db.session.expunge(state)
        db.session.remove()
    return state


def expected_card(*reviews: tuple[scheduling.Rating, str]) -> scheduling.Review:
    state = None
    for rating, at in reviews:
        review = scheduling.schedule(card=state, rating=rating, reviewed_at=when(at))
        state = review.state
    return review


def test_an_uncertain_grade_invites_the_learner(client, learner, slugs):
    body = created(attempt(client, learner, slugs["what-is-flask"], answer=UNCERTAIN))
    assert body["grade"]["confidence"] == "uncertain"
    assert f"PATCH {V1}/attempts/{body['id']}" in body["override_hint"]
    clear = created(attempt(client, learner, slugs["how-to-install-flask"], answer=WRONG))
    assert clear["grade"]["confidence"] == "clear_fail"
    assert clear["override_hint"] is None


def test_override_reschedules_as_if_the_rating_had_been_given(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    graded = created(attempt(client, learner, qid, answer=WRONG))
    assert (graded["rating"], graded["passed"], graded["override"]) == ("again", False, None)

    response = patch(client, learner, graded["id"], self_rating="good")
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == ATTEMPT_FIELDS
    assert (body["rating"], body["passed"]) == ("good", True)
    assert body["override"]["self_rating"] == "good"
    assert body["override"]["graded_rating"] == "again"
    assert when(body["override"]["overridden_at"]) >= when(graded["created_at"])
    # the grade itself is the grader's and stays as it was
    assert body["grade"] == graded["grade"]

    expected = expected_card((scheduling.Rating.Good, graded["answered_at"]))
    state = card(bank_app, user_id(client, learner), qid)
    assert state.card == expected.state
    assert state.due == expected.due == when(body["next_review_at"])
    assert (state.reviews, state.lapses, state.last_passed) == (1, 0, True)
    assert client.get(f"{V1}/attempts/{graded['id']}", headers=learner).get_json() == body

    stats = client.get(f"{V1}/me/stats", headers=learner).get_json()
    assert stats["overrides"] == {"total": 1, "raised": 1, "lowered": 0}
    assert (stats["attempts"], stats["passed"]) == (1, 1)


def test_override_replays_the_whole_history(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    first, second = past(days=3), past(days=1)
    replies = created(
        batch(
            client,
            learner,
            item(qid, first, self_rating="again"),
            item(qid, second, self_rating="hard"),
        )
    )["data"]
    body = patch(client, learner, replies[1]["id"], self_rating="easy").get_json()
    assert body["rating"] == "easy" and body["override"]["graded_rating"] == "hard"
    expected = expected_card(
        (scheduling.Rating.Again, first.isoformat()),
        (scheduling.Rating.Easy, second.isoformat()),
    )
    state = card(bank_app, user_id(client, learner), qid)
    assert state.card == expected.state
    assert (state.reviews, state.lapses, state.last_passed) == (2, 1, True)
    # and back down: lowering is counted too, the replaced rating stays the grader's
    lowered = patch(client, learner, replies[1]["id"], self_rating="again").get_json()
    assert lowered["override"]["graded_rating"] == "hard"
    assert lowered["passed"] is False
    state = card(bank_app, user_id(client, learner), qid)
    assert (state.reviews, state.lapses, state.last_passed) == (2, 2, False)
    stats = client.get(f"{V1}/me/stats", headers=learner).get_json()
    assert stats["overrides"] == {"total": 1, "raised": 0, "lowered": 1}


def test_the_same_override_again_changes_nothing(bank_app, client, learner, slugs):
    graded = created(attempt(client, learner, slugs["what-is-flask"], answer=WRONG))
    once = patch(client, learner, graded["id"], self_rating="hard")
    again = patch(client, learner, graded["id"], self_rating="hard")
    assert once.status_code == again.status_code == 200
    assert once.get_json() == again.get_json()


def test_only_the_latest_attempt_within_the_window(
    bank_app, client, learner, slugs, assert_problem, monkeypatch
):
    qid = slugs["flask-vs-django"]
    earlier = created(attempt(client, learner, qid, answer=WRONG))
    later = created(attempt(client, learner, qid, answer=WRONG))
    detail = assert_problem(patch(client, learner, earlier["id"], self_rating="good"), 409)
    assert "again" in detail["detail"]
    monkeypatch.setitem(bank_app.config, "ATTEMPT_OVERRIDE_WINDOW", timedelta(0))
    detail = assert_problem(patch(client, learner, later["id"], self_rating="good"), 409)
    assert "window closed" in detail["detail"]
    with bank_app.app_context():
        stored = db.session.get(Attempt, later["id"])
        assert (stored.override_rating, stored.rating) == (None, 1)
        db.session.remove()


def test_owner_only(bank_app, client, learner, slugs, assert_problem):
    graded = created(attempt(client, learner, slugs["what-is-flask"], answer=WRONG))
    other = new_learner(bank_app)
    assert_problem(patch(client, other, graded["id"], self_rating="good"), 404)
    assert_problem(client.patch(f"{V1}/attempts/{graded['id']}", json={"self_rating": "good"}), 401)
    assert_problem(patch(client, learner, 2**31, self_rating="good"), 404)
    assert (
        client.get(f"{V1}/attempts/{graded['id']}", headers=learner).get_json()["override"] is None
    )


def test_bad_override_bodies(client, learner, slugs, assert_problem):
    graded = created(attempt(client, learner, slugs["what-is-flask"], answer=WRONG))
    for body in ({}, {"self_rating": "perfect"}, {"self_rating": "good", "score": 1}):
        assert_problem(patch(client, learner, graded["id"], **body), 422)
    response = client.patch(
        f"{V1}/attempts/{graded['id']}?x=1", json={"self_rating": "good"}, headers=learner
    )
    assert_problem(response, 400)


def test_a_self_rated_or_choice_attempt_can_be_rerated(client, learner, slugs):
    rated = created(attempt(client, learner, slugs["what-is-flask"], self_rating="hard"))
    body = patch(client, learner, rated["id"], self_rating="good").get_json()
    assert body["self_rating"] == "hard" and body["override"]["self_rating"] == "good"


def regrade(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["regrade", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_regrade_updates_old_grades_and_leaves_schedules(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    good = "Flask is a micro web framework written in Python, simple and lightweight, on WSGI."
    graded = created(attempt(client, learner, qid, answer=good))
    uid = user_id(client, learner)
    before = card(bank_app, uid, qid)
    with bank_app.app_context():  # as an older grader left it
        db.session.execute(
            update(Attempt)
            .where(Attempt.id == graded["id"])
            .values(score=0.25, passed=False, grader_version=None, points=None, confidence=None)
        )
        db.session.commit()
        db.session.remove()

    assert "would re-grade" in regrade(bank_app, "--dry-run")
    assert (
        client.get(f"{V1}/attempts/{graded['id']}", headers=learner).get_json()["passed"] is False
    )
    output = regrade(bank_app)
    assert (
        f"re-graded with grader v{GRADER_VERSION}: examined 1, changed 1, now passing 1" in output
    )
    body = client.get(f"{V1}/attempts/{graded['id']}", headers=learner).get_json()
    assert body["grade"] == graded["grade"]
    assert body["passed"] is True
    after = card(bank_app, uid, qid)
    assert (after.card, after.due) == (before.card, before.due)
    assert "examined 0" in regrade(bank_app)  # nothing left from an older grader


def test_regrade_can_reschedule_and_keeps_the_learners_word(bank_app, client, learner, slugs):
    qid = slugs["what-is-flask"]
    uid = user_id(client, learner)
    graded = created(attempt(client, learner, qid, answer=WRONG))
    other = created(attempt(client, learner, slugs["flask-vs-django"], answer=WRONG))
    patch(client, learner, other["id"], self_rating="good")
    with bank_app.app_context():  # an older grader had rated this one "easy"
        db.session.execute(
            update(Attempt)
            .where(Attempt.id.in_([graded["id"], other["id"]]))
            .values(grader_version=None)
        )
        db.session.execute(
            update(Attempt).where(Attempt.id == graded["id"]).values(score=1.0, rating=4)
        )
        db.session.commit()
        db.session.remove()
    output = regrade(bank_app, "--reschedule")
    assert "examined 2" in output and "cards rescheduled 1" in output
    expected = expected_card((scheduling.Rating.Again, graded["answered_at"]))
    assert card(bank_app, uid, qid).card == expected.state
    with bank_app.app_context():
        kept = db.session.scalars(select(Attempt).where(Attempt.id == other["id"])).one()
        assert (kept.override_rating, kept.rating, kept.passed) == ("good", 3, True)
        assert kept.grader_version == GRADER_VERSION and kept.graded_passed is False
        db.session.remove()
