"""Attempts: graded answers that move each learner's FSRS card on.

Functions here write but never commit: the idempotency wrapper (api/practice/idempotency.py)
commits the work together with its replay record, so one request is one transaction.
Concurrent attempts on one learner's card are serialised: a row lock on PostgreSQL,
and on SQLite write requests start with BEGIN IMMEDIATE (api/platform/db_events.py).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from api.bank.models import Question
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, InvalidBody, NotFound
from api.platform.paging import page_of
from api.practice import grading, scheduling, volume
from api.practice.models import Attempt, ReviewState
from api.practice.quizzes import get_quiz

_rng = random.SystemRandom()


def grade(question: Question | Row, data: dict[str, Any]) -> tuple[str, grading.Grade | None, Any]:
    """Which kind of attempt this is, and its grade (None for a self-rating)."""
    if data.get("self_rating") is not None:
        return "self_rating", None, scheduling.rating_for(self_rating=data["self_rating"])
    if data.get("choices") is not None:
        if question.type == "open":
            raise InvalidBody(
                "This question is open: answer in words or rate yourself.",
                errors={"choices": ["Open questions have no choices."]},
            )
        if max(data["choices"], default=-1) >= len(question.choices or []):
            raise InvalidBody(
                "Pick among the question's choices.",
                errors={"choices": [f"Indexes run from 0 to {len(question.choices) - 1}."]},
            )
        result = grading.grade_choices(
            selected=data["choices"],
            correct=question.correct_choices or [],
            weights=question.choice_weights,
        )
        return "choice", result, scheduling.rating_for(score=result.score, exact=True)
    if question.type != "open":
        raise InvalidBody(
            "This question has choices: send `choices` (indexes) or a self-rating.",
            errors={"answer": ["Answer a choice question with `choices`."]},
        )
    if not question.key_points:
        raise InvalidBody(
            "This question has no key points to grade against: send a self_rating.",
            errors={"answer": ["Not gradeable; use self_rating."]},
        )
    result = grading.grade_free_text(answer=data["answer"], key_points=question.key_points)
    return "free_text", result, scheduling.rating_for(score=result.score)


# An attempt is on the hot path of the API. Its statements are Core, on the tables, built
# once with bound parameters, and read only the columns they use: building a statement
# costs more than running it, and ORM loading and flushing cost more again.
_questions = Question.__table__
_states = ReviewState.__table__
_attempts = Attempt.__table__

_QUESTION_COLUMNS = (
    _questions.c.version,
    _questions.c.type,
    _questions.c.choices,
    _questions.c.correct_choices,
    _questions.c.choice_weights,
    _questions.c.key_points,
    _questions.c.answer,
    _questions.c.note,
    _questions.c.explanations,
)
_CARD_COLUMNS = (
    _states.c.card,
    _states.c.reviews,
    _states.c.lapses,
    _states.c.last_reviewed_at,
)
_THIS_CARD = (
    _states.c.user_id == bindparam("card_user_id"),
    _states.c.question_id == bindparam("card_question_id"),
)
_CARD = select(*_CARD_COLUMNS).where(*_THIS_CARD)
# The question and the learner's card for it in one round trip. On PostgreSQL the card is
# locked (FOR UPDATE, in a LATERAL subquery: the nullable side of an outer join cannot be
# locked directly); on SQLite BEGIN IMMEDIATE has already locked the whole database.
_card_locked = (
    select(*_CARD_COLUMNS)
    .where(_states.c.user_id == bindparam("card_user_id"))
    .where(_states.c.question_id == _questions.c.id)
    .with_for_update()
    .lateral("card")
)
_QUESTION_AND_CARD = {
    "postgresql": select(
        *_QUESTION_COLUMNS,
        _card_locked.c.card,
        _card_locked.c.reviews,
        _card_locked.c.lapses,
        _card_locked.c.last_reviewed_at,
    )
    .select_from(_questions.outerjoin(_card_locked, true()))
    .where(_questions.c.id == bindparam("card_question_id")),
    "sqlite": select(*_QUESTION_COLUMNS, *_CARD_COLUMNS)
    .select_from(
        _questions.outerjoin(
            _states,
            and_(
                _states.c.user_id == bindparam("card_user_id"),
                _states.c.question_id == _questions.c.id,
            ),
        )
    )
    .where(_questions.c.id == bindparam("card_question_id")),
}
_CARD_LOCKED = {"postgresql": _CARD.with_for_update(), "sqlite": _CARD}
# A first card, unless a concurrent first attempt inserted it already. On PostgreSQL the
# losing insert waits for the winner's commit and then inserts nothing; a new row stays
# locked by its inserting transaction until commit. (SQLite's write lock rules the race out.)
_INSERT_CARD = {
    "postgresql": pg_insert(_states).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(_states).on_conflict_do_nothing(),
}
_UPDATE_CARD = update(_states).where(*_THIS_CARD)
_INSERT_ATTEMPT = insert(_attempts)


def record_attempt(
    *,
    user_id: int,
    question_id: int,
    data: dict[str, Any],
    answered_at: datetime | None = None,
    answered_at_field: str = "answered_at",
) -> tuple[dict[str, Any], Row]:
    """Grade one attempt, move the learner's card on, and store both (not committed).

    An `answered_at` given (an offline attempt) may not be before the card's last review:
    a card only moves forward in time (InvalidBody naming `answered_at_field`).
    Returns the stored attempt's columns (for api/practice/schemas.py AttemptSchema) and the
    question's row (its model answer, correct choices and note, for the reply).
    """
    connection = db.session.connection()
    dialect = connection.dialect.name
    this_card = {"card_user_id": user_id, "card_question_id": question_id}
    question = connection.execute(_QUESTION_AND_CARD[dialect], this_card).first()
    if question is None:
        raise NotFound(f"There is no question {question_id}.")
    quiz_id = data.get("quiz_id")
    if quiz_id is not None:
        quiz = get_quiz(user_id=user_id, quiz_id=quiz_id)
        if quiz.finished_at is not None:
            raise Conflict(f"Quiz {quiz_id} is finished; start a new one.")
        if question_id not in {item.question_id for item in quiz.items}:
            raise InvalidBody(
                f"Question {question_id} is not in quiz {quiz_id}.",
                errors={"quiz_id": ["The question is not part of this quiz."]},
            )
    kind, result, rating = grade(question, data)
    passed = result.passed if result is not None else data["self_rating"] != "again"
    when = answered_at or utcnow()

    def check_order(card: Row) -> None:
        if answered_at is not None and card.reviews and card.last_reviewed_at > answered_at:
            raise volume.before_last_review(answered_at_field, card.last_reviewed_at)

    # A review updates the card it read (and locked); a first attempt inserts the card as
    # reviewed. Only a first attempt that lost a race for the insert reads the winner's card.
    card = question if question.reviews is not None else None
    if card is not None:
        check_order(card)
    else:
        review = scheduling.schedule(card=None, rating=rating, reviewed_at=when)
        inserted = connection.execute(
            _INSERT_CARD[dialect],
            {
                "user_id": user_id,
                "question_id": question_id,
                "card": review.state,
                "due": review.due,
                "stability": review.stability,
                "reviews": 1,
                "lapses": 0 if passed else 1,
                "last_passed": passed,
                "first_reviewed_at": when,
                "last_reviewed_at": when,
            },
            execution_options={"preserve_rowcount": True},  # an INSERT's is not kept otherwise
        )
        if inserted.rowcount != 1:
            card = connection.execute(_CARD_LOCKED[dialect], this_card).one()
            check_order(card)
    if card is not None:
        review = scheduling.schedule(
            card=card.card if card.reviews else None, rating=rating, reviewed_at=when
        )
        changes = {
            **this_card,
            "card": review.state,
            "due": review.due,
            "stability": review.stability,
            "reviews": card.reviews + 1,
            "lapses": card.lapses + (0 if passed else 1),
            "last_passed": passed,
            "last_reviewed_at": when,
        }
        if not card.reviews:
            changes["first_reviewed_at"] = when
        connection.execute(_UPDATE_CARD, changes)

    attempt = {
        "user_id": user_id,
        "question_id": question_id,
        "question_version": question.version,
        "quiz_id": quiz_id,
        "kind": kind,
        "answer_text": data.get("answer"),
        "selected_choices": data.get("choices"),
        "self_rating": data.get("self_rating"),
        "score": result.score if result is not None else None,
        "passed": passed,
        "matched": list(result.matched) if result is not None else [],
        "missed": list(result.missed) if result is not None else [],
        "feedback": result.feedback if result is not None else "",
        "rating": int(rating),
        "answered_at": when,
        "created_at": utcnow(),
        "next_due_at": review.due,
        "grader_version": result.version if kind == "free_text" else None,
        "confidence": result.confidence if result is not None else None,
        "points": [p.as_dict() for p in result.points] if kind == "free_text" else None,
        "override_rating": None,
        "overridden_at": None,
        "graded_rating": None,
        "graded_passed": None,
    }
    attempt["id"] = connection.execute(_INSERT_ATTEMPT, attempt).inserted_primary_key[0]
    return attempt, question


def _replay(history: list[Attempt | Row]) -> dict[str, Any] | None:
    """A learner's card for one question, rebuilt from their attempts in answer order.

    Each attempt's stored (final) rating goes through the same FSRS scheduler as when it
    was made; returns the review-state columns, or None for no attempt.
    """
    state: dict[str, Any] | None = None
    for attempt in history:
        review = scheduling.schedule(
            card=state["card"] if state else None,
            rating=scheduling.Rating(attempt.rating),
            reviewed_at=attempt.answered_at,
        )
        state = {
            "card": review.state,
            "due": review.due,
            "stability": review.stability,
            "reviews": (state["reviews"] if state else 0) + 1,
            "lapses": (state["lapses"] if state else 0) + (0 if attempt.passed else 1),
            "last_passed": attempt.passed,
            "first_reviewed_at": state["first_reviewed_at"] if state else attempt.answered_at,
            "last_reviewed_at": attempt.answered_at,
        }
    return state


def _history(user_id: int, question_id: int) -> list[Attempt]:
    return list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.user_id == user_id, Attempt.question_id == question_id)
            .order_by(Attempt.answered_at, Attempt.id)
        )
    )


def reschedule(user_id: int, question_id: int) -> None:
    """Rewrite a learner's card for a question from their attempts (not committed)."""
    db.session.get(ReviewState, (user_id, question_id), with_for_update=True)
    _store_card(user_id, question_id, _replay(_history(user_id, question_id)))


