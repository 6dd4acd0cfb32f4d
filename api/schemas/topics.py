"""Topic and tag schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import PageArgs
from api.services.topics import TAG_SORTS


class TopicSchema(Schema):
    slug = fields.String()
    name = fields.String()
    description = fields.String()
    question_count = fields.Integer()
    questions_by_difficulty = fields.Dict(keys=fields.String(), values=fields.Integer())
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TagSchema(Schema):
    slug = fields.String()
    question_count = fields.Integer()


class TopicItemArgs(Schema):
    """No query parameters: any given is unknown, and a 400 like everywhere else."""


class TagListArgs(PageArgs):
    sort = fields.String(load_default="slug", validate=validate.OneOf(sorted(TAG_SORTS)))


topic_schema = TopicSchema()
topic_item_args = TopicItemArgs()
topics_schema = TopicSchema(many=True, exclude=("questions_by_difficulty",))
tags_schema = TagSchema(many=True)
topic_list_args = PageArgs()
tag_list_args = TagListArgs()
