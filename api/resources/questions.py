"""Question resources: the list, one question, random draws."""

from __future__ import annotations

from flask_restful import Resource

from api.errors import NotFound
from api.resources.common import paged
from api.schemas.common import parse_args
from api.schemas.questions import (
    question_item_args,
    question_list_args,
    question_schema,
    question_with_answer_schema,
    questions_schema,
    questions_with_answers_schema,
    random_args,
)
from api.services import questions as service

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
        if question_id > MAX_ID:
            raise NotFound(f"There is no question {question_id}.")
        question = service.get_question(question_id)
        schema = question_with_answer_schema if "answer" in args["include"] else question_schema
        return schema.dump(question)
