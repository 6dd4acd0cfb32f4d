"""Which random draws keep their renderings (api/bank/random_draws.py `_worth_keeping`)."""

from __future__ import annotations

import pytest

from api.bank.random_draws import RENDERED_KEY
from tests.support.apps import temporary_app

URL = "/api/v1/questions/random?count=10"


def _draws(app, times: int, query: str = "") -> list[list[int]]:
    client = app.test_client()
    drawn = []
    for _ in range(times):
        response = client.get(f"{URL}{query}")
        assert response.status_code == 200
        drawn.append([q["id"] for q in response.get_json()["data"]])
    return drawn


@pytest.mark.parametrize("budget", [4 * 1024 * 1024], ids=["4MiB"])
def test_draws_from_a_pool_that_fits_keep_their_renderings(seeded_url, budget):
    with temporary_app(seeded_url, RENDERED_QUESTIONS_MAX_BYTES=budget) as app:
        drawn = _draws(app, 20)
        kept = app.extensions[RENDERED_KEY]
        assert len(kept) == len({i for draw in drawn for i in draw})  # every one drawn
        # With answers is another rendering, kept beside the public one.
        _draws(app, 3, "&include=answer")
        assert len(kept) > len({i for draw in drawn for i in draw})


def test_draws_from_a_pool_too_large_for_the_budget_keep_nothing(seeded_url):
    # The seed bank's public renderings weigh far more than 64 KiB together: draws over it
    # would rarely repeat before eviction, so none is kept (but each is served).
    with temporary_app(seeded_url, RENDERED_QUESTIONS_MAX_BYTES=64 * 1024) as app:
        kept = app.extensions[RENDERED_KEY]
        assert all(len(draw) == 10 for draw in _draws(app, 10))
        assert len(kept) == 0
        # A topic's few questions fit: their draws are kept.
        before = len(kept)
        _draws(app, 5, "&topic=templates")
        assert len(kept) > before
