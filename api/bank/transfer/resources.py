"""Import and export of questions over HTTP (editors)."""

from __future__ import annotations

from flask import Response, current_app, request, stream_with_context
from flask_restful import Resource

from api.accounts.roles import role_required
from api.bank.licence import LICENCE_LINK
from api.bank.payloads import bank_file_schema, import_args
from api.bank.reading import QuestionFilters
from api.bank.schemas import export_args
from api.bank.transfer import exchange as transfer
from api.bank.transfer import foreign
from api.bank.transfer.textparse import ParseError
from api.platform.errors import InvalidBody
from api.platform.parsing import load_or_422, parse_args, read_json


class QuestionImport(Resource):
    @role_required("editor")
    def post(self):
        """Import questions from JSON, plain text, GIFT, Aiken or Moodle XML (editors)."""
        args = parse_args(import_args)
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        max_items = current_app.config["IMPORT_MAX_ITEMS"]
        kind = foreign.format_of(request.mimetype, args["format"])
        foreign.check_media_type(kind, request.mimetype, asked=args["format"] is not None)
        rejected = []
        if kind == "text" and args["on_error"] == "fail":
            text = request.get_data(as_text=True)
            try:
                bank = transfer.text_bank(text=text, document=args["document"], max_items=max_items)
            except ParseError as exc:
                raise InvalidBody(str(exc), errors={"body": [str(exc)]}) from exc
            report = transfer.import_bank(
                bank=bank, dry_run=args["dry_run"], on_conflict=args["on_conflict"]
            )
        elif kind == "json" and args["on_error"] == "fail":
            report = transfer.import_bank(
                bank=_json_bank(max_items), dry_run=args["dry_run"], on_conflict=args["on_conflict"]
            )
        else:
            found = foreign.read_document(
                kind,
                request.get_data(),
                document=args["document"],
                max_items=max_items,
                on_error=args["on_error"],
            )
            rejected = [r.as_dict() for r in sorted(found.rejected, key=lambda r: r.position)]
            report = foreign.import_document(
                found, dry_run=args["dry_run"], on_conflict=args["on_conflict"]
            )
        return {
            "dry_run": args["dry_run"],
            "on_conflict": args["on_conflict"],
            "format": kind,
            "on_error": args["on_error"],
            **report.as_dict(),
            "items": {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
            },
            "results": report.results,
            "near_duplicates": report.near_duplicates,
            "rejected": rejected,
        }


def _load_items(schema, data):
    return load_or_422(schema, data, "Nothing was imported: fix the items named in `errors`.")


def _json_bank(max_items: int) -> dict:
    """A bank object (what export writes): its questions, and topics to create or update.

    The one JSON shape: a bare array of questions is refused, so that every client, the
    generated ones too, has one type for the JSON body (`{"version": 1, "questions": [...]}`).
    The items are counted before any is validated: an oversized import costs the JSON
    parse and no more.
    """
    payload = read_json()
    if not isinstance(payload, dict):
        raise InvalidBody(
            'Send a bank object: {"version": 1, "questions": [...]}.',
            errors={"_schema": ["Expected an object."]},
        )
    items = payload.get("questions")
    if isinstance(items, list) and len(items) > max_items:
        raise transfer.ImportTooManyItems(max_items)
    bank = _load_items(bank_file_schema, payload)
    slugs = [q["slug"] for q in bank["questions"] if q.get("slug")]
    if len(slugs) != len(set(slugs)):
        twice = sorted({s for s in slugs if slugs.count(s) > 1})
        raise InvalidBody(
            "Nothing was imported: a slug appears more than once.",
            errors={"slug": [f"'{s}' appears more than once." for s in twice]},
        )
    return bank


EXPORT_TYPES = {
    "json": ("application/json", "json"),
    "csv": ("text/csv", "csv"),
    "markdown": ("text/markdown", "md"),
}


class QuestionExport(Resource):
    @role_required("editor")
    def get(self):
        """Export the matching questions as JSON (the bank format), CSV, Markdown, GIFT,
        Aiken, Moodle XML, a QTI 2.1 package or an Anki package."""
        args = parse_args(export_args)
        args["include"] = []
        filters = QuestionFilters.from_args(args)
        kind = args["format"]
        if kind in foreign.EXPORT_FORMATS:
            return _foreign_export(kind, filters)
        questions, topics = transfer.export_questions(filters=filters)
        if kind == "json":
            body = transfer.to_json(questions, topics)
        elif kind == "csv":
            body = transfer.to_csv(questions)
        else:
            body = transfer.to_markdown(questions)
        mimetype, suffix = EXPORT_TYPES[kind]
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="questions.{suffix}"'
        response.headers["X-Total-Count"] = str(len(questions))
        response.headers["Link"] = LICENCE_LINK  # the bank's licence, in every format
        return response


def _foreign_export(kind: str, filters: QuestionFilters) -> Response:
    """Another platform's format, streamed: questions are read in batches as it is sent.

    Aiken holds only single-answer choice questions: that export is built whole (it is
    small) so that its headers can say how many questions were left out and why.
    """
    fmt = foreign.EXPORT_FORMATS[kind]
    topics = foreign.bank_topics()
    total = foreign.matching_count(filters)
    headers = {
        "Content-Disposition": f'attachment; filename="questions.{fmt.suffix}"',
        "Link": LICENCE_LINK,
    }
    if kind == "aiken":
        skipped: list[dict] = []
        body = "".join(
            foreign.export_text(kind, foreign.exported_questions(filters), topics, skipped)
        )
        headers["X-Total-Count"] = str(total - len(skipped))
        headers["X-Skipped-Count"] = str(len(skipped))
        return Response(body, mimetype=fmt.mimetype, headers=headers)
    headers["X-Total-Count"] = str(total)
    if kind in ("qti", "anki"):
        chunks = foreign.export_package(kind, foreign.exported_questions(filters), topics)
    else:
        chunks = foreign.export_text(kind, foreign.exported_questions(filters), topics, [])
    return Response(stream_with_context(chunks), mimetype=fmt.mimetype, headers=headers)
