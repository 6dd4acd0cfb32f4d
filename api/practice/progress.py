"""What a learner should review now, and how they are doing; public question statistics."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, distinct, func, select

from api.accounts.models import User
from api.bank import rows
from api.bank import topics as topic_sizes
from api.bank.models import Question, QuestionTopic, Topic
from api.bank.reading import QuestionFilters, get_question, matching_ids
from api.extensions import db
from api.practice.models import Attempt, ReviewState

STREAK_LOOKBACK_DAYS = 400
# Empirical difficulty needs evidence: below this many attempts it is not given.
MIN_ATTEMPTS_FOR_DIFFICULTY = 5
# Public statistics need this many distinct learners, so that none can be singled out.
MIN_LEARNERS = 5
# The learner whose queue or stats a statement built once reads (bound per request).
_USER = bindparam("user_id")


def start_of_local_day(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s day in the learner's own time zone, as a UTC instant."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


@functools.lru_cache(maxsize=128)
def _queue_statements(dialect: str, filters: QuestionFilters) -> tuple[Select, Select, Select]:
    """The queue's statements for one set of filters, built once and bound per request:
    its counts, its due cards, and its new questions. (`dialect`: a search filter builds
    a different statement on each backend, and one process may serve both: tests do.)"""
    pool = matching_ids(filters)
    due_filter = (
        ReviewState.user_id == _USER,
        ReviewState.due <= bindparam("now"),
        # Per review state of the learner (a few hundred), not `IN (the pool)`: SQLite
        # built a filtered pool whole for that (5 ms for a topic of 7,000 questions).
        pool.where(Question.id == ReviewState.question_id).exists(),
    )
    # Both counts in one statement: one round trip fewer on every queue read.
    counts = select(
        select(func.count()).select_from(ReviewState).where(*due_filter).scalar_subquery(),
        select(func.count())
        .select_from(ReviewState)
        .where(
            ReviewState.user_id == _USER,
            ReviewState.first_reviewed_at >= bindparam("day_start"),
        )
        .scalar_subquery(),
    )
    due = (
        select(ReviewState.question_id, ReviewState.due)
        .where(*due_filter)
        .order_by(ReviewState.due, ReviewState.question_id)
        .limit(bindparam("limit"))
    )
    seen = select(ReviewState.question_id).where(ReviewState.user_id == _USER)
    new = pool.where(Question.id.not_in(seen)).order_by(Question.id).limit(bindparam("room"))
    return counts, due, new


def review_queue(
    *, user: User, now: datetime, limit: int, new_per_day: int, filters: QuestionFilters
) -> dict[str, Any]:
    """Due cards, most overdue first, with new questions mixed in under the daily limit."""
    counts, due, new = _queue_statements(db.engine.dialect.name, filters)
    mine = {"user_id": user.id, "now": now}
    day_start = start_of_local_day(now, user.timezone)
    due_total, started_today = db.session.execute(counts, {**mine, "day_start": day_start}).one()
    due_rows = db.session.execute(due, {**mine, "limit": limit}).all()
    new_remaining = max(0, new_per_day - int(started_today or 0))
    room = min(new_remaining, limit - len(due_rows))
    new_ids = list(db.session.scalars(new, {**mine, "room": room})) if room > 0 else []
    # Rendered from Core rows (bank/rows.py): `ReviewItem` in openapi.yaml.
    rendered = rows.rendered_questions([qid for qid, _ in due_rows] + new_ids, with_answer=False)
    questions = {question["id"]: question for question in rendered}
    due_items = [
        {"kind": "review", "due": due.isoformat(), "question": questions[qid]}
        for qid, due in due_rows
    ]
    new_items = [{"kind": "new", "due": None, "question": questions[qid]} for qid in new_ids]
    return {
        "data": _mix(due_items, new_items),
        "meta": {
            "due_total": int(due_total or 0),
            "new_today_remaining": new_remaining,
            "new_per_day": new_per_day,
            "timezone": user.timezone,
        },
    }


def _mix(due: list[dict], new: list[dict]) -> list[dict]:
    """New questions spread evenly among the due ones, keeping each list's own order."""
    if not due or not new:
        return due + new
    step = math.ceil(len(due) / len(new))
    mixed: list[dict] = []
    fresh = list(new)
    for i, item in enumerate(due, 1):
        mixed.append(item)
        if i % step == 0 and fresh:
            mixed.append(fresh.pop(0))
    return mixed + fresh


