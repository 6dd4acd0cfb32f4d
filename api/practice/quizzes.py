"""Quizzes: practice sessions drawn by filters, with no question twice for a learner."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from api.bank.models import Question, QuestionTopic, Topic
from api.bank.reading import QuestionFilters, matching_ids
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, NotFound
from api.practice.models import Attempt, Quiz, QuizQuestion

_rng = random.SystemRandom()


def create_quiz(*, user_id: int, filters: QuestionFilters, count: int) -> Quiz:
    """Draw questions the learner has not had in an earlier quiz; 409 once the pool is used.

    At most one question of a related group is drawn (`_draw`).
    """
    pool = matching_ids(filters).subquery()
    pool_size = db.session.scalar(select(func.count()).select_from(pool))
    used = (
        select(QuizQuestion.question_id)
        .join(Quiz, Quiz.id == QuizQuestion.quiz_id)
        .where(Quiz.user_id == user_id)
    )
    fresh_rows = db.session.execute(
        select(pool.c.id, Question.related_group)
        .join(Question, Question.id == pool.c.id)
        .where(pool.c.id.not_in(used))
    ).all()
    fresh = [row.id for row in fresh_rows]
    if not pool_size:
        raise Conflict("No questions match these filters.", pool_size=0, remaining=0)
    if not fresh:
        raise Conflict(
            f"You have had all {pool_size} questions matching these filters in earlier "
            "quizzes: widen the filters or review them instead.",
            pool_size=int(pool_size or 0),
            remaining=0,
        )
    chosen = _draw(fresh_rows, count)
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


def _draw(rows, count: int) -> list[int]:
    """`count` questions at random, at most one of each related group (the same question
    asked in other words): a group takes one draw, and then one of its members at random."""
    groups: dict[str, list[int]] = {}
    units: list[list[int]] = []
    for row in rows:
        if row.related_group is None:
            units.append([row.id])
        else:
            groups.setdefault(row.related_group, []).append(row.id)
    units.extend(groups.values())
    return [_rng.choice(unit) for unit in _rng.sample(units, min(count, len(units)))]


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
