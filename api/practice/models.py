"""Practice: attempts, per-learner review state, quizzes and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.platform.db_types import UTCDateTime, utcnow

ATTEMPT_KINDS = ("free_text", "choice", "self_rating")
SELF_RATINGS = ("again", "hard", "good", "easy")


class Quiz(db.Model):
    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    items: Mapped[list[QuizQuestion]] = relationship(
        back_populates="quiz", order_by="QuizQuestion.position", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_quizzes_user_id_id", "user_id", "id"),)


class QuizQuestion(db.Model):
    __tablename__ = "quiz_questions"

    quiz_id: Mapped[int] = mapped_column(
        ForeignKey("quizzes.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, nullable=False)

    quiz: Mapped[Quiz] = relationship(back_populates="items")
    question = relationship("Question")

    __table_args__ = (Index("ix_quiz_questions_question_id", "question_id"),)


class Attempt(db.Model):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), nullable=False
    )
    question_version: Mapped[int] = mapped_column(Integer, nullable=False)
    quiz_id: Mapped[int | None] = mapped_column(
        ForeignKey("quizzes.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    answer_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    selected_choices: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    self_rating: Mapped[str | None] = mapped_column(String(8), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    matched: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    missed: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    feedback: Mapped[str] = mapped_column(Text, nullable=False, default="")
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Free text: which grader graded it (api/practice/grading.py GRADER_VERSION), how sure
    # it was, and per key point what covered or contradicted it.
    grader_version: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    confidence: Mapped[str | None] = mapped_column(String(16), nullable=True)
    points: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # The learner's final word (PATCH /attempts/{id}): their rating, when they gave it, and
    # the rating and verdict it replaced; `rating` and `passed` then hold the learner's.
    override_rating: Mapped[str | None] = mapped_column(String(8), nullable=True)
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    graded_rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    graded_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN ('free_text', 'choice', 'self_rating')", name="kind_allowed"),
        CheckConstraint("rating BETWEEN 1 AND 4", name="rating_range"),
        Index("ix_attempts_user_id_id", "user_id", "id"),
        Index("ix_attempts_user_id_answered_at", "user_id", "answered_at"),
        # The daily attempt quota counts a learner's attempts stored since midnight UTC.
        Index("ix_attempts_user_id_created_at", "user_id", "created_at"),
        Index("ix_attempts_question_id", "question_id"),
        Index("ix_attempts_quiz_id", "quiz_id"),
    )


class ReviewState(db.Model):
    """One FSRS card per learner and question, moved on by every attempt."""

    __tablename__ = "review_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    card: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    due: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    stability: Mapped[float | None] = mapped_column(Float, nullable=True)
    reviews: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lapses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_passed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    first_reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_review_states_user_id_due", "user_id", "due"),)


class IdempotencyRecord(db.Model):
    """The first response to a keyed POST, replayed for a repeat of the same request
    until it expires (IDEMPOTENCY_KEY_LIFETIME)."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    body: Mapped[Any] = mapped_column(JSON, nullable=False)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_records_user_key"),
        # `flask purge-idempotency` deletes the expired ones.
        Index("ix_idempotency_records_created_at", "created_at"),
    )
