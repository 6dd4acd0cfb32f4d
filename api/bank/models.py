"""The question bank: topics, tags, questions and the links between them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.platform.db_types import Timestamped, UTCDateTime, utcnow

DIFFICULTIES = ("easy", "medium", "hard")
QUESTION_TYPES = ("open", "multiple_choice", "true_false")
TAG_SORTS = ("slug", "-slug", "question_count", "-question_count")


class QuestionTopic(db.Model):
    __tablename__ = "question_topics"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_question_topics_topic_question", "topic_id", "question_id"),)


class QuestionTag(db.Model):
    __tablename__ = "question_tags"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_question_tags_tag_question", "tag_id", "question_id"),)


class Topic(Timestamped, db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    questions: Mapped[list[Question]] = relationship(
        secondary="question_topics", back_populates="topics"
    )

    __mapper_args__ = {"version_id_col": version}
    # Ids are never reused (SQLite's AUTOINCREMENT; PostgreSQL's sequences never go back):
    # a deleted topic's id, in a tombstone or a client's copy, names nothing else later.
    __table_args__ = {"sqlite_autoincrement": True}


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)

    questions: Mapped[list[Question]] = relationship(
        secondary="question_tags", back_populates="tags"
    )


class Question(Timestamped, db.Model):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    # [{"text": str, "alternatives": [str], "contradictions": [str]}] (bank/payloads.py KeyPoint)
    key_points: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # 1 = easy, 2 = medium, 3 = hard: an integer so that sorting by difficulty is meaningful.
    difficulty: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    type: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    choices: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    correct_choices: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    alternate_prompts: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Prompt, phrasings, answer and key points in one column: what full-text search indexes.
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # One line per choice saying why it is right or wrong, shown with the grade.
    # (sort_order: after the timestamps, where the migration that added them put them.)
    explanations: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, sort_order=1)
    # Questions that ask the same thing share a group: a quiz draws at most one of them.
    related_group: Mapped[str | None] = mapped_column(String(64), nullable=True, sort_order=1)
    # The source document's wording of the answer, kept when the answer was rewritten.
    original_answer: Mapped[str | None] = mapped_column(Text, nullable=True, sort_order=1)
    # Partial credit (Moodle's answer fractions): a percentage per choice, -100 to 100, or
    # None when the correct choices are simply right and the others wrong.
    choice_weights: Mapped[list[float] | None] = mapped_column(JSON, nullable=True, sort_order=2)

    topics: Mapped[list[Topic]] = relationship(
        secondary="question_topics", back_populates="questions", order_by="Topic.slug"
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary="question_tags", back_populates="questions", order_by="Tag.slug"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("difficulty BETWEEN 1 AND 3", name="difficulty_range"),
        CheckConstraint("type IN ('open', 'multiple_choice', 'true_false')", name="type_allowed"),
        Index("ix_questions_updated_at_id", "updated_at", "id"),
        Index("ix_questions_created_at_id", "created_at", "id"),
        Index("ix_questions_difficulty_id", "difficulty", "id"),
        Index("ix_questions_type_id", "type", "id"),
        Index("ix_questions_related_group", "related_group"),
        {"sqlite_autoincrement": True},  # ids are never reused (see Topic)
    )

    @property
    def difficulty_name(self) -> str:
        return DIFFICULTIES[self.difficulty - 1]

    # Read paths load topic and tag references in one plain query and set them here, rather
    # than loading Topic and Tag objects (reading.py `attach_refs`).
    _topic_refs = None  # list[dict] when set; not a column
    _tag_refs = None

    @property
    def topic_refs(self) -> list[dict[str, str]]:
        """The question's topics as `{slug, name}`, by slug."""
        if self._topic_refs is not None:
            return self._topic_refs
        return [{"slug": t.slug, "name": t.name} for t in self.topics]

    @property
    def tag_refs(self) -> list[dict[str, str]]:
        """The question's tags as `{slug, name}`, by slug: a tag is named by its slug."""
        if self._tag_refs is not None:
            return self._tag_refs
        return [{"slug": t.slug, "name": t.slug} for t in self.tags]

    def compute_search_text(self) -> str:
        parts = [self.prompt or "", *(self.alternate_prompts or []), self.answer or ""]
        for point in self.key_points or []:
            parts.append(point["text"])
            parts.extend(point["alternatives"])
        return "\n".join(p for p in parts if p)


def _refresh_search_text(_mapper, _connection, question: Question) -> None:
    """Keep the indexed text in step with every write, whoever makes it."""
    question.search_text = question.compute_search_text()


def register_model_events() -> None:
    """Hook the search text onto Question's writes; create_app calls it (once per process)."""
    for name in ("before_insert", "before_update"):
        if not event.contains(Question, name, _refresh_search_text):
            event.listen(Question, name, _refresh_search_text)


class Tombstone(db.Model):
    """A deleted question or topic, kept so that sync clients and seeding learn of it.

    The row itself is gone (its slug is free again for an editor to reuse); what remains
    is which row it was and when it went. `GET /api/v1/deletions` lists them.
    """

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    row_id: Mapped[int] = mapped_column(Integer, nullable=False)
    slug: Mapped[str] = mapped_column(String(120), nullable=False)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('question', 'topic')", name="kind_allowed"),
        Index("ix_tombstones_deleted_at_id", "deleted_at", "id"),
        Index("ix_tombstones_kind_row_id", "kind", "row_id"),
        {"sqlite_autoincrement": True},
    )


REPORT_REASONS = ("incorrect", "outdated", "ambiguous", "typo", "other")
REPORT_STATUSES = ("open", "resolved", "dismissed")


class Report(db.Model):
    """A learner's flag on a question ("this answer is wrong"), and what an editor did."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "reason IN ('incorrect', 'outdated', 'ambiguous', 'typo', 'other')",
            name="reason_allowed",
        ),
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="status_allowed"),
        # One open report per learner and question.
        Index(
            "uq_reports_open_user_question",
            "user_id",
            "question_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_reports_status_id", "status", "id"),
        Index("ix_reports_question_id_status", "question_id", "status"),
    )


class SeedRecord(db.Model):
    """What seeding last did with one item of the seed file (a question or topic slug).

    `row_id` is the row the item created or adopted; `row_version` that row's version
    right after seeding wrote it (NULL: a row seeding found already edited and never
    owned); `content_hash` the seed content last applied. A later seed run updates a row
    only while its version is still `row_version` (no editor touched it since), and
    never recreates a row that is gone.
    """

    __tablename__ = "seed_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    seed_key: Mapped[str] = mapped_column(String(120), nullable=False)
    row_id: Mapped[int] = mapped_column(Integer, nullable=False)
    row_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('question', 'topic')", name="kind_allowed"),
        UniqueConstraint("kind", "seed_key", name="uq_seed_records_kind_seed_key"),
    )
