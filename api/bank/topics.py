"""Reading topics and tags with their question counts."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from api.bank.models import DIFFICULTIES, Question, QuestionTag, QuestionTopic, Tag, Topic
from api.extensions import db
from api.platform import bank_revision
from api.platform.errors import NotFound

SIZES_KEY = "qbank.topic_sizes"


def _topic_question_count():
    """Questions in the topic of the enclosing row: an index-only count per listed topic."""
    return (
        select(func.count())
        .where(QuestionTopic.topic_id == Topic.id)
        .correlate(Topic)
        .scalar_subquery()
        .label("question_count")
    )


def list_topics(*, page: int, per_page: int) -> tuple[list[tuple[Topic, int]], int]:
    """One page of topics by slug; counts only the links of the topics on the page."""
    total = db.session.scalar(select(func.count(Topic.id)))
    rows = db.session.execute(
        select(Topic, _topic_question_count())
        .order_by(Topic.slug)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [(topic, n) for topic, n in rows], int(total or 0)


def get_topic(slug: str) -> tuple[Topic, dict[str, int]]:
    topic = db.session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFound(f"There is no topic '{slug}'.")
    rows = db.session.execute(
        select(Question.difficulty, func.count())
        .join(QuestionTopic, QuestionTopic.question_id == Question.id)
        .where(QuestionTopic.topic_id == topic.id)
        .group_by(Question.difficulty)
    ).all()
    by_difficulty = {name: 0 for name in DIFFICULTIES}
    for level, n in rows:
        by_difficulty[DIFFICULTIES[level - 1]] = n
    return topic, by_difficulty


def list_tags(*, sort: str, page: int, per_page: int) -> tuple[list[tuple[Tag, int]], int]:
    """One page of tags; sorted by slug only the tags on the page have their links counted."""
    total = db.session.scalar(select(func.count(Tag.id)))
    count = (
        select(func.count())
        .where(QuestionTag.tag_id == Tag.id)
        .correlate(Tag)
        .scalar_subquery()
        .label("question_count")
    )
    order = {
        "slug": [Tag.slug],
        "-slug": [Tag.slug.desc()],
        "question_count": [count, Tag.slug],
        "-question_count": [count.desc(), Tag.slug],
    }[sort]
    rows = db.session.execute(
        select(Tag, count).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [(tag, n) for tag, n in rows], int(total or 0)


def question_counts() -> dict[str, int]:
    """Questions per topic slug, counted once per bank version in each worker.

    A learner's stats need every topic's size; counted per request that is a scan of
    the topic links (most of the cost of `GET /me/stats` at 100,000 questions). The
    counts change only with the bank, whose version every write bumps.
    """
    version = bank_revision.current()
    # Per app (a worker serves one; a test process builds many), for one bank version.
    counted_at, sizes = current_app.extensions.get(SIZES_KEY, (None, {}))
    if version is None or version != counted_at:
        sizes = dict(
            db.session.execute(
                select(Topic.slug, func.count(QuestionTopic.question_id))
                .join(QuestionTopic, QuestionTopic.topic_id == Topic.id)
                .group_by(Topic.slug)
            ).all()
        )
        current_app.extensions[SIZES_KEY] = (version, sizes)
    return sizes
