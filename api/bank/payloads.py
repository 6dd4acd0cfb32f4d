"""The shape of a question as editors and the seed file write it."""

from __future__ import annotations

import numbers

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.bank.models import DIFFICULTIES, QUESTION_TYPES
from api.platform.parsing import SafeString, Slug


class WholeSlug(Slug):
    """A slug, all of the string: `$` alone also matches before a final newline."""

    SHAPE = validate.Regexp(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z", error="Must be a lowercase slug.")


class JsonInteger(fields.Integer):
    """A JSON integer: `3` or `3.0`, not `"3"`, `true` or `3.5` (which `int()` would truncate)."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _distinct(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Give each value once.")


class SourceIn(Schema):
    document = SafeString(required=True, validate=validate.Length(min=1, max=200))
    position = JsonInteger(required=True, validate=validate.Range(min=1, max=10_000_000))


class KeyPointObjectIn(Schema):
    text = SafeString(required=True, validate=validate.Length(min=1, max=200))
    alternatives = fields.List(
        SafeString(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=[validate.Length(max=10), _distinct],
    )
    contradictions = fields.List(
        SafeString(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=[validate.Length(max=10), _distinct],
    )


class KeyPoint(fields.Field):
    """A key point: a phrase, or {text, alternatives, contradictions}: other phrasings that
    also cover it, and misconceptions that contradict it when an answer states them.

    Always loads to the stored form {"text": ..., "alternatives": [...],
    "contradictions": [...]}.
    """

    default_error_messages = {
        "invalid": "A key point is a string, or an object with text and alternatives."
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = SafeString(validate=validate.Length(min=1, max=200))
        self._object = KeyPointObjectIn()

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return {"text": self._text.deserialize(value), "alternatives": [], "contradictions": []}
        if isinstance(value, dict):
            loaded = self._object.load(value)
            return {
                "text": loaded["text"],
                "alternatives": loaded["alternatives"],
                "contradictions": loaded["contradictions"],
            }
        raise self.make_error("invalid")


class QuestionIn(Schema):
    slug = WholeSlug(validate=validate.Length(min=1, max=120))
    prompt = SafeString(required=True, validate=validate.Length(min=3, max=1000))
    alternate_prompts = fields.List(
        SafeString(validate=validate.Length(min=3, max=1000)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    answer = SafeString(required=True, validate=validate.Length(min=1, max=20_000))
    key_points = fields.List(KeyPoint(), load_default=list, validate=validate.Length(max=20))
    note = SafeString(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    difficulty = fields.String(load_default="medium", validate=validate.OneOf(DIFFICULTIES))
    type = fields.String(load_default="open", validate=validate.OneOf(QUESTION_TYPES))
    choices = fields.List(
        SafeString(validate=validate.Length(min=1, max=500)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=10),
    )
    correct_choices = fields.List(
        JsonInteger(validate=validate.Range(min=0, max=9)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=10),
    )
    choice_weights = fields.List(
        fields.Float(validate=validate.Range(min=-100, max=100), allow_nan=False),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=10),
    )
    topics = fields.List(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=[validate.Length(max=10), _distinct],
    )
    tags = fields.List(
        WholeSlug(validate=validate.Length(max=64)),
        load_default=list,
        validate=[validate.Length(max=20), _distinct],
    )
    sources = fields.List(
        fields.Nested(SourceIn), load_default=list, validate=validate.Length(max=20)
    )
    explanations = fields.List(
        SafeString(validate=validate.Length(min=1, max=300)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=10),
    )
    related_group = WholeSlug(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    original_answer = SafeString(
        load_default=None, allow_none=True, validate=validate.Length(max=20_000)
    )

    @validates_schema
    def _explanations_fit_choices(self, data, partial=False, **kwargs):
        if partial or data.get("explanations") is None:
            return
        choices = data.get("choices") or (
            ["True", "False"] if data.get("type") == "true_false" else []
        )
        if len(data["explanations"]) != len(choices):
            raise ValidationError("Give one explanation per choice, in order.", "explanations")

    @validates_schema
    def _choices_fit_type(self, data, partial=False, **kwargs):
        if partial:
            return  # a PATCH: checked once merged onto the question (resources/questions.py)
        kind = data.get("type", "open")
        choices, correct = data.get("choices"), data.get("correct_choices")
        if kind == "open":
            if choices or correct:
                raise ValidationError("Open questions have no choices.", "choices")
            return
        if kind == "true_false":
            if choices not in (None, ["True", "False"]):
                raise ValidationError('True/false choices are ["True", "False"].', "choices")
            data["choices"] = ["True", "False"]
            if not correct or len(correct) != 1 or correct[0] not in (0, 1):
                raise ValidationError("Give exactly one correct choice: 0 or 1.", "correct_choices")
            return
        if not choices:
            raise ValidationError("Multiple-choice questions need choices.", "choices")
        if not correct:
            raise ValidationError("Name at least one correct choice.", "correct_choices")
        if len(set(correct)) != len(correct) or max(correct) >= len(choices):
            raise ValidationError(
                "Each correct choice is a distinct index into choices.", "correct_choices"
            )

    @validates_schema
    def _weights_fit_choices(self, data, partial=False, **kwargs):
        if partial or data.get("choice_weights") is None:
            return
        weights = data["choice_weights"]
        if data.get("type", "open") != "multiple_choice":
            raise ValidationError(
                "Only multiple-choice questions have choice weights.", "choice_weights"
            )
        choices, correct = data.get("choices") or [], data.get("correct_choices") or []
        if len(weights) != len(choices):
            raise ValidationError("Give one weight per choice, in order.", "choice_weights")
        if not weights_fit(weights, correct):
            raise ValidationError(
                "The correct choices each weigh more than 0 and together 100.",
                "choice_weights",
            )


def weights_fit(weights: list[float], correct: list[int]) -> bool:
    """Partial credit that agrees with the correct choices: picking exactly them scores 100%."""
    if any(i >= len(weights) or weights[i] <= 0 for i in correct):
        return False
    return abs(sum(weights[i] for i in correct) - 100) < 0.01


class TopicIn(Schema):
    slug = WholeSlug(required=True, validate=validate.Length(min=1, max=64))
    name = SafeString(required=True, validate=validate.Length(min=1, max=120))
    description = SafeString(load_default="", validate=validate.Length(max=2000))


class LicenceIn(Schema):
    name = SafeString(required=True, validate=validate.Length(min=1, max=200))
    spdx = SafeString(required=True, validate=validate.Length(min=1, max=64))
    url = SafeString(required=True, validate=validate.Length(min=1, max=500))
    attribution = SafeString(load_default="", validate=validate.Length(max=1000))


class BankFile(Schema):
    version = JsonInteger(required=True, validate=validate.Equal(1))
    licence = fields.Nested(LicenceIn, load_default=None, allow_none=True)
    topics = fields.List(fields.Nested(TopicIn), load_default=list)
    questions = fields.List(fields.Nested(QuestionIn), required=True)


bank_file_schema = BankFile()
question_in_schema = QuestionIn()
topic_in_schema = TopicIn()


# What an import does with an item whose slug an existing question has (transfer/writing.py).
ON_CONFLICT = ("fail", "update", "skip")


# The formats an import reads: the bank's own (JSON), plain-text Q&A, and other platforms'.
IMPORT_FORMATS = ("json", "text", "gift", "aiken", "moodle-xml")
# What an import does with items it cannot import: write nothing (fail), or the others.
ON_ERROR = ("fail", "skip")


class ImportArgs(Schema):
    dry_run = fields.Boolean(load_default=False)
    on_conflict = fields.String(load_default="fail", validate=validate.OneOf(ON_CONFLICT))
    format = fields.String(load_default=None, validate=validate.OneOf(IMPORT_FORMATS))
    on_error = fields.String(load_default="fail", validate=validate.OneOf(ON_ERROR))
    document = SafeString(load_default="import", validate=validate.Length(min=1, max=200))


question_patch_schema = QuestionIn(partial=True)
questions_in_schema = QuestionIn(many=True)
topic_patch_schema = TopicIn(partial=True)
import_args = ImportArgs()
