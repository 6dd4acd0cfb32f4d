"""`flask regrade`: grade stored free-text attempts again with the current grader.

Each attempt records the grader version that graded it (api/practice/grading.py
GRADER_VERSION). Re-grading applies today's grader to the stored answer against the
question's current key points, updates the attempt's grade (score, verdict, per-key-point
results, confidence, feedback, version) and reports what changed. The learner's final
word stays theirs: an attempt they re-rated keeps its rating and verdict, only the
grader's own verdict beside it is refreshed.

Review states are not touched unless asked (``reschedule``): then each re-graded attempt
the learner did not re-rate takes the rating its new score maps to, and every card with
such an attempt is rebuilt by replaying its attempts through FSRS (api/practice/attempts.py
``reschedule``). Work goes in batches, each committed, so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from api.bank.models import Question
from api.extensions import db
from api.practice import grading, scheduling
from api.practice.attempts import reschedule as replay_card
from api.practice.models import Attempt

BATCH = 500


@dataclass
class RegradeReport:
    examined: int = 0
    changed: int = 0  # score or verdict differs
    now_passing: int = 0  # the grader's verdict went from fail to pass
    now_failing: int = 0
    ungradeable: int = 0  # the question no longer has key points (or became a choice one)
    rescheduled: int = 0  # cards rebuilt
    cards: set[tuple[int, int]] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {
            "examined": self.examined,
            "changed": self.changed,
            "now passing": self.now_passing,
            "now failing": self.now_failing,
            "ungradeable": self.ungradeable,
            "cards rescheduled": self.rescheduled,
        }


def _key_points(cache: dict[int, list | None], question_id: int) -> list | None:
    if question_id not in cache:
        row = db.session.execute(
            select(Question.type, Question.key_points).where(Question.id == question_id)
        ).first()
        cache[question_id] = row.key_points if row is not None and row.type == "open" else None
    return cache[question_id]


def _regrade_one(attempt: Attempt, key_points: list, report: RegradeReport, resched: bool):
    grade = grading.grade_free_text(answer=attempt.answer_text or "", key_points=key_points)
    was_passed = attempt.passed if attempt.graded_passed is None else attempt.graded_passed
    report.examined += 1
    if attempt.score != grade.score or was_passed != grade.passed:
        report.changed += 1
        report.now_passing += grade.passed and not was_passed
        report.now_failing += was_passed and not grade.passed
    attempt.score = grade.score
    attempt.matched = grade.matched
    attempt.missed = grade.missed
    attempt.feedback = grade.feedback
    attempt.points = [p.as_dict() for p in grade.points]
    attempt.confidence = grade.confidence
    attempt.grader_version = grade.version
    if attempt.override_rating is not None:
        attempt.graded_passed = grade.passed
        attempt.graded_rating = int(scheduling.rating_for(score=grade.score))
        return
    attempt.passed = grade.passed
    if resched:
        rating = int(scheduling.rating_for(score=grade.score))
        if rating != attempt.rating:
            attempt.rating = rating
            report.cards.add((attempt.user_id, attempt.question_id))


def regrade(
    *, everything: bool = False, reschedule: bool = False, dry_run: bool = False
) -> RegradeReport:
    """Re-grade free-text attempts graded by another grader version (all with ``everything``)."""
    report = RegradeReport()
    wanted = select(Attempt.id).where(Attempt.kind == "free_text", Attempt.answer_text.is_not(None))
    if not everything:
        wanted = wanted.where(
            or_(
                Attempt.grader_version.is_(None),
                Attempt.grader_version != grading.GRADER_VERSION,
            )
        )
    ids = list(db.session.scalars(wanted.order_by(Attempt.id)))
    key_points: dict[int, list | None] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for attempt in db.session.scalars(
            select(Attempt).where(Attempt.id.in_(chunk)).order_by(Attempt.id)
        ):
            points = _key_points(key_points, attempt.question_id)
            if not points:
                report.ungradeable += 1
                continue
            _regrade_one(attempt, points, report, reschedule)
        if dry_run:
            db.session.flush()
        else:
            db.session.commit()
    if reschedule:
        for user_id, question_id in sorted(report.cards):
            replay_card(user_id, question_id)
            report.rescheduled += 1
        if not dry_run:
            db.session.commit()
    if dry_run:
        db.session.rollback()
    return report
