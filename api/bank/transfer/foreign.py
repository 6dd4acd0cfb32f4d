"""Imports from other platforms' formats (GIFT, Aiken, Moodle XML) and exports to them
(and to QTI and Anki), between the format modules and the bank's writer.

An import parses the document (interchange.Parsed: items, topics, rejected items), then
validates each item as `QuestionIn` and checks that its topics exist or are declared by
the document. What fails is rejected by position and reason. With `on_error=fail` (the
default) any rejection writes nothing and is a 422 that lists them all; with `skip`,
the valid items are written and the rejected ones reported beside them. Positions count
the document's questions from 1, in the document's order, as each format module does.

An export streams: questions are read in batches (reading.filtered_questions) and each
is written as soon as it is read. QTI and Anki packages are files (a zip, an SQLite
database in a zip), built in a temporary file and then sent in chunks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select
from werkzeug.exceptions import UnsupportedMediaType

from api.bank.editing import editable_fields
from api.bank.models import Topic
from api.bank.payloads import bank_file_schema, question_in_schema, weights_fit
from api.bank.reading import QuestionFilters, filtered_questions, matching_ids
from api.bank.transfer import aiken, anki, interchange, moodle_xml, qti
from api.bank.transfer.exchange import ImportTooManyItems, import_bank
from api.bank.transfer.interchange import Item, Parsed, Rejected
from api.bank.transfer.textparse import ParseError, TooManyQuestions, parse_qa_text
from api.extensions import db
from api.platform.errors import ApiError, InvalidBody, flatten_messages
from api.platform.parsing import load_or_422, read_json


class UnsafeXml(ApiError):
    """A Moodle XML document that declares entities or refers to external ones."""

    status = 400
    slug = "unsafe-xml"


def _gift(data: str, **kwargs) -> Parsed:
    from api.bank.transfer.gift import parse_gift

    return parse_gift(data, **kwargs)


def _json_items(data: bytes, *, document: str, max_items: int | None) -> Parsed:
    """A bank object's questions as items to validate one by one (`on_error=skip`).

    Positions are the questions' indexes in `questions`, from 0, as in the 422 of an
    all-or-nothing JSON import (`questions.2.prompt`).
    """
    payload = read_json()
    if not isinstance(payload, dict) or not isinstance(payload.get("questions"), list):
        raise interchange.DocumentError('Send a bank object: {"version": 1, "questions": [...]}.')
    if max_items is not None and len(payload["questions"]) > max_items:
        raise interchange.TooManyItems(max_items)
    envelope = load_or_422(
        bank_file_schema,
        {**payload, "questions": []},
        "Nothing was imported: fix the fields named in `errors`.",
    )
    parsed = Parsed(topics={t["slug"]: t for t in envelope["topics"]})
    for index, item in enumerate(payload["questions"]):
        if isinstance(item, dict):
            title = item.get("slug") if isinstance(item.get("slug"), str) else None
            parsed.items.append(Item(index, item, title))
        else:
            parsed.rejected.append(Rejected(index, "Not an object: a question is a JSON object."))
    return parsed


def _text_items(text: str, *, document: str, max_items: int | None) -> Parsed:
    """A plain-text Q&A document's questions as items to validate one by one."""
    try:
        found = parse_qa_text(text, max_questions=max_items)
    except TooManyQuestions as exc:
        raise interchange.TooManyItems(exc.limit) from exc
    except ParseError as exc:
        raise interchange.DocumentError(str(exc)) from exc
    parsed = Parsed()
    for item in found:
        question = {
            "prompt": item.prompt,
            "answer": item.answer,
            "sources": [{"document": document, "position": item.position}],
        }
        parsed.items.append(Item(item.position, question))
    return parsed


@dataclass(frozen=True)
class ImportFormat:
    name: str
    media_types: tuple[str, ...]
    parse: Callable[..., Parsed]
    text: bool = True  # the parser takes text (decoded as UTF-8), else bytes
    # Slugs come from titles, which may repeat (a suffix tells them apart); elsewhere a
    # slug given twice is the editor's mistake, and the later item is rejected.
    titled: bool = True


