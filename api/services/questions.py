"""Reading questions: filters, full-text search, sorting, paging and random sampling."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select, union
from sqlalchemy.orm import selectinload

from api.errors import NotFound
from api.extensions import db
from api.models import Question, QuestionTag, QuestionTopic, Tag, Topic
from api.models.bank import DIFFICULTIES
from api.services.search import apply_search

SORTS = {
    "id": (Question.id,),
    "created_at": (Question.created_at, Question.id),
    "updated_at": (Question.updated_at, Question.id),
    "difficulty": (Question.difficulty, Question.id),
}
# Below this many matches random sampling reads every matching id: exact and still cheap.
EXACT_SAMPLE_LIMIT = 5000
_rng = random.SystemRandom()


@dataclass(frozen=True)
class QuestionFilters:
    topics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    difficulties: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    updated_since: datetime | None = None
    exclude: list[int] = field(default_factory=list)
    q: str | None = None


def _with_relations(stmt: Select) -> Select:
    return stmt.options(selectinload(Question.topics), selectinload(Question.tags))


def _filtered(filters: QuestionFilters, columns) -> tuple[Select, object | None]:
    stmt = select(*columns)
    if filters.topics:
        stmt = stmt.where(
            Question.id.in_(
                select(QuestionTopic.question_id)
                .join(Topic, Topic.id == QuestionTopic.topic_id)
                .where(Topic.slug.in_(filters.topics))
            )
        )
    if filters.tags:
        stmt = stmt.where(
            Question.id.in_(
                select(QuestionTag.question_id)
                .join(Tag, Tag.id == QuestionTag.tag_id)
                .where(Tag.slug.in_(filters.tags))
            )
        )
    if filters.difficulties:
        stmt = stmt.where(
            Question.difficulty.in_([DIFFICULTIES.index(d) + 1 for d in filters.difficulties])
        )
    if filters.types:
        stmt = stmt.where(Question.type.in_(filters.types))
    if filters.updated_since is not None:
        stmt = stmt.where(Question.updated_at >= filters.updated_since)
    if filters.exclude:
        stmt = stmt.where(Question.id.not_in(filters.exclude))
    rank = None
    if filters.q:
        stmt, rank = apply_search(stmt, filters.q, db.engine.dialect.name)
    return stmt, rank


def list_questions(
    *, filters: QuestionFilters, sort: str | None, page: int, per_page: int
) -> tuple[list[Question], int]:
    """One page of matching questions and the total: always four queries, whatever the size.

    The page is found by a "deferred join": an inner query walks only the ids and sort
    keys in index order (an index-only scan of a composite index such as
    ix_questions_difficulty_id) to skip `(page - 1) * per_page` rows, and only the
    `per_page` rows found are then read in full by primary key. Deep pages thus skip
    index entries, never whole rows, and nothing sorts the table. The page is put back
    in order in Python from the sort keys the inner query returns, so the outer query
    needs no ORDER BY (and no sort) at all.
    """
    stmt, rank = _filtered(filters, [Question.id])
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    if sort in (None, "relevance") and rank is not None:
        keys, descending = [rank, Question.id], False
    else:
        key = sort or "id"
        descending = key.startswith("-")
        keys = list(SORTS[key.lstrip("-")])
    labelled = [k.label(f"sort_{i}") for i, k in enumerate(keys)]
    page_ids = (
        stmt.add_columns(*labelled)
        .order_by(*(k.desc() if descending else k for k in keys))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page")
    )
    sort_columns = [page_ids.c[k.name] for k in labelled]
    rows = db.session.execute(
        _with_relations(
            select(Question, *sort_columns).join(page_ids, page_ids.c.id == Question.id)
        )
    ).all()
    rows.sort(key=lambda row: tuple(row[1:]), reverse=descending)
    return [row[0] for row in rows], int(total or 0)


def get_question(question_id: int) -> Question:
    question = db.session.scalar(
        _with_relations(select(Question).where(Question.id == question_id))
    )
    if question is None:
        raise NotFound(f"There is no question {question_id}.")
    return question


def random_questions(*, filters: QuestionFilters, count: int) -> list[Question]:
    """`count` distinct random questions matching the filters, without ORDER BY RANDOM().

    Small match sets are sampled exactly from their ids. Large ones are sampled by
    random points in the id range, each resolved to the next matching id through
    the primary-key index, so the cost grows with `count`, not with the table.
    """
    ids_stmt, _ = _filtered(filters, [Question.id])
    cap = max(count, EXACT_SAMPLE_LIMIT)
    # One statement, three independent scalar subqueries, so that each can use an index:
    # min and max stop at the first entry of the id-ordered index, and the count stops
    # at cap + 1 rows -- enough to choose the method, without counting a whole table.
    low, high, total = db.session.execute(
        select(
            _filtered(filters, [func.min(Question.id)])[0].scalar_subquery(),
            _filtered(filters, [func.max(Question.id)])[0].scalar_subquery(),
            select(func.count()).select_from(ids_stmt.limit(cap + 1).subquery()).scalar_subquery(),
        )
    ).one()
    if not total:
        return []
    if total <= cap:
        all_ids = list(db.session.scalars(ids_stmt))
        chosen = _rng.sample(all_ids, min(count, len(all_ids)))
    else:
        chosen = _sample_by_id_range(filters, low, high, count)
    found = {
        q.id: q
        for q in db.session.scalars(
            _with_relations(select(Question).where(Question.id.in_(chosen)))
        )
    }
    return [found[i] for i in chosen if i in found]


def _sample_by_id_range(filters: QuestionFilters, low: int, high: int, count: int) -> list[int]:
    chosen: list[int] = []
    seen: set[int] = set()
    for _round in range(4):
        wanted = count - len(chosen)
        if wanted <= 0:
            break
        points = [_rng.randint(low, high) for _ in range(wanted * 2 + 4)]
        probes = []
        for point in points:
            stmt, _ = _filtered(filters, [func.min(Question.id).label("id")])
            probes.append(stmt.where(Question.id >= point))
        for (question_id,) in db.session.execute(union(*probes)):
            if question_id is not None and question_id not in seen:
                seen.add(question_id)
                chosen.append(question_id)
    _rng.shuffle(chosen)
    return chosen[:count]


def filtered_questions(filters: QuestionFilters, *, batch: int = 1000) -> Iterator[Question]:
    """Every matching question in id order, loaded in batches (exports)."""
    stmt, _ = _filtered(filters, [Question])
    stmt = _with_relations(stmt.order_by(Question.id)).execution_options(yield_per=batch)
    yield from db.session.scalars(stmt)


def matching_ids(filters: QuestionFilters) -> Select:
    """A SELECT of the ids of the questions matching `filters` (for subqueries)."""
    stmt, _ = _filtered(filters, [Question.id])
    return stmt
