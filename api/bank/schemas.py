"""Bank schemas: the query arguments of the read endpoints and the output shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate

from api.bank.models import (
    DIFFICULTIES,
    QUESTION_TYPES,
    REPORT_REASONS,
    REPORT_STATUSES,
    TAG_SORTS,
)
from api.platform.parsing import PageArgs, QueryInteger, SafeString, Slug

ANSWER_FIELDS = (
    "answer",
    "key_points",
    "correct_choices",
    "choice_weights",
    "note",
    "explanations",
    "original_answer",
)
SORT_CHOICES = (
    "id",
    "-id",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "difficulty",
    "-difficulty",
    "relevance",
)


class UTCDateTime(fields.AwareDateTime):
    """An aware RFC 3339 date-time (`T` and `Z` in either case), returned in UTC; one that
    has no UTC equivalent is invalid."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.upper()
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            return result.astimezone(UTC)
        except OverflowError:
            return self._beyond_utc(result, value)

    def _beyond_utc(self, result: datetime, value: Any) -> datetime:
        raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)


class QueryDateTime(UTCDateTime):
    """An RFC 3339 date-time (`T` and `Z` in either case), naive taken as UTC, returned in UTC.

    An instant beyond what a datetime holds once in UTC (`0001-01-01T00:00:00+01:00` is
    in year 0) is clamped to the first or last one: as a lower bound it means the same.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _beyond_utc(self, result: datetime, value: Any) -> datetime:
        edge = datetime.min if result.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


class FilterArgs(Schema):
    topic = fields.List(Slug(), validate=validate.Length(max=20), load_default=list)
    tag = fields.List(Slug(), validate=validate.Length(max=20), load_default=list)
    difficulty = fields.List(
        fields.String(validate=validate.OneOf(DIFFICULTIES)),
        validate=validate.Length(max=20),
        load_default=list,
    )
    type = fields.List(
        fields.String(validate=validate.OneOf(QUESTION_TYPES)),
        validate=validate.Length(max=20),
        load_default=list,
    )
    updated_since = QueryDateTime(load_default=None)
    exclude = fields.List(
        QueryInteger(validate=validate.Range(min=1, max=2**31 - 1)),
        validate=validate.Length(max=500),
        load_default=list,
    )
    q = SafeString(load_default=None, validate=validate.Length(min=1, max=200))
    include = fields.List(fields.String(validate=validate.OneOf(["answer"])), load_default=list)


class QuestionListArgs(FilterArgs, PageArgs):
    sort = fields.String(load_default=None, validate=validate.OneOf(SORT_CHOICES))


class RandomArgs(FilterArgs):
    count = QueryInteger(load_default=1, validate=validate.Range(min=1, max=50))


class QuestionItemArgs(Schema):
    # `reports` (editors): the question's open report count, `open_reports`.
    include = fields.List(
        fields.String(validate=validate.OneOf(["answer", "reports"])), load_default=list
    )


class SourceSchema(Schema):
    document = fields.String()
    position = fields.Integer()


class KeyPointSchema(Schema):
    text = fields.String()
    alternatives = fields.List(fields.String())
    contradictions = fields.List(fields.String())


class QuestionSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    prompt = fields.String()
    alternate_prompts = fields.List(fields.String())
    type = fields.String()
    difficulty = fields.String(attribute="difficulty_name")
    choices = fields.List(fields.String(), allow_none=True)
    # `{slug, name}` dicts built by the model (no nested schema: they need no conversion)
    topics = fields.Raw(attribute="topic_refs")
    tags = fields.Raw(attribute="tag_refs")
    sources = fields.List(fields.Nested(SourceSchema))
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    answer = fields.String()
    key_points = fields.List(fields.Nested(KeyPointSchema))
    correct_choices = fields.List(fields.Integer(), allow_none=True)
    choice_weights = fields.List(fields.Float(), allow_none=True)
    note = fields.String(allow_none=True)
    explanations = fields.List(fields.String(), allow_none=True)
    original_answer = fields.String(allow_none=True)
    related_group = fields.String(allow_none=True)


questions_schema = QuestionSchema(many=True, exclude=ANSWER_FIELDS)
questions_with_answers_schema = QuestionSchema(many=True)
question_schema = QuestionSchema(exclude=ANSWER_FIELDS)
question_with_answer_schema = QuestionSchema()
question_list_args = QuestionListArgs()
random_args = RandomArgs()
question_item_args = QuestionItemArgs()


class ExportArgs(FilterArgs):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(
            ["json", "csv", "markdown", "gift", "aiken", "moodle-xml", "qti", "anki"]
        ),
    )


export_args = ExportArgs(exclude=("include",))


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
    sort = fields.String(load_default="slug", validate=validate.OneOf(TAG_SORTS))


topic_schema = TopicSchema()
topic_item_args = TopicItemArgs()
topics_schema = TopicSchema(many=True, exclude=("questions_by_difficulty",))
tags_schema = TagSchema(many=True)
topic_list_args = PageArgs()
tag_list_args = TagListArgs()


class DeletionListArgs(PageArgs):
    since = QueryDateTime(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(("question", "topic")))


class DeletionSchema(Schema):
    kind = fields.String()
    id = fields.Integer(attribute="row_id")
    slug = fields.String()
    deleted_at = UTCDateTime()


class QuestionCreateArgs(Schema):
    allow_duplicate = fields.Boolean(load_default=False)


deletion_list_args = DeletionListArgs()
question_create_args = QuestionCreateArgs()
deletions_schema = DeletionSchema(many=True)


class ReportIn(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(REPORT_REASONS))
    comment = SafeString(load_default="", validate=validate.Length(max=1000))


class ReportListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(REPORT_STATUSES))
    question_id = QueryInteger(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    reason = fields.String(load_default=None, validate=validate.OneOf(REPORT_REASONS))


class ReportPatchIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("resolved", "dismissed")))
    note = SafeString(load_default="", validate=validate.Length(max=1000))


report_in_schema = ReportIn()
report_list_args = ReportListArgs()
report_patch_schema = ReportPatchIn()
