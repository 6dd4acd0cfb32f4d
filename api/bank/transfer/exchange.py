"""Bulk import and export of questions: JSON (the bank format), CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ijson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.bank.editing import editable_fields
from api.bank.licence import LICENCE, notice
from api.bank.models import Topic
from api.bank.payloads import question_in_schema, questions_in_schema, topic_in_schema
from api.bank.reading import QuestionFilters, filtered_questions
from api.bank.transfer.textparse import parse_qa_text
from api.bank.transfer.writing import (
    Upserter,
    WriteReport,
    all_or_nothing,
    commit_unless_dry_run,
    upsert_bank,
)
from api.extensions import db
from api.platform.errors import Conflict, InvalidBody
from api.platform.parsing import load_or_422

CSV_COLUMNS = (
    "slug",
    "prompt",
    "alternate_prompts",
    "answer",
    "key_points",
    "note",
    "difficulty",
    "type",
    "choices",
    "correct_choices",
    "topics",
    "tags",
    "sources",
    "explanations",
    "related_group",
    "original_answer",
)


def import_bank(*, bank: dict[str, Any], dry_run: bool) -> WriteReport:
    """All or nothing: any invalid question, unknown topic or conflict changes nothing.

    A conflict is a concurrent write that took a slug first: a 409, to retry.
    """
    try:
        return upsert_bank(bank=bank, dry_run=dry_run, flag_similar=True)
    except IntegrityError as exc:  # upsert_bank has rolled back
        raise Conflict(
            "Nothing was imported: another write took one of these slugs first; retry."
        ) from exc


def text_bank(*, text: str, document: str) -> dict[str, Any]:
    """A plain-text Q&A document as a bank of validated questions, for `import_bank`.

    Each question records its source (document, position): importing the same document
    again finds them and creates nothing twice (api/bank/transfer/writing.py).
    Raises ParseError for a document that is not Q&A, InvalidBody for invalid items.
    """
    parsed = [
        {
            "prompt": item.prompt,
            "answer": item.answer,
            "sources": [{"document": document, "position": item.position}],
        }
        for item in parse_qa_text(text)
    ]
    questions = load_or_422(
        questions_in_schema, parsed, "Nothing was imported: fix the items named in `errors`."
    )
    return {"topics": [], "questions": questions}


def export_questions(*, filters: QuestionFilters) -> tuple[list[dict[str, Any]], list[Topic]]:
    questions = [editable_fields(q) for q in filtered_questions(filters)]
    slugs = sorted({slug for q in questions for slug in q["topics"]})
    topics = list(
        db.session.scalars(select(Topic).where(Topic.slug.in_(slugs)).order_by(Topic.slug))
    )
    return questions, topics


def to_json(questions: list[dict[str, Any]], topics: Iterable[Topic]) -> str:
    """The bank file format, so an export imports back as it was."""
    bank = {
        "version": 1,
        "licence": LICENCE,
        "topics": [{"slug": t.slug, "name": t.name, "description": t.description} for t in topics],
        "questions": questions,
    }
    return json.dumps(bank, ensure_ascii=False, indent=2) + "\n"


def to_csv(questions: list[dict[str, Any]]) -> str:
    """One row a question; lists as JSON in their cell, topic and tag slugs space-separated."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for q in questions:
        row = dict(q)
        for name in (
            "alternate_prompts",
            "key_points",
            "choices",
            "correct_choices",
            "sources",
            "explanations",
        ):
            row[name] = json.dumps(q[name], ensure_ascii=False) if q[name] is not None else ""
        row["topics"] = " ".join(q["topics"])
        row["tags"] = " ".join(q["tags"])
        row["note"] = q["note"] or ""
        row["related_group"] = q["related_group"] or ""
        row["original_answer"] = q["original_answer"] or ""
        writer.writerow(row)
    return out.getvalue()


def to_markdown(questions: list[dict[str, Any]]) -> str:
    lines = ["# Question bank", "", f"*{notice()}*", ""]
    for q in questions:
        lines += [f"## {q['prompt']}", ""]
        meta = [q["difficulty"], q["type"].replace("_", " ")]
        if q["topics"]:
            meta.append("topics: " + ", ".join(q["topics"]))
        if q["tags"]:
            meta.append("tags: " + ", ".join(q["tags"]))
        lines += ["*" + " · ".join(meta) + "*", ""]
        if q["choices"]:
            correct = set(q["correct_choices"] or [])
            lines += [f"- [{'x' if i in correct else ' '}] {c}" for i, c in enumerate(q["choices"])]
            lines.append("")
        lines += [q["answer"].rstrip(), ""]
        if q["key_points"]:
            lines += ["**Key points:**", ""]
            for point in q["key_points"]:
                line = f"- {point['text']}"
                if point["alternatives"]:
                    line += f" (also: {'; '.join(point['alternatives'])})"
                if point["contradictions"]:
                    line += f" (contradicted by: {'; '.join(point['contradictions'])})"
                lines.append(line)
            lines.append("")
        if q["note"]:
            lines += [f"> **Editorial note:** {q['note']}", ""]
    return "\n".join(lines)


STREAM_BATCH = 500


def stream_bank_file(
    path: Path, *, dry_run: bool = False, batch: int = STREAM_BATCH
) -> WriteReport:
    """Import a bank file of any size (the export's JSON format), all or nothing.

    The file is read incrementally (ijson): topics first, then the questions in batches
    of `batch`, each validated like `POST /questions/import` items, written (flushed) and
    dropped from the session before the next is read. Memory thus holds one batch, the
    topics, and the set of slugs seen (to refuse a slug given twice), whatever the size
    of the file; the report keeps counts only. One transaction: any invalid item rolls
    everything back. Near-duplicate detection (HTTP imports) is not run: comparing every
    new prompt with the whole bank does not scale to this use.
    """
    report = WriteReport(keep_slugs=False)
    seen: set[str] = set()
    with all_or_nothing(), path.open("rb") as stream:
        writer = Upserter(report)
        try:
            if list(ijson.items(stream, "version")) != [1]:
                raise InvalidBody(
                    "Not a bank file: it needs `version` 1 (the export's format).",
                    errors={"version": ["Must be 1."]},
                )
            stream.seek(0)
            writer.topics(
                [
                    _valid(topic_in_schema, item, f"topics.{n}")
                    for n, item in enumerate(ijson.items(stream, "topics.item", use_float=True))
                ]
            )
            stream.seek(0)
            chunk: list[dict[str, Any]] = []
            items = ijson.items(stream, "questions.item", use_float=True)
            for n, item in enumerate(items):
                data = _valid(question_in_schema, item, f"questions.{n}")
                if data.get("slug"):
                    if data["slug"] in seen:
                        raise InvalidBody(
                            "Nothing was imported: a slug appears more than once.",
                            errors={f"questions.{n}.slug": [f"'{data['slug']}' appears twice."]},
                        )
                    seen.add(data["slug"])
                chunk.append(data)
                if len(chunk) == batch:
                    writer.questions(chunk)
                    writer.forget()
                    chunk = []
            if chunk:
                writer.questions(chunk)
        except ijson.JSONError as exc:
            raise InvalidBody(
                f"Nothing was imported: the file is not valid JSON ({exc}).",
                errors={"_schema": ["Invalid JSON."]},
            ) from exc
        commit_unless_dry_run(dry_run)
    return report


def _valid(schema, item: Any, path: str) -> dict[str, Any]:
    return load_or_422(schema, item, f"Nothing was imported: {path} is invalid.", at=path)
