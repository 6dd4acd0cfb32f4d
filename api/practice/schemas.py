"""Practice schemas: attempt bodies, quiz requests, and their output shapes."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from marshmallow.utils import get_value

from api.bank.payloads import JsonInteger, WholeSlug
from api.bank.schemas import FilterArgs, QuestionSchema, UTCDateTime
from api.platform.parsing import PageArgs, QueryInteger, SafeString
from api.practice.models import SELF_RATINGS

ANSWER_MAX = 5000
RATING_NAMES = {1: "again", 2: "hard", 3: "good", 4: "easy"}


class AttemptIn(Schema):
    """Exactly one of: a free-text `answer`, `choices` (indexes), or a `self_rating`."""

    answer = SafeString(validate=validate.Length(min=1, max=ANSWER_MAX))
    choices = fields.List(
        JsonInteger(validate=validate.Range(min=0, max=9)),
        validate=validate.Length(min=1, max=10),
    )
    self_rating = fields.String(validate=validate.OneOf(SELF_RATINGS))
    quiz_id = JsonInteger(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))

    @validates_schema
    def _one_mode(self, data, **kwargs):
        given = [k for k in ("answer", "choices", "self_rating") if data.get(k) is not None]
        if len(given) != 1:
            raise ValidationError("Give exactly one of answer, choices or self_rating.", "_schema")


class BatchAttemptIn(AttemptIn):
    question_id = JsonInteger(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    answered_at = UTCDateTime(required=True)


class BatchIn(Schema):
    attempts = fields.List(
        fields.Nested(BatchAttemptIn), required=True, validate=validate.Length(min=1, max=100)
    )


class AttemptListArgs(PageArgs):
    question_id = QueryInteger(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    quiz_id = QueryInteger(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    passed = fields.Boolean(load_default=None)
    user_id = QueryInteger(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))


class QuizIn(Schema):
    count = JsonInteger(load_default=10, validate=validate.Range(min=1, max=50))
    topic = fields.List(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    tag = fields.List(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    difficulty = fields.List(
        fields.String(validate=validate.OneOf(("easy", "medium", "hard"))), load_default=list
    )
    type = fields.List(
        fields.String(validate=validate.OneOf(("open", "multiple_choice", "true_false"))),
        load_default=list,
    )


class NoArgs(Schema):
    """No query parameters: any given is unknown, and a 400 like everywhere else."""


class ReviewArgs(FilterArgs):
    limit = QueryInteger(load_default=20, validate=validate.Range(min=1, max=100))


class GradeSchema(Schema):
    score = fields.Float(allow_none=True)
    passed = fields.Boolean()
    matched = fields.List(fields.String())
    missed = fields.List(fields.String())
    feedback = fields.String()


grade_schema = GradeSchema()


def _grade(attempt) -> dict:
    """The grading columns of an attempt (a model or the dict of a row just inserted)."""
    return grade_schema.dump({name: get_value(attempt, name) for name in grade_schema.fields})


class AttemptSchema(Schema):
    """An attempt: an Attempt, or the mapping of columns attempts.record_attempt just stored."""

    id = fields.Integer()
    question_id = fields.Integer()
    question_version = fields.Integer()
    quiz_id = fields.Integer(allow_none=True)
    kind = fields.String()
    answer = fields.String(attribute="answer_text", allow_none=True)
    choices = fields.List(fields.Integer(), attribute="selected_choices", allow_none=True)
    self_rating = fields.String(allow_none=True)
    grade = fields.Function(_grade)
    rating = fields.Function(lambda a: RATING_NAMES[get_value(a, "rating")])
    answered_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    next_review_at = fields.AwareDateTime(attribute="next_due_at")


class ReviewItemSchema(Schema):
    kind = fields.String()
    due = fields.AwareDateTime(allow_none=True)
    question = fields.Nested(
        QuestionSchema(exclude=("answer", "key_points", "correct_choices", "note"))
    )


attempt_in_schema = AttemptIn()
batch_in_schema = BatchIn()
attempt_schema = AttemptSchema()
attempts_schema = AttemptSchema(many=True)
attempt_list_args = AttemptListArgs()
quiz_in_schema = QuizIn()
no_args = NoArgs()
review_args = ReviewArgs(exclude=("include", "q", "updated_since", "exclude"))
review_items_schema = ReviewItemSchema(many=True)
