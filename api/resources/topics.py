"""Topic and tag resources."""

from __future__ import annotations

import re

from flask import Response, url_for
from flask_restful import Resource

from api.auth import role_required
from api.errors import NotFound
from api.resources.common import paged, require_if_match, with_etag
from api.schemas.bank import topic_in_schema, topic_patch_schema
from api.schemas.common import parse_args, parse_body
from api.schemas.topics import (
    tag_list_args,
    tags_schema,
    topic_item_args,
    topic_list_args,
    topic_schema,
    topics_schema,
)
from api.services import editorial
from api.services import topics as service

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
        return _written(topic.slug, 201)

    def get(self):
        """List topics with their question counts."""
        args = parse_args(topic_list_args)
        rows, total = service.list_topics(page=args["page"], per_page=args["per_page"])
        data = topics_schema.dump([_topic_view(t, n) for t, n in rows])
        return paged(data, page=args["page"], per_page=args["per_page"], total=total)


def _topic_payload(slug: str) -> dict:
    """One topic as GET shows it (the representation If-Match is checked against)."""
    if len(slug) > TOPIC_SLUG_MAX or not TOPIC_SLUG.fullmatch(slug):
        raise NotFound(f"There is no topic '{slug}'.")
    topic, by_difficulty = service.get_topic(slug)
    return topic_schema.dump(_topic_view(topic, sum(by_difficulty.values()), by_difficulty))


def _written(slug: str, status: int = 200):
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
        require_if_match(_topic_payload(slug))
        changes = parse_body(topic_patch_schema)
        topic = editorial.update_topic(topic=editorial.get_topic_row(slug), data=changes)
        return _written(topic.slug)

    @role_required("editor")
    def delete(self, slug: str):
        """Delete an empty topic (editors; If-Match required)."""
        require_if_match(_topic_payload(slug))
        editorial.delete_topic(topic=editorial.get_topic_row(slug))
        return Response(status=204)


class TagList(Resource):
    def get(self):
        """List tags with their question counts."""
        args = parse_args(tag_list_args)
        rows, total = service.list_tags(
            sort=args["sort"], page=args["page"], per_page=args["per_page"]
        )
        data = tags_schema.dump([{"slug": t.slug, "question_count": n} for t, n in rows])
        return paged(data, page=args["page"], per_page=args["per_page"], total=total)
