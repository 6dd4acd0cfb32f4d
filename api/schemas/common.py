"""Pieces every schema shares: safe strings, paging arguments, query-string parsing."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate

from api.errors import InvalidQuery, flatten_messages


class SafeString(fields.String):
    """A string that refuses NUL and other C0 control characters (PostgreSQL rejects NUL)."""

    default_error_messages = {"control": "Control characters are not allowed."}

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in result):
            raise self.make_error("control")
        return result


class Slug(SafeString):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validate",
            validate.Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be a lowercase slug."),
        )
        super().__init__(**kwargs)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1))


def collect_args(schema: Schema) -> dict[str, Any]:
    """Turn request.args into a dict: list fields take repeats and comma-separated values."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in request.args:
        values = request.args.getlist(key)
        field = schema.fields.get(key)
        if isinstance(field, fields.List):
            data[key] = [part.strip() for v in values for part in v.split(",") if part.strip()]
        elif len(values) > 1:
            errors[key] = ["Give this parameter once."]
        else:
            data[key] = values[0]
    if errors:
        raise InvalidQuery(errors=errors)
    return data


def parse_args(schema: Schema) -> dict[str, Any]:
    """Validate the query string with `schema`; a failure is a 400 naming each parameter."""
    try:
        args = schema.load(collect_args(schema))
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for path, texts in flatten_messages(exc.normalized_messages()).items():
            # A query parameter is one field, even when it carries a list of values.
            name, _, item = path.partition(".")
            errors.setdefault(name, []).extend(f"Value {item}: {t}" if item else t for t in texts)
        raise InvalidQuery("Fix the parameters named in `errors`.", errors=errors) from exc
    if "per_page" in schema.fields:
        cap = current_app.config["PER_PAGE_MAX"]
        if args.get("per_page") is None:
            args["per_page"] = current_app.config["PER_PAGE_DEFAULT"]
        elif args["per_page"] > cap:
            raise InvalidQuery(
                "Fix the parameters named in `errors`.",
                errors={"per_page": [f"Must be at most {cap}."]},
            )
    return args
