"""Editors' writes to the bank: questions and topics, each in one transaction.

Every change bumps the row's version (SQLAlchemy's version counter) and updated_at,
including a change to a question's topics or tags alone, so that ETags, `updated_since`
sync and the version number all see it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, NotFound
from api.extensions import db
from api.models import Question, QuestionTopic, Topic
from api.models.types import utcnow
from api.services.bank import apply_question, resolve_tags, resolve_topics, slugify


def _unique_slug(base: str) -> str:
    taken = set(
        db.session.scalars(
            select(Question.slug).where((Question.slug == base) | Question.slug.like(f"{base}-%"))
        )
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _commit(conflict: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(conflict) from exc
    except Exception:
        db.session.rollback()
        raise


def create_question(*, data: dict[str, Any]) -> Question:
    """A new question; an explicit slug already taken is a 409, a derived one gets a suffix."""
    if data.get("slug"):
        if db.session.scalar(select(Question.id).where(Question.slug == data["slug"])):
            raise Conflict(f"The slug '{data['slug']}' is taken.", errors={"slug": ["Taken."]})
        slug = data["slug"]
    else:
        slug = _unique_slug(slugify(data["prompt"]))
    try:
        topics = resolve_topics(data.get("topics", []), {})
        tags = resolve_tags(data.get("tags", []), {})
        question = Question(slug=slug)
        apply_question(question, data, topics=topics, tags=tags)
        db.session.add(question)
    except Exception:
        db.session.rollback()
        raise
    _commit(f"The slug '{slug}' is taken.")
    return question


def editable_fields(question: Question) -> dict[str, Any]:
    """The question as an editor would write it: what a PATCH is merged onto."""
    return {
        "slug": question.slug,
        "prompt": question.prompt,
        "alternate_prompts": list(question.alternate_prompts),
        "answer": question.answer,
        "key_points": list(question.key_points),
        "note": question.note,
        "difficulty": question.difficulty_name,
        "type": question.type,
        "choices": question.choices,
        "correct_choices": question.correct_choices,
        "topics": [t.slug for t in question.topics],
        "tags": [t.slug for t in question.tags],
        "sources": [dict(s) for s in question.sources],
    }


def update_question(*, question: Question, data: dict[str, Any]) -> Question:
    """Apply a validated, merged set of fields; unchanged input changes nothing."""
    try:
        if data["slug"] != question.slug:
            taken = db.session.scalar(select(Question.id).where(Question.slug == data["slug"]))
            if taken:
                raise Conflict(f"The slug '{data['slug']}' is taken.", errors={"slug": ["Taken."]})
            question.slug = data["slug"]
        topics = resolve_topics(data["topics"], {})
        tags = resolve_tags(data["tags"], {})
        if apply_question(question, data, topics=topics, tags=tags) or db.session.is_modified(
            question
        ):
            question.updated_at = utcnow()
    except Exception:
        db.session.rollback()
        raise
    _commit(f"The slug '{question.slug}' is taken.")
    return question


def delete_question(*, question: Question) -> None:
    db.session.delete(question)
    _commit("The question could not be deleted.")


def get_topic_row(slug: str) -> Topic:
    topic = db.session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFound(f"There is no topic '{slug}'.")
    return topic


def create_topic(*, data: dict[str, Any]) -> Topic:
    if db.session.scalar(select(Topic.id).where(Topic.slug == data["slug"])):
        raise Conflict(f"The topic '{data['slug']}' exists.", errors={"slug": ["Taken."]})
    topic = Topic(slug=data["slug"], name=data["name"], description=data.get("description", ""))
    db.session.add(topic)
    _commit(f"The topic '{data['slug']}' exists.")
    return topic


def update_topic(*, topic: Topic, data: dict[str, Any]) -> Topic:
    new_slug = data.get("slug", topic.slug)
    if new_slug != topic.slug:
        if db.session.scalar(select(Topic.id).where(Topic.slug == new_slug)):
            raise Conflict(f"The topic '{new_slug}' exists.", errors={"slug": ["Taken."]})
        topic.slug = new_slug
    for name in ("name", "description"):
        if name in data:
            setattr(topic, name, data[name])
    if db.session.is_modified(topic):
        topic.updated_at = utcnow()
    _commit(f"The topic '{new_slug}' exists.")
    return topic


def delete_topic(*, topic: Topic) -> None:
    """Only an empty topic goes: deleting one would silently untag its questions."""
    count = db.session.scalar(
        select(func.count()).select_from(QuestionTopic).where(QuestionTopic.topic_id == topic.id)
    )
    if count:
        raise Conflict(
            f"The topic '{topic.slug}' still has {count} questions; move them first.",
            question_count=count,
        )
    db.session.delete(topic)
    _commit("The topic could not be deleted.")
