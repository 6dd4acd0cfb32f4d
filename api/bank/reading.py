"""Reading questions: filters, full-text search, sorting, paging and random sampling."""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import datetime

from sqlalchemy import Select, func, literal, select, union, union_all
from sqlalchemy.orm import raiseload, selectinload

from api.cache import id_pools
from api.errors import NotFound
from api.extensions import db
from api.models import Question, QuestionTag, QuestionTopic, Tag, Topic
from api.models.bank import DIFFICULTIES
from api.services import versioning
from api.services.search import apply_search, index_search

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


def _lean(stmt: Select) -> Select:
    """Questions for reading only: their topic and tag slugs come from `_attach_slugs`.

    The relationships raise if touched, so a read path that forgot the slugs fails
    loudly instead of issuing a query per question.
    """
    return stmt.options(raiseload(Question.topics), raiseload(Question.tags))


def _attach_slugs(questions: list[Question]) -> list[Question]:
    """The topic and tag slugs of these questions, in one plain query (no ORM objects)."""
    if not questions:
        return questions
    ids = [q.id for q in questions]
    topics = (
        select(literal(0).label("kind"), QuestionTopic.question_id, Topic.slug.label("slug"))
        .join(Topic, Topic.id == QuestionTopic.topic_id)
        .where(QuestionTopic.question_id.in_(ids))
    )
    tags = (
        select(literal(1), QuestionTag.question_id, Tag.slug)
        .join(Tag, Tag.id == QuestionTag.tag_id)
        .where(QuestionTag.question_id.in_(ids))
    )
    found: dict[int, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
    rows = db.session.execute(union_all(topics, tags).order_by("kind", "slug"))
    for kind, question_id, slug in rows:
        found[question_id][kind].append(slug)
    for question in questions:
        question._topic_slugs, question._tag_slugs = found[question.id]
    return questions


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
    """One page of matching questions and the total, in a fixed number of queries.

    The page is found by a "deferred join": an inner query walks only the ids and sort
    keys in index order (an index-only scan of a composite index such as
    ix_questions_difficulty_id) to skip `(page - 1) * per_page` rows, and only the
    `per_page` rows found are then read in full by primary key. Deep pages thus skip
    index entries, never whole rows, and nothing sorts the table. The page is put back
    in order in Python from the sort keys the inner query returns, so the outer query
    needs no ORDER BY (and no sort) at all. Three queries: count, page, topic and tag slugs.

    A search ordered by relevance has to rank every match anyway. On PostgreSQL its inner
    query also counts them (a window count) instead of a second pass over the matches:
    two queries, plus a count only for a page past the last. On SQLite, bm25() cannot
    run under a window function; there a search with no other filter is matched, ranked
    and counted in the full-text index alone, without reading the questions table.
    """
    stmt, rank = _filtered(filters, [Question.id])
    ranked = sort in (None, "relevance") and rank is not None
    indexed = None
    if ranked and filters == QuestionFilters(q=filters.q):
        indexed = index_search(filters.q, db.engine.dialect.name)
    if indexed is not None:
        stmt, keys, descending = indexed.ids, list(indexed.keys), False
    elif ranked:
        keys, descending = [rank, Question.id], False
    else:
        key = sort or "id"
        descending = key.startswith("-")
        keys = list(SORTS[key.lstrip("-")])
    labelled = [k.label(f"sort_{i}") for i, k in enumerate(keys)]
    window_count = ranked and db.engine.dialect.name == "postgresql"
    counted = [func.count().over().label("total")] if window_count else []
    page_ids = (
        stmt.add_columns(*labelled, *counted)
        .order_by(*(k.desc() if descending else k for k in keys))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page")
    )
    sort_columns = [page_ids.c[k.name] for k in labelled]
    total_column = [page_ids.c.total] if window_count else []
    if window_count:
        total = None
    elif indexed is not None:
        total = int(db.session.scalar(indexed.count) or 0)
    else:
        total = _count(stmt)
    rows = db.session.execute(
        _lean(
            select(Question, *sort_columns, *total_column).join(
                page_ids, page_ids.c.id == Question.id
            )
        )
    ).all()
    if window_count:
        total = rows[0].total if rows else (_count(stmt) if page > 1 else 0)
    width = len(sort_columns)
    rows.sort(key=lambda row: tuple(row[1 : 1 + width]), reverse=descending)
    return _attach_slugs([row[0] for row in rows]), int(total or 0)


def _count(ids: Select) -> int:
    return int(db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


def read_question(question_id: int) -> Question:
    """One question to show (GET): its slugs attached, its relationships not loaded."""
    question = db.session.scalar(_lean(select(Question).where(Question.id == question_id)))
    if question is None:
        raise NotFound(f"There is no question {question_id}.")
    return _attach_slugs([question])[0]


def get_question(question_id: int) -> Question:
    question = db.session.scalar(
        _with_relations(select(Question).where(Question.id == question_id))
    )
    if question is None:
        raise NotFound(f"There is no question {question_id}.")
    return question


def random_questions(*, filters: QuestionFilters, count: int) -> list[Question]:
    """`count` distinct random questions matching the filters, without ORDER BY RANDOM().

    Each worker keeps the ids matching a set of filters, per bank version, in a compact
    array (api/cache.py `id_pools`): a draw then reads one row for the version, samples
    the array exactly and uniformly, and loads the questions drawn, whatever the size of
    the bank. Building an array reads the matching ids once (an index scan, no rows).
    With the pools off, draws sample through the index instead (`_sample_in_database`).
    """
    pools = id_pools()
    version = versioning.current() if pools is not None else None
    if version is None:
        chosen = _sample_in_database(filters, count)
    else:
        # `exclude` varies from call to call (quizzes): applied to the draw, not the pool.
        pooled = replace(filters, exclude=[])
        key = (version, *(tuple(v) if isinstance(v, list) else v for v in astuple(pooled)))
        ids = pools.get(key)
        if ids is None:
            ids = array("i", db.session.scalars(matching_ids(pooled)))
            pools.put(key, ids)
        chosen = _sample_excluding(ids, count, set(filters.exclude))
    if not chosen:
        return []
    found = {
        q.id: q for q in db.session.scalars(_lean(select(Question).where(Question.id.in_(chosen))))
    }
    return _attach_slugs([found[i] for i in chosen if i in found])


def _sample_excluding(ids: Sequence[int], count: int, excluded: set[int]) -> list[int]:
    """A uniform draw of `count` ids not in `excluded`.

    The first `count` non-excluded ids of a uniformly random arrangement are a uniform
    draw; a sample `len(excluded)` longer always holds that many (or all there are).
    """
    drawn = _rng.sample(ids, min(len(ids), count + len(excluded)))
    return [i for i in drawn if i not in excluded][:count]


def _sample_in_database(filters: QuestionFilters, count: int) -> list[int]:
    """Small match sets are sampled exactly from their ids; large ones by random points in
    the id range, each resolved to the next matching id through the primary-key index, so
    the cost grows with `count`, not with the table."""
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
        return _rng.sample(all_ids, min(count, len(all_ids)))
    return _sample_by_id_range(filters, low, high, count)


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