IMPORT_FORMATS = {
    "json": ImportFormat("json", ("application/json",), _json_items, text=False, titled=False),
    "text": ImportFormat("text", ("text/plain",), _text_items, titled=False),
    "gift": ImportFormat("gift", ("text/plain",), _gift),
    "aiken": ImportFormat("aiken", ("text/plain",), aiken.parse_aiken),
    "moodle-xml": ImportFormat(
        "moodle-xml", ("application/xml", "text/xml"), moodle_xml.parse_moodle_xml, text=False
    ),
}
XML_TYPES = ("application/xml", "text/xml")


DOCUMENT_TYPES = ("text/plain", *XML_TYPES)


def format_of(mimetype: str, asked: str | None) -> str:
    """The import's format: as asked (`format`), else from the body's media type."""
    if asked is not None:
        return asked
    if mimetype == "text/plain":
        return "text"
    if mimetype in XML_TYPES:
        return "moodle-xml"
    return "json"


def format_of_name(name: str) -> str:
    """A document's format from its file name, for the CLI."""
    lowered = name.lower()
    if lowered.endswith(".gift") or lowered.endswith(".gift.txt"):
        return "gift"
    if lowered.endswith(".xml"):
        return "moodle-xml"
    return "aiken"


def check_media_type(kind: str, mimetype: str, *, asked: bool) -> None:
    """The body's media type fits its format: a document format named in `format` reads
    any document type (a client may send every document alike), JSON only JSON."""
    if kind == "json":
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType("Send a json body as application/json.")
        return
    accepted = DOCUMENT_TYPES if asked else IMPORT_FORMATS[kind].media_types
    if mimetype not in accepted:
        raise UnsupportedMediaType(f"Send a {kind} body as {' or '.join(accepted)}.")


@dataclass
class ForeignImport:
    bank: dict[str, Any]
    positions: list[int]
    rejected: list[Rejected] = field(default_factory=list)


def read_document(
    kind: str, data: bytes, *, document: str, max_items: int, on_error: str
) -> ForeignImport:
    """The valid items of a GIFT, Aiken or Moodle XML document as a bank to import.

    Raises ImportTooManyItems past `max_items` questions, UnsafeXml for XML with entity
    declarations, InvalidBody for a document that is not in the format at all and, with
    `on_error=fail`, for any rejected item (`rejected` lists them all).
    """
    fmt = IMPORT_FORMATS[kind]
    try:
        if fmt.text:
            body: str | bytes = _utf8(data)
        else:
            body = data
        parsed = fmt.parse(body, document=document, max_items=max_items)
    except interchange.TooManyItems as exc:
        raise ImportTooManyItems(exc.limit) from exc
    except interchange.UnsafeDocument as exc:
        raise UnsafeXml(f"Nothing was imported: {exc}") from exc
    except interchange.DocumentError as exc:
        raise InvalidBody(
            f"Nothing was imported: the body is not a {kind} document ({exc}).",
            errors={"body": [str(exc)]},
        ) from exc
    found = _validated(parsed, titled=fmt.titled)
    if found.rejected and on_error == "fail":
        found.rejected.sort(key=lambda r: r.position)
        count = len(found.rejected)
        raise InvalidBody(
            f"Nothing was imported: {count} item{'s' if count > 1 else ''} of the document "
            "cannot be imported (see `rejected`). Fix them, or send on_error=skip to import "
            "the others.",
            errors={f"item {r.position}": [r.reason] for r in found.rejected},
            rejected=[r.as_dict() for r in found.rejected],
        )
    return found


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidBody(
            "Nothing was imported: the body is not UTF-8 text.",
            errors={"body": [f"Not UTF-8 at byte {exc.start}."]},
        ) from exc


