"""The bank over HTTP: topics, tags and questions, read by anyone, written by editors.

Import and export are in api/bank/transfer/resources.py.
"""

from __future__ import annotations

import re

from flask import Response, url_for
from flask_restful import Resource

from api.accounts.authentication import current_user
from api.accounts.roles import role_required
from api.bank import editing as editorial
from api.bank import random_draws, reports
from api.bank import reading as service
from api.bank import topics as topic_service
from api.bank.payloads import (
    question_in_schema,
    question_patch_schema,
    topic_in_schema,
    topic_patch_schema,
)
from api.bank.reading import QuestionFilters
from api.bank.schemas import (
    deletion_list_args,
    deletions_schema,
    question_create_args,
    question_item_args,
    question_list_args,
    question_schema,
    question_with_answer_schema,
    random_args,
    report_in_schema,
    report_list_args,
    report_patch_schema,
    tag_list_args,
    tags_schema,
    topic_item_args,
    topic_list_args,
    topic_schema,
    topics_schema,
)
from api.extensions import limiter
from api.platform import ratelimit
from api.platform.errors import NotFound
from api.platform.http_cache import not_cached
from api.platform.parsing import existing_id, load_or_422, no_args, parse_args, parse_body
from api.platform.responses import (
    paged,
    require_if_match,
    require_if_match_header,
    with_etag,
)

NO_STORE = {"Cache-Control": "no-store"}


def find_question(question_id: int):
    """The question, with its relationships, to change it."""
    existing_id(question_id, "question")
    return service.get_question(question_id)


def _written_question(question, status: int = 200):
    headers = {"Location": url_for("questionitem", question_id=question.id)}
    return with_etag(question_with_answer_schema.dump(question), status, headers)


def _require_current(question) -> None:
    require_if_match(question_schema.dump(question), question_with_answer_schema.dump(question))


class QuestionList(Resource):
    def get(self):
        """List questions, filtered, searched, sorted and paged."""
        args = parse_args(question_list_args)
        sort = args["sort"]
        if sort == "relevance" and args["q"] is None:
            sort = None  # nothing searched, nothing to rank: the default order (id)
        items, total = service.list_questions(
            filters=QuestionFilters.from_args(args),
            sort=sort,
            page=args["page"],
            per_page=args["per_page"],
            with_answer="answer" in args["include"],
        )
        return paged(items, page=args["page"], per_page=args["per_page"], total=total)

    @role_required("editor")
    def post(self):
        """Create a question (editors)."""
        args = parse_args(question_create_args)
        data = parse_body(question_in_schema)
        question = editorial.create_question(data=data, allow_duplicate=args["allow_duplicate"])
        return _written_question(question, 201)


class QuestionRandom(Resource):
    def get(self):
        """Draw distinct random questions matching the filters."""
        args = parse_args(random_args)
        filters = QuestionFilters.from_args(args)
        data = random_draws.random_rendered(
            filters=filters,
            count=args["count"],
            with_answer="answer" in args["include"],
        )
        return {"data": data}, 200, {"Cache-Control": "no-store"}


class QuestionItem(Resource):
    def get(self, question_id: int):
        """Read one question; its answer only with include=answer, its open report count
        with include=reports (editors)."""
        args = parse_args(question_item_args)
        if "reports" in args["include"]:
            editor_view()  # per caller and not a bank read: never cached
        existing_id(question_id, "question")
        body = service.read_question(question_id, with_answer="answer" in args["include"])
        if "reports" in args["include"]:
            body["open_reports"] = reports.open_report_count(question_id)
            return body, 200, {"Cache-Control": "private, no-cache"}
        return body

    @role_required("editor")
    def patch(self, question_id: int):
        """Change a question (editors; If-Match required)."""
        require_if_match_header()
        question = find_question(question_id)
        _require_current(question)
        changes = parse_body(question_patch_schema)
        merged = {**editorial.editable_fields(question), **changes}
        data = load_or_422(question_in_schema, merged)
        return _written_question(editorial.update_question(question=question, data=data))

    @role_required("editor")
    def delete(self, question_id: int):
        """Delete a question (editors; If-Match required)."""
        require_if_match_header()
        question = find_question(question_id)
        _require_current(question)
        editorial.delete_question(question=question)
        return Response(status=204)


# What a topic slug can be; anything else names no topic and never reaches the database
# (PostgreSQL rejects NUL in text).
TOPIC_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TOPIC_SLUG_MAX = 64


def _topic_view(topic, count: int, by_difficulty: dict[str, int] | None = None) -> dict:
    view = {
        "slug": topic.slug,
        "name": topic.name,
        "description": topic.description,
        "question_count": count,
        "version": topic.version,
        "created_at": topic.created_at,
        "updated_at": topic.updated_at,
    }
    if by_difficulty is not None:
        view["questions_by_difficulty"] = by_difficulty
    return view


