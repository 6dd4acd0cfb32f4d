"""Bulk import and export of questions: JSON (the bank format), CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict
from api.extensions import db
from api.models import Topic
from api.services.bank import WriteReport, seed_bank
from api.services.editorial import editable_fields
from api.services.questions import QuestionFilters, filtered_questions
from api.services.textparse import parse_qa_text

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
)


def import_bank(*, bank: dict[str, Any], dry_run: bool) -> WriteReport:
    """All or nothing: any invalid question, unknown topic or conflict changes nothing.

    A conflict is a concurrent write that took a slug first: a 409, to retry.
    """
    try:
        return seed_bank(bank=bank, dry_run=dry_run, flag_similar=True)
    except IntegrityError as exc:  # seed_bank has rolled back
        raise Conflict(
            "Nothing was imported: another write took one of these slugs first; retry."
        ) from exc


def text_to_questions(*, text: str, document: str) -> list[dict[str, Any]]:
    """Plain-text Q&A as question dicts ready for validation by the question schema."""
    return [
        {
            "prompt": item.prompt,
            "answer": item.answer,
            "sources": [{"document": document, "position": item.position}],
        }
        for item in parse_qa_text(text)
    ]


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
        for name in ("alternate_prompts", "key_points", "choices", "correct_choices", "sources"):
            row[name] = json.dumps(q[name], ensure_ascii=False) if q[name] is not None else ""
        row["topics"] = " ".join(q["topics"])
        row["tags"] = " ".join(q["tags"])
        row["note"] = q["note"] or ""
        writer.writerow(row)
    return out.getvalue()


def to_markdown(questions: list[dict[str, Any]]) -> str:
    lines = ["# Question bank", ""]
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
            lines += ["**Key points:** " + "; ".join(q["key_points"]), ""]
        if q["note"]:
            lines += [f"> **Editorial note:** {q['note']}", ""]
    return "\n".join(lines)
