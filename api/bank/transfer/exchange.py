"""Bulk import and export of questions: JSON (the bank format), CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
import re
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
from api.bank.transfer.textparse import TooManyQuestions, parse_qa_text
from api.bank.transfer.writing import (
    Upserter,
    WriteReport,
    all_or_nothing,
    commit_unless_dry_run,
    upsert_bank,
)
from api.extensions import db
from api.platform.errors import ApiError, Conflict, InvalidBody
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
    "choice_weights",
    "topics",
    "tags",
    "sources",
    "explanations",
    "related_group",
    "original_answer",
)


class ImportTooManyItems(ApiError):
    """More questions than one import takes (`IMPORT_MAX_ITEMS`); nothing was written."""

    status = 413
    slug = "import-too-many-items"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Nothing was imported: one import takes at most {limit} questions; "
            "split the document into several imports.",
            limit=limit,
        )


def import_bank(
    *,
    bank: dict[str, Any],
    dry_run: bool,
    on_conflict: str = "fail",
    positions: list[int] | None = None,
) -> WriteReport:
    """All or nothing: any invalid question, unknown topic or conflict changes nothing.

    Items whose slug the bank has are handled as `on_conflict` says (writing.py); a
    concurrent write that took a slug first is a plain 409, to retry.
    """
    try:
        return upsert_bank(
            bank=bank,
            dry_run=dry_run,
            flag_similar=True,
            on_conflict=on_conflict,
            positions=positions,
        )
    except IntegrityError as exc:  # upsert_bank has rolled back
        raise Conflict(
            "Nothing was imported: another write took one of these slugs first; retry."
        ) from exc


def text_bank(*, text: str, document: str, max_items: int | None = None) -> dict[str, Any]:
    """A plain-text Q&A document as a bank of validated questions, for `import_bank`.

    Each question records its source (document, position): importing the same document
    again finds them and creates nothing twice (api/bank/transfer/writing.py).
    Raises ParseError for a document that is not Q&A, InvalidBody for invalid items,
    ImportTooManyItems as soon as the parser finds question `max_items + 1`.
    """
    try:
        found = parse_qa_text(text, max_questions=max_items)
    except TooManyQuestions as exc:
        raise ImportTooManyItems(exc.limit) from exc
    parsed = [
        {
            "prompt": item.prompt,
            "answer": item.answer,
            "sources": [{"document": document, "position": item.position}],
        }
        for item in found
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


# Spreadsheets run a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): such a cell is written with a leading apostrophe, which they show as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: `'` before a leading formula trigger."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def to_csv(questions: list[dict[str, Any]]) -> str:
    """One row a question; lists as JSON in their cell, topic and tag slugs space-separated.

    Every cell that starts with a formula trigger (`=`, `+`, `-`, `@`, tab, CR) gets a
    leading `'` (see FORMULA_TRIGGERS): the export is for reading, never a formula.
    """
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
            "choice_weights",
            "sources",
            "explanations",
        ):
            row[name] = json.dumps(q[name], ensure_ascii=False) if q[name] is not None else ""
        row["topics"] = " ".join(q["topics"])
        row["tags"] = " ".join(q["tags"])
        row["note"] = q["note"] or ""
        row["related_group"] = q["related_group"] or ""
        row["original_answer"] = q["original_answer"] or ""
        writer.writerow({name: neutralised(str(row[name])) for name in CSV_COLUMNS})
    return out.getvalue()


# Markdown export. Plain-text fields (prompt, choices, key points, note) are text, never
# markup: HTML is escaped as entities and every character that could start Markdown
# syntax is backslash-escaped, so a prompt cannot open a heading, list, link, image, code
# span or emphasis it does not contain. An answer is Markdown (code fences, lists): it
# keeps those, but its raw HTML is escaped and it makes no heading, link or image.
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_INLINE_MARKUP = re.compile(r"([\\`*_\[\]!|~#])")
_BLOCK_START = re.compile(r"[-+=]|[0-9]+[.)]")
# Where an answer's code is (left as it is: code renders its text) follows CommonMark,
# and wherever that is not plain, the answer is escaped throughout instead (a `<` in
# code then shows as `&lt;`, but nothing becomes markup). Fences: up to 3 spaces, and a
# backtick fence's info string has no backtick. Code spans: kept only when every line
# outside fences pairs its backtick runs with the very next run of the same length and
# no backtick is escaped, so that CommonMark pairs them the same way.
_FENCE = re.compile(r" {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_TICKS = re.compile(r"`+")
# A setext heading's underline (also under a list or quote marker).
_UNDERLINE = re.compile(r"^([ \t>]*(?:(?:[-+*]|[0-9]+[.)])[ \t]+)*)(=+|-+)(\s*)$")


def md_text(text: str) -> str:
    """Plain text as Markdown that renders exactly as that text, on one line.

    Whitespace (line breaks too) becomes single spaces; markup characters are
    backslash-escaped, HTML's are entities, and a leading list or heading marker is
    escaped too (the text may follow a list item's `- `).
    """
    escaped = _INLINE_MARKUP.sub(r"\\\1", " ".join(text.split()))
    if start := _BLOCK_START.match(escaped):  # `-`, `+`, `=`, `1.`: escape the mark
        escaped = f"{escaped[: start.end() - 1]}\\{escaped[start.end() - 1 :]}"
    return "".join(_HTML.get(char, char) for char in escaped)


def _md_prose(text: str) -> str:
    """Prose of an answer: no raw HTML, link, image or ATX heading (`#`) survives."""
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), ("[", "\\["), ("]", "\\]"), ("#", "\\#")):
        text = text.replace(char, escaped)
    return text


def _code_spans(line: str) -> list[tuple[int, int]] | None:
    """The line's code spans, or None when CommonMark might pair its backticks otherwise."""
    runs = list(_TICKS.finditer(line))
    if len(runs) % 2 or any(r.start() and line[r.start() - 1] == "\\" for r in runs):
        return None
    pairs = list(zip(runs[::2], runs[1::2], strict=True))
    if any(len(a.group()) != len(b.group()) for a, b in pairs):
        return None
    return [(a.start(), b.end()) for a, b in pairs]


def _md_answer_line(line: str, spans: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts += [_md_prose(line[last:start]), line[start:end]]
        last = end
    parts.append(_md_prose(line[last:]))
    escaped = "".join(parts)
    return _UNDERLINE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}{m.group(3)}", escaped)


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _fenced(lines: list[str]) -> tuple[list[bool], str] | None:
    """Which lines belong to a fence (delimiters included), and the fence left open if any;
    None when a fence may end earlier in CommonMark (a line indented less than its
    opening fence: the list item holding it ends there)."""
    inside, fence, depth = [], "", 0
    for line in lines:
        opening = _FENCE.match(line)
        if fence:
            if line.strip() and _indent(line) < depth:
                return None
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                if not line[opening.end() :].strip():
                    fence = ""
            inside.append(True)
        elif opening:
            fence, depth = opening.group(1), _indent(line)
            inside.append(True)
        else:
            inside.append(False)
    return inside, fence


def md_answer(answer: str) -> str:
    """An answer's Markdown, its code kept, with no raw HTML, heading, link or image."""
    lines = answer.rstrip().splitlines()
    fenced = _fenced(lines)
    spans = [
        [] if fenced is None or fenced[0][n] else _code_spans(line) for n, line in enumerate(lines)
    ]
    if fenced is None or any(s is None for s in spans):  # not plain: escape it all
        return "\n".join(_md_answer_line(line, []) for line in lines)
    inside, left_open = fenced
    out = [line if inside[n] else _md_answer_line(line, spans[n]) for n, line in enumerate(lines)]
    if left_open:
        out.append(left_open)  # else it would swallow the questions after it
    return "\n".join(out)


def to_markdown(questions: list[dict[str, Any]]) -> str:
    """A readable document, one `##` section a question; see md_text and md_answer."""
    lines = ["# Question bank", "", f"*{notice()}*", ""]
    for q in questions:
        lines += [f"## {md_text(q['prompt'])}", ""]
        meta = [q["difficulty"], q["type"].replace("_", " ")]
        if q["topics"]:
            meta.append("topics: " + ", ".join(q["topics"]))
        if q["tags"]:
            meta.append("tags: " + ", ".join(q["tags"]))
        lines += ["*" + md_text(" · ".join(meta)) + "*", ""]
        if q["choices"]:
            correct = set(q["correct_choices"] or [])
            lines += [
                f"- [{'x' if i in correct else ' '}] {md_text(c)}"
                for i, c in enumerate(q["choices"])
            ]
            lines.append("")
        lines += [md_answer(q["answer"]), ""]
        if q["key_points"]:
            lines += ["**Key points:**", ""]
            for point in q["key_points"]:
                line = f"- {md_text(point['text'])}"
                if point["alternatives"]:
                    line += f" (also: {md_text('; '.join(point['alternatives']))})"
                if point["contradictions"]:
                    line += f" (contradicted by: {md_text('; '.join(point['contradictions']))})"
                lines.append(line)
            lines.append("")
        if q["note"]:
            lines += [f"> **Editorial note:** {md_text(q['note'])}", ""]
    return "\n".join(lines)


STREAM_BATCH = 500


def stream_bank_file(
    path: Path, *, dry_run: bool = False, batch: int = STREAM_BATCH, on_conflict: str = "fail"
) -> WriteReport:
    """Import a bank file of any size (the export's JSON format), all or nothing.

    The file is read incrementally (ijson): topics first, then the questions in batches
    of `batch`, each validated like `POST /questions/import` items, written (flushed) and
    dropped from the session before the next is read. Memory thus holds one batch, the
    topics, and the set of slugs seen (to refuse a slug given twice), whatever the size
    of the file; the report keeps counts only. One transaction: any invalid item rolls
    everything back. Near-duplicate detection (HTTP imports) is not run: comparing every
    new prompt with the whole bank does not scale to this use. Items whose slug the bank
    has are handled as `on_conflict` says; with `fail` the whole file is read, then
    ImportConflict names them (the first CONFLICTS_LISTED) and nothing is written.
    No item cap (IMPORT_MAX_ITEMS bounds HTTP imports, which a worker must finish).
    """
    report = WriteReport(keep_slugs=False)
    seen: set[str] = set()
    with all_or_nothing(), path.open("rb") as stream:
        writer = Upserter(report, on_conflict=on_conflict)
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
            report.raise_conflicts()
        except ijson.JSONError as exc:
            raise InvalidBody(
                f"Nothing was imported: the file is not valid JSON ({exc}).",
                errors={"_schema": ["Invalid JSON."]},
            ) from exc
        commit_unless_dry_run(dry_run)
    return report


def _valid(schema, item: Any, path: str) -> dict[str, Any]:
    return load_or_422(schema, item, f"Nothing was imported: {path} is invalid.", at=path)
