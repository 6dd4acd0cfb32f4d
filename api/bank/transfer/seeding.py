"""Seeding the bank from the seed file without ever undoing editors' work.

Every seed item (a topic or question, named by its slug in the file) has a SeedRecord:
the row it created, that row's version right after seeding wrote it, and a hash of the
content applied. A later run (every `make serve`, every container start) then decides
item by item:

- no record, no row with that slug: **created** (and recorded);
- no record, a row with that slug: **unchanged** and adopted when it holds exactly the
  seed's content (a bank seeded before records existed); otherwise **kept (edited)**:
  an editor's row is never overwritten, and the record says seeding does not own it;
- a record whose row is gone (an editor deleted it): **kept deleted**, never recreated;
- a record whose row's version moved on since seeding wrote it: **kept (edited)**;
- otherwise the row is seeding's own: **updated** when the file's content changed,
  else **unchanged**.

`reset` names slugs (or `*` for all) whose seed content is forced back: edited rows are
overwritten and deleted ones created again. It is what `flask seed --reset` does, and
`reset_plan` says beforehand what that would overwrite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from api.bank.editing import QUESTION_FIELDS, apply_question, resolve_tags
from api.bank.models import DIFFICULTIES, Question, SeedRecord, Tombstone, Topic
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import InvalidBody

OUTCOMES = ("created", "updated", "unchanged", "kept (edited)", "kept deleted", "reset")


@dataclass
class SeedReport:
    """Outcomes per item: `counts` for questions, `topic_counts` for topics."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    topic_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    items: dict[str, list[str]] = field(default_factory=lambda: {o: [] for o in OUTCOMES})

    def add(self, outcome: str, key: str) -> None:
        counts = self.topic_counts if key.startswith("topic:") else self.counts
        counts[outcome] += 1
        self.items[outcome].append(key)

    def as_dict(self) -> dict[str, int]:
        """The questions' outcomes."""
        return dict(self.counts)


def content_hash(item: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


def _wanted(key: str, reset: Collection[str]) -> bool:
    return "*" in reset or key in reset


class _Seeder:
    def __init__(self, report: SeedReport, reset: Collection[str]) -> None:
        self.report = report
        self.reset = reset
        self.records = {(r.kind, r.seed_key): r for r in db.session.scalars(select(SeedRecord))}
        self.topics = {t.slug: t for t in db.session.scalars(select(Topic))}
        self.tag_cache: dict = {}
        self.tombstones = set(db.session.execute(select(Tombstone.kind, Tombstone.slug)))

    def _record(self, kind: str, key: str, row, digest: str, *, owned: bool) -> None:
        db.session.flush()  # the row's id and version as written
        record = self.records.get((kind, key))
        if record is None:
            record = SeedRecord(kind=kind, seed_key=key)
            db.session.add(record)
            self.records[(kind, key)] = record
        record.row_id = row.id
        record.row_version = row.version if owned else None
        record.content_hash = digest
        record.applied_at = utcnow()

    def _decide(self, kind: str, key: str, row, digest: str, same_content) -> tuple[str, Any]:
        """The outcome for one item, and the row to write (None: leave it alone)."""
        record = self.records.get((kind, key))
        if _wanted(key, self.reset):
            return "reset", row
        if record is None:
            if row is None:
                if (kind, key) in self.tombstones:  # deleted before seeding kept records
                    return "kept deleted", None
                return "created", None
            if same_content(row):
                self._record(kind, key, row, digest, owned=True)
                return "unchanged", None
            self._record(kind, key, row, digest, owned=False)
            return "kept (edited)", None
        if row is None or row.id != record.row_id:
            return "kept deleted", None
        if record.row_version is None or row.version != record.row_version:
            return "kept (edited)", None
        if record.content_hash == digest:
            return "unchanged", None
        return "updated", row

    def topic(self, data: dict[str, Any]) -> None:
        key, digest = data["slug"], content_hash(data)
        row = self.topics.get(key)
        outcome, target = self._decide(
            "topic",
            key,
            row,
            digest,
            lambda t: (t.name, t.description) == (data["name"], data["description"]),
        )
        self.report.add(outcome, f"topic:{key}")
        if outcome in ("created", "reset", "updated"):
            topic = target or Topic(slug=key)
            topic.name, topic.description = data["name"], data["description"]
            if topic.id is None:
                db.session.add(topic)
            self.topics[key] = topic
            self._record("topic", key, topic, digest, owned=True)

    def question(self, data: dict[str, Any]) -> None:
        key, digest = data["slug"], content_hash(data)
        row = db.session.scalar(select(Question).where(Question.slug == key))
        outcome, target = self._decide(
            "question", key, row, digest, lambda q: self._same_question(q, data)
        )
        self.report.add(outcome, key)
        if outcome not in ("created", "reset", "updated"):
            return
        question = target or Question(slug=key)
        self._apply(question, data)
        if question.id is None:
            db.session.add(question)
        self._record("question", key, question, digest, owned=True)

    def _topics_for(self, data: dict[str, Any]) -> list[Topic]:
        """The question's topics that exist; a seed topic an editor deleted is left out."""
        topics = []
        for slug in data["topics"]:
            if slug in self.topics:
                topics.append(self.topics[slug])
            elif ("topic", slug) not in self.records:
                raise InvalidBody("Unknown topics.", errors={"topics": [f"No topic '{slug}'."]})
        return topics

    def _apply(self, question: Question, data: dict[str, Any]) -> bool:
        topics = self._topics_for(data)
        tags = resolve_tags(data["tags"], self.tag_cache)
        return apply_question(question, data, topics=topics, tags=tags)

    @staticmethod
    def _same_question(question: Question, data: dict[str, Any]) -> bool:
        """Whether the row holds exactly what `data` would write (apply_question's fields)."""
        if any(name in data and getattr(question, name) != data[name] for name in QUESTION_FIELDS):
            return False
        if question.difficulty != DIFFICULTIES.index(data.get("difficulty", "medium")) + 1:
            return False
        return [t.slug for t in question.topics] == sorted(data["topics"]) and [
            t.slug for t in question.tags
        ] == sorted(data["tags"])


def seed_bank(
    *, bank: dict[str, Any], reset: Collection[str] = (), dry_run: bool = False
) -> SeedReport:
    """Apply the seed file (see the module's docstring), all or nothing."""
    report = SeedReport()
    try:
        with db.session.no_autoflush:
            seeder = _Seeder(report, reset)
            for data in bank["topics"]:
                seeder.topic(data)
            for data in bank["questions"]:
                seeder.question(data)
        db.session.flush()
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report


def reset_plan(*, bank: dict[str, Any], reset: Collection[str]) -> list[str]:
    """What `seed_bank(reset=...)` would overwrite or recreate, one line per item."""
    report = seed_bank(bank=bank, dry_run=True)
    plan = []
    for outcome, verb in (("kept (edited)", "overwrite"), ("kept deleted", "recreate")):
        for key in report.items[outcome]:
            if _wanted(key.removeprefix("topic:"), reset):
                plan.append(f"{verb} {key} ({outcome})")
    return plan
