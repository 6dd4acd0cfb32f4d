"""HTTP helpers the resources share: list envelopes with paging links."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, urlencode

from flask import current_app, request
from flask_restful.representations.json import output_json
from werkzeug.http import generate_etag

from api.platform.errors import PATH_SAFE, PreconditionFailed, PreconditionRequired


def public_url() -> str:
    """This request's URL without its query: on PUBLIC_BASE_URL when configured (never the
    Host header then), else as the server received it."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.base_url
    return base + quote(request.script_root + request.path, safe=PATH_SAFE)


def page_links(*, page: int, per_page: int, total: int) -> dict[str, str]:
    """Link and X-Total-Count headers; other query parameters are kept as given."""
    last = max(1, math.ceil(total / per_page))
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in {"page", "per_page"}]

    here = public_url()

    def url(n: int) -> str:
        return f"{here}?{urlencode([*args, ('page', n), ('per_page', per_page)])}"

    rels = {"first": 1, "last": last}
    if page > 1:
        rels["prev"] = min(page - 1, last)
    if page < last:
        rels["next"] = page + 1
    link = ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels.items())
    return {"Link": link, "X-Total-Count": str(total)}


def paged(
    data: list[Any], *, page: int, per_page: int, total: int
) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = {
        "data": data,
        "meta": {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": max(1, math.ceil(total / per_page)),
        },
    }
    return body, 200, page_links(page=page, per_page=per_page, total=total)


def representation_etag(payload: Any) -> str:
    """The strong ETag a GET of `payload` carries: the same bytes, hashed the same way."""
    return generate_etag(output_json(payload, 200).get_data())


def require_if_match_header() -> None:
    """A conditional write without If-Match is a 428, before anything is looked up: the
    caller learns what the request lacks whether or not the resource exists."""
    if "If-Match" not in request.headers:
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last GET of this resource."
        )


def require_if_match(*payloads: Any) -> None:
    """Optimistic concurrency: a write must name the representation it was based on.

    No If-Match is a 428; one matching none of the resource's current representations
    (a question reads differently with and without its answer) is a 412. `*` matches.
    """
    require_if_match_header()
    if request.if_match.star_tag:
        return
    current = [representation_etag(p) for p in payloads]
    if not any(request.if_match.contains(tag) for tag in current):
        raise PreconditionFailed(
            "The resource changed since you read it: GET it again and retry with its ETag."
        )


def with_etag(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    """A write's reply carries the new representation's ETag, ready for the next If-Match."""
    return payload, status, {"ETag": f'"{representation_etag(payload)}"', **(headers or {})}