def _validated(parsed: Parsed, *, titled: bool) -> ForeignImport:
    """Each item loaded as QuestionIn, with existing or declared topics and its own slug."""
    known = set(db.session.scalars(select(Topic.slug))) | set(parsed.topics)
    rejected = list(parsed.rejected)
    questions: list[dict[str, Any]] = []
    positions: list[int] = []
    slugs: set[str] = set()
    for item in parsed.items:
        data = _settled_weights(dict(item.question))
        try:
            loaded = question_in_schema.load(data)
        except ValidationError as exc:
            messages = flatten_messages(exc.normalized_messages())
            reason = "; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items())
            rejected.append(Rejected(item.position, f"Invalid: {reason}", item.title))
            continue
        unknown = [t for t in loaded["topics"] if t not in known]
        if unknown:
            reason = f"Unknown topics: {', '.join(unknown)} (neither in the bank nor declared)."
            rejected.append(Rejected(item.position, reason, item.title))
            continue
        if loaded.get("slug") and titled:
            loaded["slug"] = _own_slug(loaded["slug"], slugs)
        elif loaded.get("slug"):
            if loaded["slug"] in slugs:
                reason = f"The slug '{loaded['slug']}' is given to an earlier item too."
                rejected.append(Rejected(item.position, reason, item.title))
                continue
            slugs.add(loaded["slug"])
        questions.append(loaded)
        positions.append(item.position)
    used = {t for q in questions for t in q["topics"]}
    topics = [
        {"slug": t["slug"], "name": t["name"], "description": t.get("description", "")}
        for slug, t in sorted(parsed.topics.items())
        if slug in used
    ]
    return ForeignImport(
        bank={"topics": topics, "questions": questions}, positions=positions, rejected=rejected
    )


def _settled_weights(data: dict[str, Any]) -> dict[str, Any]:
    """Partial credit the bank can hold: the correct choices are those that together give
    full marks (the 100% one of a single-answer question, else every positive one)."""
    weights = data.get("choice_weights")
    if not weights or data.get("type") != "multiple_choice":
        return data
    full = [i for i, w in enumerate(weights) if isinstance(w, int | float) and w >= 99.99]
    correct = full if len(full) == 1 else [i for i, w in enumerate(weights) if w > 0]
    if weights_fit(weights, correct):
        data["correct_choices"] = correct
    return data


def _own_slug(slug: str, taken: set[str]) -> str:
    """A title-made slug the document has used already gets a suffix (`-2`, `-3`...)."""
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = slug[: 120 - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def import_document(found: ForeignImport, *, dry_run: bool, on_conflict: str):
    """Write the valid items; the report's positions are the document's."""
    return import_bank(
        bank=found.bank, dry_run=dry_run, on_conflict=on_conflict, positions=found.positions
    )


# --------------------------------------------------------------------------- exports


@dataclass(frozen=True)
class ExportFormat:
    mimetype: str
    suffix: str


EXPORT_FORMATS = {
    "gift": ExportFormat("text/plain", "gift.txt"),
    "aiken": ExportFormat("text/plain", "aiken.txt"),
    "moodle-xml": ExportFormat("application/xml", "xml"),
    "qti": ExportFormat("application/zip", "qti.zip"),
    "anki": ExportFormat("application/octet-stream", "apkg"),
}
CHUNK = 64 * 1024


def bank_topics() -> dict[str, dict[str, str]]:
    """Every topic by slug (a bank has few): exports name categories and decks by them."""
    return {
        t.slug: {"slug": t.slug, "name": t.name, "description": t.description}
        for t in db.session.scalars(select(Topic).order_by(Topic.slug))
    }


def matching_count(filters: QuestionFilters) -> int:
    ids = matching_ids(filters).subquery()
    return int(db.session.scalar(select(func.count()).select_from(ids)) or 0)


def exported_questions(filters: QuestionFilters) -> Iterator[dict[str, Any]]:
    """The matching questions in the bank's shape, read in batches (memory stays flat)."""
    for question in filtered_questions(filters, batch=200):
        yield editable_fields(question)
        db.session.expunge(question)


def export_text(kind: str, questions: Iterable[dict], topics: dict, skipped: list) -> Iterator[str]:
    if kind == "gift":
        from api.bank.transfer.gift import export_gift

        return export_gift(questions, topics)
    if kind == "moodle-xml":
        return moodle_xml.export_moodle_xml(questions, topics)
    return aiken.export_aiken(questions, skipped=skipped)


def export_package(kind: str, questions: Iterable[dict], topics: dict) -> Iterator[bytes]:
    """A QTI or Anki package, built in a temporary file and read back in chunks."""
    with tempfile.TemporaryDirectory(prefix="qbank-export-") as folder:
        path = f"{folder}/export"
        if kind == "qti":
            with open(path, "wb") as out:
                qti.export_qti(questions, topics, out)
        else:
            anki.export_anki(questions, topics, path)
        with open(path, "rb") as package:
            while chunk := package.read(CHUNK):
                yield chunk