class TopicList(Resource):
    @role_required("editor")
    def post(self):
        """Create a topic (editors)."""
        topic = editorial.create_topic(data=parse_body(topic_in_schema))
        return _written_topic(topic.slug, 201)

    def get(self):
        """List topics with their question counts."""
        args = parse_args(topic_list_args)
        rows, total = topic_service.list_topics(page=args["page"], per_page=args["per_page"])
        data = topics_schema.dump([_topic_view(t, n) for t, n in rows])
        return paged(data, page=args["page"], per_page=args["per_page"], total=total)


def _topic_payload(slug: str) -> dict:
    """One topic as GET shows it (the representation If-Match is checked against)."""
    if len(slug) > TOPIC_SLUG_MAX or not TOPIC_SLUG.fullmatch(slug):
        raise NotFound(f"There is no topic '{slug}'.")
    topic, by_difficulty = topic_service.get_topic(slug)
    return topic_schema.dump(_topic_view(topic, sum(by_difficulty.values()), by_difficulty))


def _written_topic(slug: str, status: int = 200):
    headers = {"Location": url_for("topicitem", slug=slug)}
    return with_etag(_topic_payload(slug), status, headers)


class TopicItem(Resource):
    def get(self, slug: str):
        """Read one topic with its question counts by difficulty."""
        parse_args(topic_item_args)
        return _topic_payload(slug)

    @role_required("editor")
    def patch(self, slug: str):
        """Rename or describe a topic (editors; If-Match required)."""
        require_if_match_header()
        require_if_match(_topic_payload(slug))
        changes = parse_body(topic_patch_schema)
        topic = editorial.update_topic(topic=editorial.get_topic_row(slug), data=changes)
        return _written_topic(topic.slug)

    @role_required("editor")
    def delete(self, slug: str):
        """Delete an empty topic (editors; If-Match required)."""
        require_if_match_header()
        require_if_match(_topic_payload(slug))
        editorial.delete_topic(topic=editorial.get_topic_row(slug))
        return Response(status=204)


class TagList(Resource):
    def get(self):
        """List tags with their question counts."""
        args = parse_args(tag_list_args)
        rows, total = topic_service.list_tags(
            sort=args["sort"], page=args["page"], per_page=args["per_page"]
        )
        data = tags_schema.dump([{"slug": t.slug, "question_count": n} for t, n in rows])
        return paged(data, page=args["page"], per_page=args["per_page"], total=total)


class DeletionList(Resource):
    def get(self):
        """Questions and topics deleted since a moment, oldest first (for offline sync)."""
        args = parse_args(deletion_list_args)
        rows, total = service.deletions(
            since=args["since"], kind=args["kind"], page=args["page"], per_page=args["per_page"]
        )
        return paged(
            deletions_schema.dump(rows), page=args["page"], per_page=args["per_page"], total=total
        )


@role_required("editor")
def editor_view() -> None:
    """Only editors get here; and the rendering is theirs, not the public read cache's."""
    not_cached()


class QuestionReports(Resource):
    @role_required("learner")
    @limiter.limit(
        ratelimit.reports_per_user,
        key_func=ratelimit.user_or_address,
        scope="reports",
        override_defaults=False,
        error_message="Too many reports; retry after Retry-After seconds.",
    )
    def post(self, question_id: int):
        """Report a problem with a question (one open report per learner and question)."""
        find_question(question_id)
        data = parse_body(report_in_schema)
        report = reports.file_report(
            user_id=current_user().id,
            question_id=question_id,
            reason=data["reason"],
            comment=data["comment"],
        )
        headers = {"Location": url_for("reportitem", report_id=report.id), **NO_STORE}
        return reports.as_dict(report), 201, headers


class ReportList(Resource):
    @role_required("editor")
    def get(self):
        """Learners' reports, newest first (editors)."""
        args = parse_args(report_list_args)
        items, total = reports.list_reports(
            status=args["status"],
            question_id=args["question_id"],
            reason=args["reason"],
            page=args["page"],
            per_page=args["per_page"],
        )
        body, status, headers = paged(
            [reports.as_dict(r) for r in items],
            page=args["page"],
            per_page=args["per_page"],
            total=total,
        )
        return body, status, {**headers, "Cache-Control": "private, no-cache"}


class ReportItem(Resource):
    @role_required("editor")
    def get(self, report_id: int):
        """One report (editors)."""
        parse_args(no_args)
        existing_id(report_id, "report")
        return (
            reports.as_dict(reports.get_report(report_id)),
            200,
            {"Cache-Control": "private, no-cache"},
        )

    @role_required("editor")
    def patch(self, report_id: int):
        """Resolve or dismiss a report with a note (editors)."""
        parse_args(no_args)
        existing_id(report_id, "report")
        data = parse_body(report_patch_schema)
        report = reports.close_report(
            report_id=report_id,
            editor_id=current_user().id,
            status=data["status"],
            note=data["note"],
        )
        return reports.as_dict(report), 200, NO_STORE
