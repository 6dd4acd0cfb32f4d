"""Writing the bank in bulk: the curated seed file and plain-text documents.

Questions are matched by slug, so seeding is idempotent: a second run changes
nothing, and a changed seed entry updates only the rows whose content changed
(bumping their version and updated_at). A question written without a slug is a new
one: it gets a slug made from its prompt, with a numeric suffix when that is taken.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process
from sqlalchemy import select

from api.errors import InvalidBody
from api.extensions import db
from api.models import Question, Tag, Topic
from api.models.bank import DIFFICULTIES
from api.models.types import utcnow
from api.schemas.bank import bank_file_schema
from api.services.textparse import parse_qa_text

QUESTION_FIELDS = (
    "prompt",
    "alternate_prompts",
    "answer",
    "key_points",
    "note",
    "type",
    "choices",
    "correct_choices",
    "sources",
)


@dataclass
class WriteReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    # False: only the counts are kept (a streamed import of any size).
    keep_slugs: bool = True
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )

    def add(self, outcome: str, slug: str) -> None:
        self.counts[outcome] += 1
        if self.keep_slugs:
            getattr(self, outcome).append(slug)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.counts)


def slugify(text: str, *, max_length: int = 80) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return (slug[:max_length].rstrip("-")) or "question"


def read_bank_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return bank_file_schema.load(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        detail = exc.messages if isinstance(exc, ValidationError) else str(exc)
        raise InvalidBody(
            f"{path.name} is not a valid bank file.", errors={"file": detail}
        ) from exc


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


def seed_bank(
    *, bank: dict[str, Any], dry_run: bool = False, flag_similar: bool = False
) -> WriteReport:
    """Upsert the bank's topics and questions (matched by slug) in one transaction.

    A question without a slug is always created, under a slug made from its prompt that
    neither the bank nor another question of `bank` has (as `POST /questions` does), so
    it never overwrites a question that happens to read the same.

    With `dry_run` everything is done, flushed and reported, then rolled back. With
    `flag_similar`, each question about to be created is compared with the prompts
    already in the bank and reported as a near-duplicate when it reads the same.
    """
    report = WriteReport()
    with bank_write():
        writer = BankWriter(
            report, similar=SimilarPrompts.from_database() if flag_similar else None
        )
        writer.topics(bank["topics"])
        writer.questions(bank["questions"])
        finish_write(dry_run)
    return report


@contextmanager
def bank_write() -> Iterator[None]:
    """One all-or-nothing write of the bank: any error rolls the whole of it back."""
    try:
        yield
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.autoflush = True  # BankWriter turns it off


def finish_write(dry_run: bool) -> None:
    if dry_run:
        db.session.flush()  # what the database would refuse, a dry run refuses too
        db.session.rollback()
    else:
        db.session.commit()


class BankWriter:
    """Upserts topics and then questions, matched by slug, into the session's transaction.

    `questions` may be called once with everything (seed_bank) or once per batch
    (stream_bank_file); between batches `forget` flushes and empties the session, so
    memory holds one batch of rows, not the whole bank.
    """

    def __init__(self, report: WriteReport, *, similar: SimilarPrompts | None = None) -> None:
        self.report = report
        self.similar = similar
        self.topic_cache: dict[str, Topic] = {}
        self.tag_cache: dict[str, Tag] = {}
        self.taken: set[str] | None = None  # slugs in use, read when a question has none
        # One flush per batch: autoflushes mid-way would each bump a row's version.
        db.session.autoflush = False

    def topics(self, items: list[dict[str, Any]]) -> None:
        self.topic_cache = {t.slug: t for t in db.session.scalars(select(Topic))}
        for data in items:
            topic = self.topic_cache.get(data["slug"])
            if topic is None:
                topic = Topic(**data)
                db.session.add(topic)
                self.topic_cache[topic.slug] = topic
            elif (topic.name, topic.description) != (data["name"], data["description"]):
                topic.name, topic.description = data["name"], data["description"]

    def questions(self, items: list[dict[str, Any]]) -> None:
        explicit = {d["slug"] for d in items if d.get("slug")}
        existing = {
            q.slug: q
            for q in db.session.scalars(select(Question).where(Question.slug.in_(explicit)))
        }
        if self.taken is None and any(not d.get("slug") for d in items):
            self.taken = set(db.session.scalars(select(Question.slug)))
        if self.taken is not None:
            self.taken |= explicit
        for data in items:
            slug = data.get("slug") or _free_slug(slugify(data["prompt"]), self.taken)
            topics = resolve_topics(data["topics"], self.topic_cache)
            tags = resolve_tags(data["tags"], self.tag_cache)
            question = existing.get(slug)
            if question is None:
                if self.similar is not None and (match := self.similar.best(data["prompt"])):
                    self.report.near_duplicates.append({"slug": slug, **match})
                question = Question(slug=slug)
                apply_question(question, data, topics=topics, tags=tags)
                db.session.add(question)
                existing[slug] = question
                self.report.add("created", slug)
            elif apply_question(question, data, topics=topics, tags=tags):
                self.report.add("updated", slug)
            else:
                self.report.add("unchanged", slug)

    def forget(self) -> None:
        """Write the batch and drop it from the session (the transaction stays open)."""
        db.session.flush()
        db.session.expunge_all()
        self.topic_cache = {t.slug: t for t in db.session.scalars(select(Topic))}
        self.tag_cache = {}


def _free_slug(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`...: the first not in `taken`, which now holds it."""
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


class SimilarPrompts:
    """Fuzzy look-up of a prompt among the bank's prompts and alternate phrasings."""

    # token_sort_ratio: word order free, but extra words count (token_set_ratio would call
    # "What is Flask?" a twin of every question that contains those words).
    THRESHOLD = 80.0

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        self.rows = rows
        self.texts = [text for _, _, text in rows]

    @classmethod
    def from_database(cls) -> SimilarPrompts:
        rows: list[tuple[int, str, str]] = []
        query = select(Question.id, Question.slug, Question.prompt, Question.alternate_prompts)
        for qid, slug, prompt, alternates in db.session.execute(query):
            rows.append((qid, slug, prompt))
            rows.extend((qid, slug, alt) for alt in alternates or [])
        return cls(rows)

    def best(self, prompt: str) -> dict[str, Any] | None:
        found = process.extractOne(
            prompt,
            self.texts,
            scorer=fuzz.token_sort_ratio,
            processor=default_process,
            score_cutoff=self.THRESHOLD,
        )
        if found is None:
            return None
        _text, score, index = found
        qid, slug, text = self.rows[index]
        return {"similar_to": {"id": qid, "slug": slug, "prompt": text}, "score": round(score, 1)}


def import_text(*, text: str, document: str) -> WriteReport:
    """Create a question for each parsed Q&A not already in the bank from that source."""
    parsed = parse_qa_text(text)
    report = WriteReport()
    known: set[tuple[str, int]] = set()
    for sources in db.session.scalars(select(Question.sources)):
        known.update((s["document"], s["position"]) for s in sources)
    taken = set(db.session.scalars(select(Question.slug)))
    try:
        for item in parsed:
            if (document, item.position) in known:
                report.add("unchanged", f"{document}#{item.position}")
                continue
            slug = _free_slug(slugify(item.prompt), taken)
            question = Question(
                slug=slug,
                prompt=item.prompt,
                answer=item.answer,
                key_points=[],
                alternate_prompts=[],
                sources=[{"document": document, "position": item.position}],
                difficulty=2,
                type="open",
            )
            db.session.add(question)
            report.add("created", slug)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report
