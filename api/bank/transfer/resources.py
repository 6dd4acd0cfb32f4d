"""Import and export of questions over HTTP (editors)."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_restful import Resource

from api.accounts.roles import role_required
from api.bank.licence import LICENCE_LINK
from api.bank.payloads import bank_file_schema, import_args
from api.bank.reading import QuestionFilters
from api.bank.schemas import export_args
from api.bank.transfer import exchange as transfer
from api.bank.transfer.textparse import ParseError
from api.platform.errors import InvalidBody
from api.platform.parsing import load_or_422, parse_args, read_json


class QuestionImport(Resource):
    @role_required("editor")
    def post(self):
        """Import questions from JSON or plain text, all or nothing (editors)."""
        args = parse_args(import_args)
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        max_items = current_app.config["IMPORT_MAX_ITEMS"]
        if request.mimetype == "text/plain":
            text = request.get_data(as_text=True)
            try:
                bank = transfer.text_bank(text=text, document=args["document"], max_items=max_items)
            except ParseError as exc:
                raise InvalidBody(str(exc), errors={"body": [str(exc)]}) from exc
        else:
            bank = _json_bank(max_items)
        report = transfer.import_bank(
            bank=bank, dry_run=args["dry_run"], on_conflict=args["on_conflict"]
        )
        return {
            "dry_run": args["dry_run"],
            "on_conflict": args["on_conflict"],
            **report.as_dict(),
            "items": {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
            },
            "results": report.results,
            "near_duplicates": report.near_duplicates,
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
        """Export the matching questions as JSON (the bank format), CSV or Markdown."""
        args = parse_args(export_args)
        args["include"] = []
        questions, topics = transfer.export_questions(filters=QuestionFilters.from_args(args))
        kind = args["format"]
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
