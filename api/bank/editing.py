"""Editors' writes to the bank: questions and topics, each in one transaction.

Every change bumps the row's version (SQLAlchemy's version counter) and updated_at,
including a change to a question's topics or tags alone, so that ETags, `updated_since`
sync and the version number all see it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.bank.models import DIFFICULTIES, Question, QuestionTopic, Tag, Tombstone, Topic
from api.bank.similarity import SimilarPrompts
from api.bank.slugs import SlugAllocator, slugify
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import Conflict, InvalidBody, NotFound

QUESTION_FIELDS = (
    "prompt",
    "alternate_prompts",
    "answer",
    "key_points",
    "note",
    "type",
    "choices",
    "correct_choices",
    "choice_weights",
    "sources",
    "explanations",
    "related_group",
    "original_answer",
)


def resolve_tags(slugs: list[str], cache: dict[str, Tag]) -> list[Tag]:
    missing = [s for s in slugs if s not in cache]
    if missing:
        for tag in db.session.scalars(select(Tag).where(Tag.slug.in_(missing))):
            cache[tag.slug] = tag
        for slug in missing:
            if slug not in cache:
                cache[slug] = Tag(slug=slug)
                db.session.add(cache[slug])
    return [cache[s] for s in slugs]


def resolve_topics(slugs: list[str], cache: dict[str, Topic]) -> list[Topic]:
    unknown = [s for s in slugs if s not in cache]
    if unknown:
        for topic in db.session.scalars(select(Topic).where(Topic.slug.in_(unknown))):
            cache[topic.slug] = topic
    still = [s for s in slugs if s not in cache]
    if still:
        raise InvalidBody("Unknown topics.", errors={"topics": [f"No topic '{s}'." for s in still]})
    return [cache[s] for s in slugs]


def apply_question(
    question: Question, data: dict[str, Any], *, topics: list[Topic], tags: list[Tag]
) -> bool:
    """Copy `data` onto `question`; True when anything actually changed."""
    changed = False
    for name in QUESTION_FIELDS:
        if name in data and getattr(question, name) != data[name]:
            setattr(question, name, data[name])
            changed = True
    level = DIFFICULTIES.index(data.get("difficulty", "medium")) + 1
    if question.difficulty != level:
        question.difficulty = level
        changed = True
    if [t.slug for t in question.topics] != sorted(t.slug for t in topics):
        question.topics = sorted(topics, key=lambda t: t.slug)
        changed = True
    if [t.slug for t in question.tags] != sorted(t.slug for t in tags):
        question.tags = sorted(tags, key=lambda t: t.slug)
        changed = True
    if changed and question.id is not None:
        # Links alone don't touch the row: stamping it bumps the version counter too.
        question.updated_at = utcnow()
    return changed


def _commit(conflict: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(conflict) from exc
    except Exception:
        db.session.rollback()
        raise


def create_question(*, data: dict[str, Any], allow_duplicate: bool = False) -> Question:
    """A new question; an explicit slug already taken is a 409, a derived one gets a suffix.

    A prompt that reads like one already in the bank (the import's near-duplicate rule)
    is a 409 naming that question, unless `allow_duplicate`: re-running a script that
    creates questions makes no silent twins.
    """
    if data.get("slug"):
        if db.session.scalar(select(Question.id).where(Question.slug == data["slug"])):
            raise Conflict(f"The slug '{data['slug']}' is taken.", errors={"slug": ["Taken."]})
        slug = data["slug"]
    else:
        base = slugify(data["prompt"])
        slug = SlugAllocator.for_base(base).allocate(base)
    try:
        topics = resolve_topics(data.get("topics", []), {})
        if not allow_duplicate:
            match = SimilarPrompts.from_database().best(data["prompt"])
            if match is not None:
                twin = match["similar_to"]
                raise Conflict(
                    f"Question {twin['id']} ('{twin['slug']}') already reads the same; send "
                    "allow_duplicate=true to create this one anyway.",
                    errors={
                        "prompt": [
                            f"Reads like question {twin['id']} ('{twin['slug']}'), score "
                            f"{match['score']}."
                        ]
                    },
                )
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
        "choice_weights": question.choice_weights,
        "topics": [t.slug for t in question.topics],
        "tags": [t.slug for t in question.tags],
        "sources": [dict(s) for s in question.sources],
        "explanations": question.explanations,
        "related_group": question.related_group,
        "original_answer": question.original_answer,
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
    """The row goes, a tombstone stays (sync clients and seeding learn of the deletion)."""
    db.session.add(Tombstone(kind="question", row_id=question.id, slug=question.slug))
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
    db.session.add(Tombstone(kind="topic", row_id=topic.id, slug=topic.slug))
    db.session.delete(topic)
    _commit("The topic could not be deleted.")
