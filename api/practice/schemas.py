"""Practice schemas: attempt bodies, quiz requests, and their output shapes."""

from __future__ import annotations

from flask import current_app
from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema
from marshmallow.utils import get_value

from api.bank.payloads import JsonInteger, WholeSlug
from api.bank.schemas import FilterArgs, UTCDateTime
from api.platform.parsing import FilterList, PageArgs, QueryInteger, SafeString
from api.practice.models import SELF_RATINGS

ANSWER_MAX = 5000
# Values one quiz filter (topic, tag, difficulty, type) may list.
FILTER_VALUES_MAX = 20
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
    """A quiz's filters are stored with it: each list is bounded (FILTER_VALUES_MAX)."""

    count = JsonInteger(load_default=10, validate=validate.Range(min=1, max=50))
    topic = FilterList(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=FILTER_VALUES_MAX),
    )
    tag = FilterList(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=validate.Length(max=FILTER_VALUES_MAX),
    )
    difficulty = FilterList(
        fields.String(validate=validate.OneOf(("easy", "medium", "hard"))),
        load_default=list,
        validate=validate.Length(max=FILTER_VALUES_MAX),
    )
    type = FilterList(
        fields.String(validate=validate.OneOf(("open", "multiple_choice", "true_false"))),
        load_default=list,
        validate=validate.Length(max=FILTER_VALUES_MAX),
    )


class ReviewArgs(FilterArgs):
    limit = QueryInteger(load_default=20, validate=validate.Range(min=1, max=100))


class AttemptOverrideIn(Schema):
    """PATCH /attempts/{id}: the learner's own rating, confirming or replacing the grade's."""

    self_rating = fields.String(required=True, validate=validate.OneOf(SELF_RATINGS))


class KeyPointResultSchema(Schema):
    key_point = fields.String()
    covered = fields.Boolean()
    credit = fields.Float()
    words = fields.List(fields.String())
    contradicted_by = fields.String(allow_none=True)


class GradeSchema(Schema):
    graded_by = fields.String()
    score = fields.Float(allow_none=True)
    passed = fields.Boolean(attribute="graded_passed")
    matched = fields.List(fields.String())
    missed = fields.List(fields.String())
    feedback = fields.String()
    confidence = fields.String(allow_none=True)
    key_points = fields.List(
        fields.Nested(KeyPointResultSchema), attribute="points", allow_none=True
    )
    grader_version = fields.Integer(allow_none=True)


grade_schema = GradeSchema()


_GRADE_COLUMNS = (
    "score",
    "matched",
    "missed",
    "feedback",
    "confidence",
    "points",
    "grader_version",
)


def _grade(attempt) -> dict:
    """The grading columns of an attempt (a model or the dict of a row just inserted).

    `passed` here is the grader's verdict, kept when the learner overrides it.
    """
    columns = {name: get_value(attempt, name) for name in _GRADE_COLUMNS}
    graded_passed = get_value(attempt, "graded_passed")
    columns["graded_passed"] = (
        get_value(attempt, "passed") if graded_passed in (None, missing) else graded_passed
    )
    # A self-rating is the learner's own grade: it scores what it passes (1 or 0), as the
    # quiz totals count it, and says who graded it.
    self_rated = get_value(attempt, "kind") == "self_rating"
    columns["graded_by"] = "self" if self_rated else "grader"
    if self_rated:
        columns["score"] = 1.0 if columns["graded_passed"] else 0.0
    return grade_schema.dump(columns)


def _override(attempt) -> dict | None:
    rating = get_value(attempt, "override_rating")
    if rating in (None, missing):
        return None
    return {
        "self_rating": rating,
        "overridden_at": get_value(attempt, "overridden_at").isoformat(),
        "graded_rating": RATING_NAMES[get_value(attempt, "graded_rating")],
    }


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
    passed = fields.Boolean()
    override = fields.Function(_override)
    override_until = fields.Method("_override_until")
    answered_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    next_review_at = fields.AwareDateTime(attribute="next_due_at")

    def _override_until(self, attempt) -> str:
        """Until when the learner may confirm or override the rating (PATCH)."""
        window = current_app.config["ATTEMPT_OVERRIDE_WINDOW"]
        return (get_value(attempt, "created_at") + window).isoformat()


attempt_in_schema = AttemptIn()
attempt_override_schema = AttemptOverrideIn()
batch_in_schema = BatchIn()
attempt_schema = AttemptSchema()
attempts_schema = AttemptSchema(many=True)
attempt_list_args = AttemptListArgs()
quiz_in_schema = QuizIn()
review_args = ReviewArgs(exclude=("include", "q", "updated_since", "exclude"))
