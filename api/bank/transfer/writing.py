"""Writing many questions at once: the seed file and every import go through `Upserter`.

Questions are matched by slug, so seeding is idempotent: a second run changes
nothing, and a changed seed entry updates only the rows whose content changed
(bumping their version and updated_at). A question written without a slug is new
unless the bank already holds a question imported from the same document position;
a new one gets a slug made from its prompt (api/bank/slugs.py).

An import names what happens to an item whose slug an existing question has
(`on_conflict`): `fail` (the default) writes nothing and lists every such item,
`update` overwrites them, `skip` leaves them as they are. Overwriting an editor's
question is thus always asked for, never a side effect of reusing a slug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from sqlalchemy import select

from api.bank.editing import apply_question, resolve_tags, resolve_topics
from api.bank.models import Question, Tag, Topic
from api.bank.payloads import ON_CONFLICT, bank_file_schema
from api.bank.similarity import SimilarPrompts
from api.bank.slugs import SlugAllocator
from api.extensions import db
from api.platform.errors import Conflict, InvalidBody

OUTCOMES = ("created", "updated", "unchanged", "skipped")
# Conflicts a streamed import names in its error; the count covers the rest.
CONFLICTS_LISTED = 1000


class ImportConflict(Conflict):
    """Items of an import name questions the bank has, and `on_conflict` is `fail`."""

    slug = "import-conflict"


@dataclass
class WriteReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    # Per item, in the import's order: position, slug, outcome and the question's version
    # after the import (filled in by `settle`, once the rows are flushed).
    results: list[dict[str, Any]] = field(default_factory=list)
    # Items whose slug an existing question has, under on_conflict=fail.
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    conflict_count: int = 0
    # False: only the counts are kept (a streamed import of any size).
    keep_slugs: bool = True
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    _rows: list[tuple[dict[str, Any], Question]] = field(default_factory=list, repr=False)

    def add(
        self,
        outcome: str,
        slug: str,
        *,
        position: int | None = None,
        question: Question | None = None,
        previous_version: int | None = None,
    ) -> None:
        self.counts[outcome] += 1
        if not self.keep_slugs:
            return
        getattr(self, outcome).append(slug)
        if position is not None:
            result: dict[str, Any] = {"position": position, "slug": slug, "outcome": outcome}
            if previous_version is not None:
                result["previous_version"] = previous_version
            self.results.append(result)
            if question is not None:
                self._rows.append((result, question))

    def conflict(self, position: int, slug: str, version: int) -> None:
        self.conflict_count += 1
        if len(self.conflicts) < CONFLICTS_LISTED:
            self.conflicts.append({"position": position, "slug": slug, "version": version})

    def settle(self) -> None:
        """Each result's version as flushed: 1 for a new question, one more for an update."""
        for result, question in self._rows:
            result["version"] = question.version
        self._rows = []

    def raise_conflicts(self) -> None:
        if not self.conflict_count:
            return
        listed = ", ".join(f"{c['position']} ({c['slug']})" for c in self.conflicts[:10])
        more = self.conflict_count - min(len(self.conflicts), 10)
        items = (
            "1 item names a question"
            if self.conflict_count == 1
            else (f"{self.conflict_count} items name questions")
        )
        raise ImportConflict(
            f"Nothing was imported: {items} the bank already has "
            f"(position and slug: {listed}{f' and {more} more' if more else ''}). "
            "Send on_conflict=update to overwrite them or on_conflict=skip to leave them.",
            conflicts=self.conflicts,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.counts)