def _store_card(user_id: int, question_id: int, state: dict[str, Any] | None) -> None:
    card = db.session.get(ReviewState, (user_id, question_id))
    if state is None:
        if card is not None:
            db.session.delete(card)
        return
    if card is None:
        card = ReviewState(user_id=user_id, question_id=question_id, **state)
        db.session.add(card)
    else:
        for name, value in state.items():
            setattr(card, name, value)


def override_attempt(
    *, user_id: int, attempt_id: int, self_rating: str, now: datetime, window
) -> tuple[Attempt, bool]:
    """The learner's final word on an attempt's rating (not committed).

    Returns the attempt and whether anything changed. Giving the rating the attempt
    already has is a no-op (idempotent); otherwise the attempt must be the learner's latest
    on its question and at most ``window`` old, or Conflict. The card is rebuilt by
    replaying every attempt on the question through FSRS with the new rating, not patched.
    """
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user_id:
        raise NotFound(f"There is no attempt {attempt_id}.")
    if attempt.override_rating == self_rating:
        return attempt, False
    # Lock the card first: a concurrent answer to the same question waits for us, or we
    # for it, and then see its attempt below.
    db.session.get(ReviewState, (user_id, attempt.question_id), with_for_update=True)
    deadline = attempt.created_at + window
    if now > deadline:
        raise Conflict(
            f"Attempt {attempt_id} can no longer be re-rated: the window closed at "
            f"{deadline.isoformat()}."
        )
    history = _history(user_id, attempt.question_id)
    if history[-1].id != attempt.id:
        raise Conflict(
            f"You answered question {attempt.question_id} again after attempt {attempt_id}; "
            "only your latest attempt on a question can be re-rated."
        )
    rating = scheduling.rating_for(self_rating=self_rating)
    if attempt.override_rating is None:
        attempt.graded_rating = attempt.rating
        attempt.graded_passed = attempt.passed
    attempt.override_rating = self_rating
    attempt.overridden_at = now
    attempt.rating = int(rating)
    attempt.passed = self_rating != "again"
    state = _replay(history)
    assert state is not None  # the history holds this attempt
    attempt.next_due_at = state["due"]
    _store_card(user_id, attempt.question_id, state)
    return attempt, True


def own_attempt(*, user_id: int, attempt_id: int, admin: bool) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or (attempt.user_id != user_id and not admin):
        raise NotFound(f"There is no attempt {attempt_id}.")
    return attempt


def list_attempts(
    *,
    user_id: int | None,
    question_id: int | None,
    quiz_id: int | None,
    passed: bool | None,
    page: int,
    per_page: int,
) -> tuple[list[Attempt], int]:
    stmt = select(Attempt)
    if user_id is not None:
        stmt = stmt.where(Attempt.user_id == user_id)
    if question_id is not None:
        stmt = stmt.where(Attempt.question_id == question_id)
    if quiz_id is not None:
        stmt = stmt.where(Attempt.quiz_id == quiz_id)
    if passed is not None:
        stmt = stmt.where(Attempt.passed == passed)
    return page_of(stmt, Attempt.id.desc(), page=page, per_page=per_page)
