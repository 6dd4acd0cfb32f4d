"""The one check of an RFC 9457 problem response (the `assert_problem` fixture returns it)."""

from __future__ import annotations

import api.routes  # noqa: F401  (every domain's problem types registered)
from api.platform.problems import CATALOGUE, TYPE_PREFIX

PROBLEM = "application/problem+json"


def check_problem(response, status: int, slug: str | None = None) -> dict:
    """A problem+json of that status (never cached), of type `slug` when given; its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == PROBLEM
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"] and body["type"]
    assert body["type"].removeprefix(TYPE_PREFIX) in CATALOGUE, body["type"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body["type"]
    return body
