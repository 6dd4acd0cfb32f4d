"""HTTP helpers the resources share: list envelopes with paging links."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import request


def page_links(*, page: int, per_page: int, total: int) -> dict[str, str]:
    """Link and X-Total-Count headers; other query parameters are kept as given."""
    last = max(1, math.ceil(total / per_page))
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in {"page", "per_page"}]

    def url(n: int) -> str:
        return f"{request.base_url}?{urlencode([*args, ('page', n), ('per_page', per_page)])}"

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
