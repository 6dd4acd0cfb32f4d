"""Learners' reports on questions ("this answer is outdated"), and editors' answers to them.

A learner keeps at most one open report per question (a unique partial index; a second is
a 409 naming the first). Editors list them by status, question and reason, and close each
once, resolved or dismissed, with a note. Functions here commit their own work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.bank.models import Question, Report
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, NotFound
from api.platform.paging import page_of


def _open_report(user_id: int, question_id: int) -> Report | None:
    return db.session.scalars(
        select(Report).where(
            Report.user_id == user_id, Report.question_id == question_id, Report.status == "open"
        )
    ).first()


def _already(report: Report) -> Conflict:
    return Conflict(
        f"You already reported question {report.question_id} (report {report.id}); an editor "
        "will look at it.",
        report_id=report.id,
    )


def file_report(*, user_id: int, question_id: int, reason: str, comment: str) -> Report:
    if db.session.get(Question, question_id) is None:
        raise NotFound(f"There is no question {question_id}.")
    existing = _open_report(user_id, question_id)
    if existing is not None:
        raise _already(existing)
    report = Report(user_id=user_id, question_id=question_id, reason=reason, comment=comment)
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent report by the same learner won
        db.session.rollback()
        existing = _open_report(user_id, question_id)
        if existing is None:
            raise
        raise _already(existing) from None
    return report


def list_reports(
    *, status: str | None, question_id: int | None, reason: str | None, page: int, per_page: int
) -> tuple[list[Report], int]:
    stmt = select(Report)
    if status is not None:
        stmt = stmt.where(Report.status == status)
    if question_id is not None:
        stmt = stmt.where(Report.question_id == question_id)
    if reason is not None:
        stmt = stmt.where(Report.reason == reason)
    return page_of(stmt, Report.id.desc(), page=page, per_page=per_page)


def get_report(report_id: int) -> Report:
    report = db.session.get(Report, report_id)
    if report is None:
        raise NotFound(f"There is no report {report_id}.")
    return report


def close_report(*, report_id: int, editor_id: int, status: str, note: str) -> Report:
    """Resolve or dismiss an open report; the same close again changes nothing."""
    report = get_report(report_id)
    if report.status == status and (report.resolution_note or "") == note:
        return report
    if report.status != "open":
        raise Conflict(f"Report {report_id} is already {report.status}.")
    report.status = status
    report.resolution_note = note
    report.resolved_by = editor_id
    report.resolved_at = utcnow()
    db.session.commit()
    return report


def open_report_count(question_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Report)
            .where(Report.question_id == question_id, Report.status == "open")
        )
        or 0
    )


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "question_id": report.question_id,
        "user_id": report.user_id,
        "reason": report.reason,
        "comment": report.comment,
        "status": report.status,
        "resolution_note": report.resolution_note,
        "resolved_by": report.resolved_by,
        "created_at": report.created_at.isoformat(),
        "resolved_at": report.resolved_at.isoformat() if report.resolved_at else None,
    }