def read_bank_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return bank_file_schema.load(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        detail = exc.messages if isinstance(exc, ValidationError) else str(exc)
        raise InvalidBody(
            f"{path.name} is not a valid bank file.", errors={"file": detail}
        ) from exc


def upsert_bank(
    *,
    bank: dict[str, Any],
    dry_run: bool = False,
    flag_similar: bool = False,
    on_conflict: str = "fail",
    positions: list[int] | None = None,
) -> WriteReport:
    """Write the bank's topics and questions (matched by slug) in one transaction.

    A question without a slug is always created, under a slug made from its prompt that
    neither the bank nor another question of `bank` has (as `POST /questions` does), so
    it never overwrites a question that happens to read the same. A question whose slug
    the bank has is handled as `on_conflict` says (see the module's docstring); with
    `fail`, ImportConflict lists them all and nothing is written, dry run or not.

    With `dry_run` everything is done, flushed and reported, then rolled back. With
    `flag_similar`, each question about to be created is compared with the prompts
    already in the bank and reported as a near-duplicate when it reads the same.
    `positions` names each question's position in its document, for the report (by
    default, its index in `bank["questions"]`).
    """
    report = WriteReport()
    with all_or_nothing():
        writer = Upserter(
            report,
            similar=SimilarPrompts.from_database() if flag_similar else None,
            on_conflict=on_conflict,
            positions=positions,
        )
        writer.topics(bank["topics"])
        writer.questions(bank["questions"])
        report.raise_conflicts()
        db.session.flush()
        report.settle()
        commit_unless_dry_run(dry_run)
    return report


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """One all-or-nothing write of the bank: any error rolls the whole of it back."""
    try:
        yield
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.autoflush = True  # Upserter turns it off


def commit_unless_dry_run(dry_run: bool) -> None:
    if dry_run:
        db.session.flush()  # what the database would refuse, a dry run refuses too
        db.session.rollback()
    else:
        db.session.commit()


class Upserter:
    """Upserts topics and then questions, matched by slug, into the session's transaction.

    `questions` may be called once with everything (upsert_bank) or once per batch
    (stream_bank_file); between batches `forget` flushes and empties the session, so
    memory holds one batch of rows, not the whole bank.
    """

    def __init__(
        self,
        report: WriteReport,
        *,
        similar: SimilarPrompts | None = None,
        on_conflict: str = "fail",
        positions: list[int] | None = None,
    ) -> None:
        if on_conflict not in ON_CONFLICT:
            raise ValueError(f"on_conflict must be one of {ON_CONFLICT}")
        self.report = report
        self.similar = similar
        self.on_conflict = on_conflict
        self.position = 0  # of the next item, counted across batches
        self.positions = positions  # the items' positions in their document, if given
        self.topic_cache: dict[str, Topic] = {}
        self.tag_cache: dict[str, Tag] = {}
        # Read when a question has no slug: the slugs in use, and which document
        # positions the bank's questions came from (slug -> (document, position)).
        self.slugs: SlugAllocator | None = None
        self.sources: dict[tuple[str, int], str] = {}
        # One flush per batch: autoflushes mid-way would each bump a row's version.
        db.session.autoflush = False

    def topics(self, items: list[dict[str, Any]]) -> None:
        """New topics are created; existing ones change only with on_conflict=update."""
        self.topic_cache = {t.slug: t for t in db.session.scalars(select(Topic))}
        for data in items:
            topic = self.topic_cache.get(data["slug"])
            if topic is None:
                topic = Topic(**data)
                db.session.add(topic)
                self.topic_cache[topic.slug] = topic
            elif self.on_conflict == "update" and (topic.name, topic.description) != (
                data["name"],
                data["description"],
            ):
                topic.name, topic.description = data["name"], data["description"]

    def questions(self, items: list[dict[str, Any]]) -> None:
        explicit = {d["slug"] for d in items if d.get("slug")}
        existing = {
            q.slug: q
            for q in db.session.scalars(select(Question).where(Question.slug.in_(explicit)))
        }
        if self.slugs is None and any(not d.get("slug") for d in items):
            self.slugs = SlugAllocator.for_bank()
            self.sources = self._sources_in_bank()
        if self.slugs is not None:
            self.slugs.take(explicit)
        for data in items:
            index, self.position = self.position, self.position + 1
            position = self.positions[index] if self.positions is not None else index
            if (known := self._imported_before(data)) is not None:
                # Left as it is: a document imported again, never a write.
                self.report.add("unchanged", known, position=position)
                continue
            slug = data.get("slug") or self.slugs.for_prompt(data["prompt"])
            question = existing.get(slug)
            if question is not None and self.on_conflict != "update":
                if self.on_conflict == "fail":
                    self.report.conflict(position, slug, question.version)
                else:
                    self.report.add("skipped", slug, position=position, question=question)
                continue
            topics = resolve_topics(data["topics"], self.topic_cache)
            tags = resolve_tags(data["tags"], self.tag_cache)
            if question is None:
                if self.similar is not None and (match := self.similar.best(data["prompt"])):
                    self.report.near_duplicates.append({"slug": slug, **match})
                question = Question(slug=slug)
                apply_question(question, data, topics=topics, tags=tags)
                db.session.add(question)
                existing[slug] = question
                self.report.add("created", slug, position=position, question=question)
                continue
            before = question.version
            outcome = (
                "updated"
                if apply_question(question, data, topics=topics, tags=tags)
                else "unchanged"
            )
            self.report.add(
                outcome, slug, position=position, question=question, previous_version=before
            )

    def _imported_before(self, data: dict[str, Any]) -> str | None:
        """The slug of the question already imported from this item's source, if any.

        An item without a slug that names a (document, position) the bank already holds
        was imported before (a document imported twice): it is left as it is, not
        created again under a new slug. Items with a slug are matched by that slug.
        """
        if data.get("slug"):
            return None
        for source in data.get("sources") or []:
            known = self.sources.get((source["document"], source["position"]))
            if known is not None:
                return known
        return None

    @staticmethod
    def _sources_in_bank() -> dict[tuple[str, int], str]:
        found: dict[tuple[str, int], str] = {}
        for slug, sources in db.session.execute(select(Question.slug, Question.sources)):
            for source in sources or []:
                found.setdefault((source["document"], source["position"]), slug)
        return found

    def forget(self) -> None:
        """Write the batch and drop it from the session (the transaction stays open)."""
        db.session.flush()
        db.session.expunge_all()
        self.topic_cache = {t.slug: t for t in db.session.scalars(select(Topic))}
        self.tag_cache = {}
