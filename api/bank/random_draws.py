"""Random draws of questions matching filters, without ORDER BY RANDOM()."""

from __future__ import annotations

import random
from array import array
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, union

from api.bank import rows
from api.bank.models import Question
from api.bank.reading import QuestionFilters, filtered, matching_ids
from api.extensions import db
from api.platform import http_cache
from api.platform.lru import ByteLRU

EXACT_SAMPLE_LIMIT = 5000
_rng = random.SystemRandom()
ID_POOLS_KEY = "qbank.id_pools"
RENDERED_KEY = "qbank.rendered_questions"
# A rendered question's weight before the cache holds any to average (public payloads of
# the seed and synthetic banks weigh 1.5 to 3 KiB, with answers up to about 8).
DEFAULT_RENDERED_BYTES = 4096


def init_app(app: Flask) -> None:
    """Per-worker pools of matching ids for random draws, and the questions they drew as
    rendered, each when given a byte budget."""
    pool_bytes = int(app.config.get("ID_POOL_MAX_BYTES") or 0)
    if pool_bytes > 0:
        app.extensions[ID_POOLS_KEY] = ByteLRU(pool_bytes, lambda ids: ids.itemsize * len(ids))
    rendered_bytes = int(app.config.get("RENDERED_QUESTIONS_MAX_BYTES") or 0)
    if rendered_bytes > 0:
        app.extensions[RENDERED_KEY] = ByteLRU(rendered_bytes, lambda entry: entry[1])


def id_pools() -> ByteLRU | None:
    """Matching ids per (bank version, filters), for random draws."""
    return current_app.extensions.get(ID_POOLS_KEY)


def random_rendered(
    *, filters: QuestionFilters, count: int, with_answer: bool
) -> list[dict[str, Any]]:
    """`count` distinct random questions matching the filters, rendered, without
    ORDER BY RANDOM().

    Each worker keeps the ids matching a set of filters, per bank version, in a compact
    array (`id_pools`): a draw then reads the version (the worker's own connection, as
    the response cache does), samples the array exactly and uniformly, and renders the
    questions drawn from Core rows (`rows.rendered_questions`), whatever the size of the
    bank. Building an array reads the matching ids once (an index scan, no rows). With
    the pools off, draws sample through the index instead (`_sample_in_database`).

    The questions a worker rendered are kept too, per bank version and variant (with or
    without answers), in a byte-bounded LRU: that pays where draws come from a few
    thousand questions (a topic, a quiz's filters). Any write to the bank changes the
    version, so nothing stale is ever served.
    """
    version = _pool_version()
    chosen, pooled = _draw(filters, count, version)
    cache = current_app.extensions.get(RENDERED_KEY)
    if cache is None or version is None or not _worth_keeping(cache, pooled):
        return rows.rendered_questions(chosen, with_answer=with_answer)
    found: dict[int, dict[str, Any]] = {}
    for question_id in chosen:
        entry = cache.get((version, with_answer, question_id))
        if entry is not None:
            found[question_id] = entry[0]
    missing = [i for i in chosen if i not in found]
    for rendered in rows.rendered_questions(missing, with_answer=with_answer):
        found[rendered["id"]] = rendered
        # A rendered dict holds about three times its repr's length (measured).
        cache.put((version, with_answer, rendered["id"]), (rendered, 3 * len(repr(rendered))))
    return [found[i] for i in chosen if i in found]


def _worth_keeping(cache: ByteLRU, pooled: int) -> bool:
    """Keep renderings only of draws from a pool whose questions all fit in the budget.

    From a larger pool few draws repeat before their renderings are evicted, and keeping
    each costs more than it saves: at 100,000 questions a uniform draw ran at 0.17 of the
    baseline with them kept, 0.195 without (bench, 2026-12-03). From the pools that fit
    (a bank of a few thousand questions at the default 4 MiB, a topic, a quiz's filters)
    draws repeat: at 1,000 questions, 0.34 with them, 0.19 without.
    """
    entries = len(cache)
    average = cache.size / entries if entries else DEFAULT_RENDERED_BYTES
    return pooled * average <= cache.max_bytes


def _draw(filters: QuestionFilters, count: int, version: int | None) -> tuple[list[int], int]:
    """The ids of a draw, from the worker's pool for this bank version (and that pool's
    size), or from the database (size 0: unknown, never kept)."""
    if version is None:
        return _sample_in_database(filters, count), 0
    ids = _pool(filters, version)
    return _sample_excluding(ids, count, set(filters.exclude)), len(ids)


def _pool_version() -> int | None:
    """The bank version the worker's id pools are kept at (None: the pools are off, or no
    version could be read), on the worker's own connection as the response cache reads it."""
    return None if id_pools() is None else http_cache.version_reader(current_app).read()


def _pool(filters: QuestionFilters, version: int | None) -> Sequence[int]:
    """Every id matching the filters (but `exclude`, which varies from call to call and is
    applied to the draw): the worker's pool for `version`, or read now without one."""
    pooled = replace(filters, exclude=[])
    if version is None:
        return list(db.session.scalars(matching_ids(pooled)))
    pools = id_pools()
    ids = pools.get((version, pooled))
    if ids is None:
        ids = array("i", db.session.scalars(matching_ids(pooled)))
        pools.put((version, pooled), ids)
    return ids


def matching_pool(filters: QuestionFilters) -> Sequence[int]:
    """Every id matching the filters, for draws that need the whole pool (quizzes leave out
    what a learner already had)."""
    return _pool(filters, _pool_version())


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
    ids_stmt, _ = filtered(filters, [Question.id])
    cap = max(count, EXACT_SAMPLE_LIMIT)
    # One statement, three independent scalar subqueries, so that each can use an index:
    # min and max stop at the first entry of the id-ordered index, and the count stops
    # at cap + 1 rows -- enough to choose the method, without counting a whole table.
    low, high, total = db.session.execute(
        select(
            filtered(filters, [func.min(Question.id)])[0].scalar_subquery(),
            filtered(filters, [func.max(Question.id)])[0].scalar_subquery(),
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
            stmt, _ = filtered(filters, [func.min(Question.id).label("id")])
            probes.append(stmt.where(Question.id >= point))
        for (question_id,) in db.session.execute(union(*probes)):
            if question_id is not None and question_id not in seen:
                seen.add(question_id)
                chosen.append(question_id)
    _rng.shuffle(chosen)
    return chosen[:count]
