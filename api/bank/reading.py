"""Reading questions: filters, full-text search, sorting and paging (draws: random_draws.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import raiseload, selectinload

from api.bank.models import (
    DIFFICULTIES,
    Question,
    QuestionTag,
    QuestionTopic,
    Tag,
    Tombstone,
    Topic,
)
from api.bank.rows import payloads, question_refs, rendered_questions, row_columns
from api.bank.search import apply_search, index_search
from api.extensions import db
from api.platform.errors import NotFound

SORTS = {
    "id": (Question.id,),
    "created_at": (Question.created_at, Question.id),
    "updated_at": (Question.updated_at, Question.id),
    "difficulty": (Question.difficulty, Question.id),
}


# Below this many matches random sampling reads every matching id: exact and still cheap.
@dataclass(frozen=True)
class QuestionFilters:
    topics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    difficulties: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    updated_since: datetime | None = None
    exclude: list[int] = field(default_factory=list)
    q: str | None = None

    def __hash__(self) -> int:
        """Hashable despite its lists (never changed after parsing), so that caches can
        be keyed by a set of filters: the draws' id pools, the review queue's statements."""
        return hash(tuple(tuple(v) if isinstance(v, list) else v for v in astuple(self)))

    @classmethod
    def from_args(cls, args: dict) -> QuestionFilters:
        """The filters among parsed query arguments or a body (absent ones: no filter)."""
        return cls(
            topics=args.get("topic") or [],
            tags=args.get("tag") or [],
            difficulties=args.get("difficulty") or [],
            types=args.get("type") or [],
            updated_since=args.get("updated_since"),
            exclude=args.get("exclude") or [],
            q=args.get("q"),
        )


def _with_relations(stmt: Select) -> Select:
    return stmt.options(selectinload(Question.topics), selectinload(Question.tags))


def lean(stmt: Select) -> Select:
    """Questions for reading only: their topics and tags come from `attach_refs`.

    The relationships raise if touched, so a read path that forgot them fails loudly
    instead of issuing a query per question.
    """
    return stmt.options(raiseload(Question.topics), raiseload(Question.tags))


def attach_refs(questions: list[Question]) -> list[Question]:
    """The topics and tags (`{slug, name}`) of these questions, in one plain query."""
    found = question_refs([q.id for q in questions])
    for question in questions:
        question._topic_refs, question._tag_refs = found[question.id]
    return questions


def filtered(filters: QuestionFilters, columns) -> tuple[Select, object | None]:
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
    *, filters: QuestionFilters, sort: str | None, page: int, per_page: int, with_answer: bool
) -> tuple[list[dict], int]:
    """One page of matching questions, rendered (rows.py), and the total, in a fixed number
    of queries.

    The page is found by a "deferred join": an inner query walks only the ids and sort
    keys in index order (an index-only scan of a composite index such as
    ix_questions_difficulty_id) to skip `(page - 1) * per_page` rows, and only the
    `per_page` rows found are then read in full by primary key. Deep pages thus skip
    index entries, never whole rows, and nothing sorts the table. The page is put back
    in order in Python from the sort keys the inner query returns, so the outer query
    needs no ORDER BY (and no sort) at all. Three queries: count, page, topics and tags.

    A search ordered by relevance has to rank every match anyway. On PostgreSQL its inner
    query also counts them (a window count) instead of a second pass over the matches:
    two queries, plus a count only for a page past the last. On SQLite, bm25() cannot
    run under a window function; there a search with no other filter is matched, ranked
    and counted in the full-text index alone, without reading the questions table.
    """
    stmt, rank = filtered(filters, [Question.id])
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
    columns = row_columns(with_answer=with_answer)
    found = db.session.execute(
        select(*columns, *sort_columns, *total_column).join(page_ids, page_ids.c.id == Question.id)
    ).all()
    if window_count:
        total = found[0].total if found else (_count(stmt) if page > 1 else 0)
    width = len(columns)
    found.sort(key=lambda row: tuple(row[width : width + len(sort_columns)]), reverse=descending)
    return payloads(found, with_answer=with_answer), int(total or 0)


def _count(ids: Select) -> int:
    return int(db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


def read_question(question_id: int, *, with_answer: bool) -> dict:
    """One question to show (GET), rendered from Core rows (rows.py), as the schema would."""
    found = rendered_questions([question_id], with_answer=with_answer)
    if not found:
        raise NotFound(f"There is no question {question_id}.")
    return found[0]


def get_question(question_id: int) -> Question:
    question = db.session.scalar(
        _with_relations(select(Question).where(Question.id == question_id))
    )
    if question is None:
        raise NotFound(f"There is no question {question_id}.")
    return question


def filtered_questions(filters: QuestionFilters, *, batch: int = 1000) -> Iterator[Question]:
    """Every matching question in id order, loaded in batches (exports)."""
    stmt, _ = filtered(filters, [Question])
    stmt = _with_relations(stmt.order_by(Question.id)).execution_options(yield_per=batch)
    yield from db.session.scalars(stmt)


def matching_ids(filters: QuestionFilters) -> Select:
    """A SELECT of the ids of the questions matching `filters` (for subqueries)."""
    stmt, _ = filtered(filters, [Question.id])
    return stmt


def deletions(*, since, kind: str | None, page: int, per_page: int) -> tuple[list[Tombstone], int]:
    """Tombstones of deletions at or after `since`, oldest first (a sync feed)."""
    stmt = select(Tombstone)
    if since is not None:
        stmt = stmt.where(Tombstone.deleted_at >= since)
    if kind is not None:
        stmt = stmt.where(Tombstone.kind == kind)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.order_by(Tombstone.deleted_at, Tombstone.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)