def _streak(user: User, now: datetime) -> int:
    zone = ZoneInfo(user.timezone)
    since = now - timedelta(days=STREAK_LOOKBACK_DAYS)
    days = {
        answered.astimezone(zone).date()
        for answered in db.session.scalars(_ANSWERED_SINCE, {"user_id": user.id, "since": since})
    }
    day = now.astimezone(zone).date()
    if day not in days:
        day -= timedelta(days=1)  # today is not over: a streak through yesterday still counts
    streak = 0
    while day in days:
        streak += 1
        day -= timedelta(days=1)
    return streak


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


# A learner's stats: statements built once (bound per request), as every stats read runs
# them all; building and keying them anew was a third of the request.
_PASSED = func.sum(case((Attempt.passed.is_(True), 1), else_=0))
_OVERRIDDEN = Attempt.override_rating.is_not(None)
# Totals, overrides and due cards in one statement (one round trip).
_TOTALS = select(
    func.count(Attempt.id),
    _PASSED,
    func.sum(case((_OVERRIDDEN, 1), else_=0)),
    func.sum(case((_OVERRIDDEN & (Attempt.rating > Attempt.graded_rating), 1), else_=0)),
    func.sum(case((_OVERRIDDEN & (Attempt.rating < Attempt.graded_rating), 1), else_=0)),
    select(func.count())
    .select_from(ReviewState)
    .where(ReviewState.user_id == _USER, ReviewState.due <= bindparam("now"))
    .scalar_subquery(),
).where(Attempt.user_id == _USER)
_PER_TOPIC = (
    select(Topic.slug, Topic.name, func.count(Attempt.id), _PASSED)
    .join(QuestionTopic, QuestionTopic.topic_id == Topic.id)
    .join(Attempt, Attempt.question_id == QuestionTopic.question_id)
    .where(Attempt.user_id == _USER)
    .group_by(Topic.slug, Topic.name)
)
_MASTERED = (
    select(Topic.slug, func.count(ReviewState.question_id))
    .join(QuestionTopic, QuestionTopic.topic_id == Topic.id)
    .join(ReviewState, ReviewState.question_id == QuestionTopic.question_id)
    .where(ReviewState.user_id == _USER, ReviewState.last_passed.is_(True))
    .group_by(Topic.slug)
)
_ANSWERED_SINCE = select(Attempt.answered_at).where(
    Attempt.user_id == _USER, Attempt.answered_at >= bindparam("since")
)


def learner_stats(*, user: User, now: datetime) -> dict[str, Any]:
    """Attempts, accuracy and mastery per topic, streak in days, and what is due now."""
    mine = {"user_id": user.id}
    total, passed_total, overrides_total, raised, lowered, due_now = db.session.execute(
        _TOTALS, {**mine, "now": now}
    ).one()
    per_topic: dict[str, dict[str, Any]] = {}
    for slug, name, count, ok in db.session.execute(_PER_TOPIC, mine):
        per_topic[slug] = {"topic": slug, "name": name, "attempts": count, "passed": int(ok or 0)}
    mastered = dict(db.session.execute(_MASTERED, mine).all())
    sizes = topic_sizes.question_counts()
    topics = []
    for slug, row in sorted(per_topic.items()):
        topics.append(
            {
                **row,
                "accuracy": _ratio(row["passed"], row["attempts"]),
                "questions": sizes.get(slug, 0),
                "mastered": mastered.get(slug, 0),
                "mastery": _ratio(mastered.get(slug, 0), sizes.get(slug, 0)) or 0.0,
            }
        )
    return {
        "attempts": int(total or 0),
        "passed": int(passed_total or 0),
        "accuracy": _ratio(int(passed_total or 0), int(total or 0)),
        # Ratings the learner confirmed or changed after grading (PATCH /attempts/{id}).
        "overrides": {
            "total": int(overrides_total or 0),
            "raised": int(raised or 0),
            "lowered": int(lowered or 0),
        },
        "streak_days": _streak(user, now),
        "due_now": int(due_now or 0),
        "topics": topics,
    }


