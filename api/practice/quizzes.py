"""Quizzes: practice sessions drawn by filters, with no question twice for a learner."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from api.bank import random_draws
from api.bank.models import Question, QuestionTopic, Topic
from api.bank.reading import QuestionFilters
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, NotFound
from api.practice.models import Attempt, Quiz, QuizQuestion

_rng = random.SystemRandom()


def create_quiz(*, user_id: int, filters: QuestionFilters, count: int) -> Quiz:
    """Draw questions the learner has not had in an earlier quiz; 409 once the pool is used.

    At most one question of a related group is drawn (`_draw`).
    """
    # The pool's ids come from the worker's per-version array (random_draws): reading every
    # matching row with its group was half a second a quiz at 100,000 questions.
    pool = random_draws.matching_pool(filters)
    if not pool:
        raise Conflict("No questions match these filters.", pool_size=0, remaining=0)
    used = set(
        db.session.scalars(
            select(QuizQuestion.question_id)
            .join(Quiz, Quiz.id == QuizQuestion.quiz_id)
            .where(Quiz.user_id == user_id)
        )
    )
    # Only the few questions in a related group are read with their group (through its
    # index), and kept where they are in the pool: asking the database for the pool's
    # members among them made it build the whole pool (27 ms at 100,000 questions).
    grouped = db.session.execute(
        select(Question.id, Question.related_group).where(Question.related_group.is_not(None))
    ).all()
    members = set(pool) if grouped else set()
    in_groups = {row.id for row in grouped}
    groups: dict[str, list[int]] = {}
    for row in grouped:
        if row.id in members and row.id not in used:
            groups.setdefault(row.related_group, []).append(row.id)
    singles = [i for i in pool if i not in used and i not in in_groups]
    if not singles and not groups:
        raise Conflict(
            f"You have had all {len(pool)} questions matching these filters in earlier "
            "quizzes: widen the filters or review them instead.",
            pool_size=len(pool),
            remaining=0,
        )
    chosen = _draw(singles, list(groups.values()), count)
    quiz = Quiz(
        user_id=user_id,
        filters=stored_filters(
            {
                "topic": filters.topics,
                "tag": filters.tags,
                "difficulty": filters.difficulties,
                "type": filters.types,
            }
        ),
    )
    quiz.items = [QuizQuestion(question_id=qid, position=i) for i, qid in enumerate(chosen)]
    db.session.add(quiz)
    db.session.flush()
    return quiz


def stored_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """A quiz's filters with each value once: bounded (QuizIn caps each list) and the same
    for quizzes stored before duplicates were dropped."""
    return {name: list(dict.fromkeys(values)) for name, values in filters.items()}


def _draw(singles: list[int], groups: list[list[int]], count: int) -> list[int]:
    """`count` questions at random, at most one of each related group (the same question
    asked in other words): a group takes one draw, as a single question does, and then
    one of its members at random."""
    units = len(singles) + len(groups)
    picks = _rng.sample(range(units), min(count, units))
    return [
        singles[k] if k < len(singles) else _rng.choice(groups[k - len(singles)]) for k in picks
    ]


def get_quiz(*, user_id: int, quiz_id: int, admin: bool = False) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or (quiz.user_id != user_id and not admin):
        raise NotFound(f"There is no quiz {quiz_id}.")
    return quiz


def attempt_score(attempt: Attempt) -> float:
    """An attempt's score; a self-rating scores what it passes (1 or 0)."""
    return attempt.score if attempt.score is not None else float(attempt.passed)


def quiz_progress(quiz: Quiz) -> dict[str, Any]:
    """Per question the latest attempt made in this quiz; totals overall and per topic."""
    latest: dict[int, Attempt] = {}
    for attempt in db.session.scalars(
        select(Attempt).where(Attempt.quiz_id == quiz.id).order_by(Attempt.id)
    ):
        latest[attempt.question_id] = attempt
    ids = [item.question_id for item in quiz.items]
    topics: dict[str, list[int]] = {}
    for question_id, slug in db.session.execute(
        select(QuestionTopic.question_id, Topic.slug)
        .join(Topic, Topic.id == QuestionTopic.topic_id)
        .where(QuestionTopic.question_id.in_(ids))
    ):
        topics.setdefault(slug, []).append(question_id)

    def summary(question_ids: list[int]) -> dict[str, Any]:
        done = [latest[q] for q in question_ids if q in latest]
        passed = sum(1 for a in done if a.passed)
        scores = [attempt_score(a) for a in done]
        return {
            "questions": len(question_ids),
            "answered": len(done),
            "passed": passed,
            "score": round(sum(scores) / len(question_ids), 3) if question_ids else 0.0,
        }

    def result(question_id: int) -> dict[str, Any]:
        attempt = latest.get(question_id)
        return {
            "question_id": question_id,
            "answered": attempt is not None,
            "attempt_id": attempt.id if attempt is not None else None,
            "passed": attempt.passed if attempt is not None else None,
            "score": attempt_score(attempt) if attempt is not None else None,
        }

    return {
        "overall": summary(ids),
        "by_topic": {slug: summary(qids) for slug, qids in sorted(topics.items())},
        "answered_question_ids": sorted(latest),
        "results": [result(question_id) for question_id in ids],
    }


def finish_quiz(*, user_id: int, quiz_id: int) -> Quiz:
    """Close the quiz (once: finishing again changes nothing and gives the same summary)."""
    quiz = get_quiz(user_id=user_id, quiz_id=quiz_id)
    if quiz.finished_at is None:
        quiz.finished_at = utcnow()
        db.session.commit()
    return quiz
