"""Pieces every schema shares: safe strings, paging arguments, query-string parsing."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Request, current_app, request
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from api.platform.errors import BadRequest, InvalidBody, InvalidQuery, NotFound, flatten_messages


class _BoundedBody(LimitedStream):
    """A body of unknown length (chunked) read up to the largest allowed: a 413 once it
    proves longer. werkzeug's own stream stops quietly at the limit, so a chunked body past
    it was parsed truncated (a 400 "not valid JSON" instead of a 413)."""

    def __init__(self, stream, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._raw = stream

    def on_exhausted(self) -> None:
        if self._raw.read(1):  # one byte past the limit: too large
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class ApiRequest(Request):
    """The app's request class (`app.request_class`): bodies sent without a Content-Length
    obey `max_content_length` as those with one do."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if (
            limit is not None
            and self.content_length is None
            and "wsgi.input_terminated" in self.environ
        ):
            return _BoundedBody(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)


class SafeString(fields.String):
    """A string that refuses NUL and other C0 control characters (PostgreSQL rejects NUL)."""

    default_error_messages = {"control": "Control characters are not allowed."}

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in result):
            raise self.make_error("control")
        return result


class Slug(SafeString):
    """A lowercase kebab-case slug; any `validate` given is checked as well, not instead."""

    SHAPE = validate.Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be a lowercase slug.")

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        extra = [extra] if callable(extra) else list(extra or [])
        super().__init__(validate=[self.SHAPE, *extra], **kwargs)


class FilterList(fields.List):
    """A filter's values in a JSON body, written either way the query string takes them: a
    list, or one string of comma-separated values (`"routing,templates"`); whitespace
    around a value is ignored and an empty value is a mistake, as in `?topic=a,,b`."""

    default_error_messages = {"empty": "Empty value: give one, or leave the filter out."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
            if not all(value):
                raise self.make_error("empty")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryInteger(fields.Integer):
    """An integer written in ASCII digits: not `1_000`, `1.0` or non-Latin digits `int()` takes."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


# Ids are 32-bit: a larger one names nothing (and would overflow the database driver).
MAX_ID = 2**31 - 1


def existing_id(value: int, what: str) -> None:
    """A path id past MAX_ID names no row: a 404, before any query is built with it."""
    if value > MAX_ID:
        raise NotFound(f"There is no {what} {value}.")


class NoArgs(Schema):
    """No query parameters: any given is unknown, and a 400 like everywhere else."""


no_args = NoArgs()


def _per_page_cap(value: int) -> None:
    cap = current_app.config["PER_PAGE_MAX"]
    if value > cap:
        raise ValidationError(f"Must be at most {cap}.")


class PageArgs(Schema):
    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = QueryInteger(load_default=None, validate=[validate.Range(min=1), _per_page_cap])


def collect_args(schema: Schema) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """request.args as a dict (list fields take repeats and comma-separated values), and
    what is wrong with their shape (an empty list value, a scalar given twice)."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in request.args:
        values = request.args.getlist(key)
        field = schema.fields.get(key)
        if isinstance(field, fields.List):
            parts = [part.strip() for v in values for part in v.split(",")]
            if all(parts):
                data[key] = parts
            else:  # `?tag=`, `?tag=a,,b`: an empty value is a mistake, not "no filter"
                errors[key] = ["Empty value: give one, or leave the parameter out."]
        elif len(values) > 1:
            errors[key] = ["Give this parameter once."]
        else:
            data[key] = values[0]
    return data, errors


QUOTED_MAX = 40  # characters of a bad value quoted back in an error message


def quoted(value: Any) -> str:
    """A bad value as an error message names it: JSON-quoted, control characters escaped,
    cut short (the message helps find the value, it does not echo the request)."""
    text = str(value)
    if len(text) > QUOTED_MAX:
        text = text[: QUOTED_MAX - 1] + "\u2026"
    return json.dumps(text, ensure_ascii=True).replace("\\u2026", "\u2026")


def parse_args(schema: Schema) -> dict[str, Any]:
    """Validate the query string with `schema`. Every invalid parameter is reported at
    once (a 400 whose `errors` names each), each message naming the value it refuses."""
    data, errors = collect_args(schema)
    args: dict[str, Any] = {}
    try:
        args = schema.load({k: v for k, v in data.items() if k not in errors})
    except ValidationError as exc:
        for path, texts in flatten_messages(exc.normalized_messages()).items():
            # A query parameter is one field, even when it carries a list of values.
            name, _, item = path.partition(".")
            given = data.get(name)
            if isinstance(given, list) and item.isdigit() and int(item) < len(given):
                given = given[int(item)]
            known = name in schema.fields  # an unknown parameter's value says nothing
            prefix = f"{quoted(given)}: " if known and isinstance(given, str) else ""
            errors.setdefault(name, []).extend(prefix + text for text in texts)
    if errors:
        raise InvalidQuery("Fix the parameters named in `errors`.", errors=errors)
    if "per_page" in schema.fields and args.get("per_page") is None:
        args["per_page"] = current_app.config["PER_PAGE_DEFAULT"]
    return args


# No body this API takes nests deeper than a few levels; deeper is refused before anything
# walks it (a body nested thousands deep would exhaust Python's recursion).
MAX_JSON_DEPTH = 32


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def request_json() -> Any:
    """The request's parsed JSON body, or None when it is not JSON at all or unparsable.

    BadRequest when it nests deeper than MAX_JSON_DEPTH (parsing included: the JSON
    decoder itself gives up with a RecursionError far below what a body may hold).
    """
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    if isinstance(data, dict | list) and _deeper_than(data, MAX_JSON_DEPTH):
        raise BadRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return data


def read_json() -> Any:
    """The request's JSON value: not JSON at all is a 415, unparsable or too deep a 400."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    data = request_json()
    if data is None:
        raise BadRequest("The body is not valid JSON.")
    unencodable = _lone_surrogates(data)
    if unencodable:
        raise InvalidBody(
            "Fix the fields named in `errors`.",
            errors={path: ["Not valid Unicode (a lone surrogate escape)."] for path in unencodable},
        )
    return data


def parse_body(schema: Schema) -> dict[str, Any]:
    """Validate a JSON object body with `schema`; a failure is a 422 naming each field.

    Not JSON at all is a 415, unparsable JSON a 400, anything but an object a 422.
    """
    data = read_json()
    if not isinstance(data, dict):
        raise InvalidBody(
            "The body must be a JSON object.", errors={"_schema": ["Expected a JSON object."]}
        )
    return load_or_422(schema, data)


def load_or_422(
    schema: Schema, data: Any, detail: str = "Fix the fields named in `errors`.", *, at: str = ""
) -> Any:
    """`schema.load(data)`, a failure being a 422 whose `errors` name each field by path.

    `at` prefixes those paths (an item of a streamed file: `questions.12`).
    """
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors = flatten_messages(exc.normalized_messages(), prefix=at)
        raise InvalidBody(detail, errors=errors) from exc


def _lone_surrogates(value: Any, path: str = "") -> list[str]:
    """Paths of strings JSON allowed (`"\\ud800"`) that no UTF-8 database or hash can take."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [path or "_schema"]
        return []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
            child = f"{path}.{name}" if path else name
            found.extend(_lone_surrogates(key, child) + _lone_surrogates(item, child))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _lone_surrogates(item, f"{path}.{i}")]
    return []
