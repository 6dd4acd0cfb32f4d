"""Questions rendered straight from Core rows, for the read paths that render on every request.

A random draw renders what it drew each time (nothing to cache: few draws repeat over a
large bank), and loading ten ORM objects, then dumping them through marshmallow, was most of
its cost. Here the columns a payload needs are read with one prepared Core statement per
variant, the topic and tag references with one more, and the payload is built as plain
dicts: the same keys, order and values as `QuestionSchema` dumps
(`tests/bank/test_rows.py` compares the two over the whole bank, on both backends).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, literal, select, union_all

from api.bank.models import DIFFICULTIES, Question, QuestionTag, QuestionTopic, Tag, Topic
from api.bank.schemas import ANSWER_FIELDS
from api.extensions import db

_questions = Question.__table__.c
_PUBLIC_COLUMNS = (
    "id",
    "slug",
    "prompt",
    "alternate_prompts",
    "type",
    "difficulty",
    "choices",
    "sources",
    "version",
    "created_at",
    "updated_at",
    "related_group",
)
_ANSWER_COLUMNS = ANSWER_FIELDS
_KEY_POINT_KEYS = ("text", "alternatives", "contradictions")
_SOURCE_KEYS = ("document", "position")


_COLUMNS = {
    False: [_questions[name] for name in _PUBLIC_COLUMNS],
    True: [_questions[name] for name in _PUBLIC_COLUMNS + _ANSWER_COLUMNS],
}
_STATEMENTS = {
    with_answer: select(*columns).where(_questions.id.in_(bindparam("ids", expanding=True)))
    for with_answer, columns in _COLUMNS.items()
}


def row_columns(*, with_answer: bool) -> list:
    """The `questions` columns a payload is rendered from, for a caller's own statement."""
    return list(_COLUMNS[with_answer])


_topic_links = QuestionTopic.__table__.c
_tag_links = QuestionTag.__table__.c
_topics = Topic.__table__.c
_tags = Tag.__table__.c
_REFS = union_all(
    select(literal(0).label("kind"), _topic_links.question_id, _topics.slug, _topics.name)
    .join_from(QuestionTopic.__table__, Topic.__table__, _topics.id == _topic_links.topic_id)
    .where(_topic_links.question_id.in_(bindparam("ids", expanding=True))),
    # A tag's name is its slug: tags have no name of their own (yet).
    select(literal(1), _tag_links.question_id, _tags.slug, _tags.slug)
    .join_from(QuestionTag.__table__, Tag.__table__, _tags.id == _tag_links.tag_id)
    .where(_tag_links.question_id.in_(bindparam("ids", expanding=True))),
).order_by("kind", "slug")


def question_refs(ids: list[int]) -> dict[int, tuple[list[dict], list[dict]]]:
    """Each question's topics and tags as `{slug, name}` lists (by slug), in one query."""
    found: dict[int, tuple[list[dict], list[dict]]] = {i: ([], []) for i in ids}
    if ids:
        for kind, question_id, slug, name in db.session.connection().execute(_REFS, {"ids": ids}):
            found[question_id][kind].append({"slug": slug, "name": name})
    return found


def rendered_questions(ids: list[int], *, with_answer: bool) -> list[dict[str, Any]]:
    """The payloads of these questions, in the order of `ids` (ids not found are left out)."""
    if not ids:
        return []
    statement = _STATEMENTS[with_answer]
    found = {row.id: row for row in db.session.connection().execute(statement, {"ids": ids})}
    return payloads([found[i] for i in ids if i in found], with_answer=with_answer)


def payloads(found: list, *, with_answer: bool) -> list[dict[str, Any]]:
    """Render rows holding `row_columns(...)`, in their order, with their topics and tags."""
    refs = question_refs([row.id for row in found])
    return [_payload(row, refs[row.id], with_answer) for row in found]


def _payload(row, refs: tuple[list[dict], list[dict]], with_answer: bool) -> dict[str, Any]:
    choices = row.choices
    body = {
        "id": row.id,
        "slug": row.slug,
        "prompt": row.prompt,
        "alternate_prompts": list(row.alternate_prompts),
        "type": row.type,
        "difficulty": DIFFICULTIES[row.difficulty - 1],
        "choices": None if choices is None else list(choices),
        "topics": refs[0],
        "tags": refs[1],
        "sources": [_picked(source, _SOURCE_KEYS) for source in row.sources],
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if with_answer:
        correct, weights, explanations = row.correct_choices, row.choice_weights, row.explanations
        body.update(
            answer=row.answer,
            key_points=[_picked(point, _KEY_POINT_KEYS) for point in row.key_points],
            correct_choices=None if correct is None else [int(c) for c in correct],
            choice_weights=None if weights is None else [float(w) for w in weights],
            note=row.note,
            explanations=None if explanations is None else list(explanations),
            original_answer=row.original_answer,
        )
    body["related_group"] = row.related_group  # public, and last, as the schema declares it
    return body


def _picked(item: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """What a nested schema dumps of a stored JSON object: its declared keys, when present."""
    return {key: item[key] for key in keys if key in item}
