"""Question resources: the list, one question, random draws, editors' writes, import, export."""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask_restful import Resource

from api.auth import role_required
from api.errors import InvalidBody, NotFound
from api.resources.common import paged, require_if_match, with_etag
from api.schemas.bank import (
    bank_file_schema,
    import_args,
    question_in_schema,
    question_patch_schema,
    questions_in_schema,
)
from api.schemas.common import load_or_422, parse_args, parse_body, read_json
from api.schemas.questions import (
    export_args,
    question_item_args,
    question_list_args,
    question_schema,
    question_with_answer_schema,
    questions_schema,
    questions_with_answers_schema,
    random_args,
)
from api.services import editorial, transfer
from api.services import questions as service
from api.services.textparse import ParseError

FILTER_KEYS = ("topic", "tag", "difficulty", "type", "updated_since", "exclude", "q")
# Ids are 32-bit: a larger one names no question (and would overflow the database driver).
MAX_ID = 2**31 - 1


def _filters(args: dict) -> service.QuestionFilters:
    return service.QuestionFilters(
        topics=args["topic"],
        tags=args["tag"],
        difficulties=args["difficulty"],
        types=args["type"],
        updated_since=args["updated_since"],
        exclude=args["exclude"],
        q=args["q"],
    )


def _get(question_id: int, load=service.get_question):
    """The question, loaded by `load` (service.read_question to show it, lighter)."""
    if question_id > MAX_ID:
        raise NotFound(f"There is no question {question_id}.")
    return load(question_id)


def _written(question, status: int = 200):
    headers = {"Location": url_for("questionitem", question_id=question.id)}
    return with_etag(question_with_answer_schema.dump(question), status, headers)


def _require_current(question) -> None:
    require_if_match(question_schema.dump(question), question_with_answer_schema.dump(question))


def _many(args: dict):
    return questions_with_answers_schema if "answer" in args["include"] else questions_schema


class QuestionList(Resource):
    def get(self):
        """List questions, filtered, searched, sorted and paged."""
        args = parse_args(question_list_args)
        sort = args["sort"]
        if sort == "relevance" and args["q"] is None:
            sort = None  # nothing searched, nothing to rank: the default order (id)
        items, total = service.list_questions(
            filters=_filters(args), sort=sort, page=args["page"], per_page=args["per_page"]
        )
        return paged(
            _many(args).dump(items), page=args["page"], per_page=args["per_page"], total=total
        )

    @role_required("editor")
    def post(self):
        """Create a question (editors)."""
        data = parse_body(question_in_schema)
        return _written(editorial.create_question(data=data), 201)


class QuestionRandom(Resource):
    def get(self):
        """Draw distinct random questions matching the filters."""
        args = parse_args(random_args)
        items = service.random_questions(filters=_filters(args), count=args["count"])
        return {"data": _many(args).dump(items)}, 200, {"Cache-Control": "no-store"}


class QuestionItem(Resource):
    def get(self, question_id: int):
        """Read one question; its answer only with include=answer."""
        args = parse_args(question_item_args)
        question = _get(question_id, service.read_question)
        schema = question_with_answer_schema if "answer" in args["include"] else question_schema
        return schema.dump(question)

    @role_required("editor")
    def patch(self, question_id: int):
        """Change a question (editors; If-Match required)."""
        question = _get(question_id)
        _require_current(question)
        changes = parse_body(question_patch_schema)
        merged = {**editorial.editable_fields(question), **changes}
        data = load_or_422(question_in_schema, merged)
        return _written(editorial.update_question(question=question, data=data))

    @role_required("editor")
    def delete(self, question_id: int):
        """Delete a question (editors; If-Match required)."""
        question = _get(question_id)
        _require_current(question)
        editorial.delete_question(question=question)
        return Response(status=204)


class QuestionImport(Resource):
    @role_required("editor")
    def post(self):
        """Import questions from JSON or plain text, all or nothing (editors)."""
        args = parse_args(import_args)
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        if request.mimetype == "text/plain":
            text = request.get_data(as_text=True)
            try:
                parsed = transfer.text_to_questions(text=text, document=args["document"])
            except ParseError as exc:
                raise InvalidBody(str(exc), errors={"body": [str(exc)]}) from exc
            bank = {"topics": [], "questions": _load_items(questions_in_schema, parsed)}
        else:
            bank = _json_bank()
        report = transfer.import_bank(bank=bank, dry_run=args["dry_run"])
        return {
            "dry_run": args["dry_run"],
            **report.as_dict(),
            "items": {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
            "near_duplicates": report.near_duplicates,
        }


def _load_items(schema, data):
    return load_or_422(schema, data, "Nothing was imported: fix the items named in `errors`.")


def _json_bank() -> dict:
    """A JSON array of questions, or a bank object with topics (what export writes)."""
    payload = read_json()
    if isinstance(payload, list):
        bank = {"topics": [], "questions": _load_items(questions_in_schema, payload)}
    elif isinstance(payload, dict):
        bank = _load_items(bank_file_schema, payload)
    else:
        raise InvalidBody(
            "Send a JSON array of questions or a bank object.",
            errors={"_schema": ["Expected an array or an object."]},
        )
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
        questions, topics = transfer.export_questions(filters=_filters(args))
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
        return response