def _item_score(score: float | None, passed: bool) -> float:
    return float(score) if score is not None else (1.0 if passed else 0.0)


def _first_attempts(question_ids=None):
    """Each learner's first attempt per question: (user, question, item score)."""
    first = select(func.min(Attempt.id).label("id")).group_by(Attempt.user_id, Attempt.question_id)
    if question_ids is not None:
        first = first.where(Attempt.question_id.in_(question_ids))
    return select(Attempt.user_id, Attempt.question_id, Attempt.score, Attempt.passed).where(
        Attempt.id.in_(first)
    )


def item_analysis(question_id: int) -> dict[str, float | None]:
    """Moodle's facility and discrimination indexes, from each learner's first attempt.

    Facility: the mean item score (0 to 1). Discrimination: the mean item score of the
    upper third of these learners (ranked by their mean score over every question they
    answered) minus that of the lower third, from -1 to 1; None below MIN_LEARNERS.
    """
    rows = db.session.execute(_first_attempts([question_id])).all()
    if not rows:
        return {"facility_index": None, "discrimination_index": None}
    item = {row.user_id: _item_score(row.score, row.passed) for row in rows}
    facility = round(sum(item.values()) / len(item), 3)
    if len(item) < MIN_LEARNERS:
        return {"facility_index": facility, "discrimination_index": None}
    overall: dict[int, list[float]] = {}
    everything = _first_attempts().where(Attempt.user_id.in_(list(item)))
    for row in db.session.execute(everything):
        overall.setdefault(row.user_id, []).append(_item_score(row.score, row.passed))
    ranked = sorted(item, key=lambda user: (sum(overall[user]) / len(overall[user]), user))
    third = math.ceil(len(ranked) / 3)
    lower, upper = ranked[:third], ranked[-third:]
    discrimination = sum(item[u] for u in upper) / third - sum(item[u] for u in lower) / third
    return {"facility_index": facility, "discrimination_index": round(discrimination, 3)}


def question_stats(*, question_id: int, editor: bool = False) -> dict[str, Any]:
    """How learners fare on a question: an empirical difficulty beside the label.

    Public figures need at least MIN_LEARNERS distinct learners (fewer could reveal one
    learner's score): below that they are null and `available` is false. Editors always
    see them, with the item analysis (`item_analysis`).
    """
    question = get_question(question_id)
    passed = func.sum(case((Attempt.passed.is_(True), 1), else_=0))
    attempts, learners, ok, mean = db.session.execute(
        select(
            func.count(Attempt.id),
            func.count(distinct(Attempt.user_id)),
            passed,
            func.avg(Attempt.score),
        ).where(Attempt.question_id == question_id)
    ).one()
    available = int(learners or 0) >= MIN_LEARNERS
    rate = _ratio(int(ok or 0), int(attempts or 0))
    empirical = None
    if rate is not None and attempts >= MIN_ATTEMPTS_FOR_DIFFICULTY:
        empirical = "easy" if rate >= 0.8 else "medium" if rate >= 0.5 else "hard"
    body: dict[str, Any] = {
        "question_id": question.id,
        "available": available,
        "min_learners": MIN_LEARNERS,
        "attempts": int(attempts or 0),
        "learners": int(learners or 0),
        "passed": int(ok or 0),
        "pass_rate": rate,
        "average_score": round(float(mean), 3) if mean is not None else None,
        "empirical_difficulty": empirical,
        "editor_difficulty": question.difficulty_name,
    }
    if not available and not editor:
        for name in ("attempts", "learners", "passed", "pass_rate", "average_score"):
            body[name] = None
        body["empirical_difficulty"] = None
        body["message"] = (
            f"Figures appear once at least {MIN_LEARNERS} learners have answered this question."
        )
    if editor:
        body.update(item_analysis(question.id))
    return body
