"""What the benchmark's learner rows send (bench/endpoints.py), without running wrk."""

from __future__ import annotations

import json
import random

from bench import endpoints

LEARNERS = {
    "tokens": ["token-a", "token-b", "token-c"],
    "open_questions": [
        {"id": 5, "key_points": ["session cookie", "worker thread"]},
        {"id": 7, "key_points": ["request context", "signal hook"]},
    ],
}


def by_name() -> dict[str, endpoints.Endpoint]:
    return {ep.name: ep for ep in endpoints.endpoints(1000, LEARNERS)}


def test_every_row_is_built_and_named():
    assert list(by_name()) == endpoints.ENDPOINT_NAMES
    assert endpoints.LEARNER_ROWS <= set(endpoints.ENDPOINT_NAMES)


def test_post_attempt_sends_graded_answers_of_many_learners_with_new_keys():
    ep = by_name()["post attempt"]
    assert ep.idempotency and ep.expect_kind == "free_text"
    lines = [line.split("\t") for line in ep.lines()]
    assert {line[2] for line in lines} == set(LEARNERS["tokens"])
    assert {line[0] for line in lines} == {
        "/api/v1/questions/5/attempts",
        "/api/v1/questions/7/attempts",
    }
    for _, body, _ in lines:
        assert set(json.loads(body)) == {"answer"}
    first, second = ep.request(0), ep.request(0)
    assert first[2]["Authorization"] == "Bearer token-a"
    assert first[2]["Idempotency-Key"] != second[2]["Idempotency-Key"]


def test_free_text_answers_are_about_forty_words_and_name_key_points():
    rng = random.Random(3)
    points = ["session cookie", "worker thread"]
    answers = [endpoints.free_text_answer(rng, points) for _ in range(500)]
    counts = [len(a.split()) for a in answers]
    assert 36 <= sum(counts) / len(counts) <= 46 and max(counts) <= 60
    named = [sum(p in a for p in points) for a in answers]
    assert {0, 1, 2} <= set(named)


def test_learner_reads_cycle_tokens_and_send_no_body():
    for name in ("review queue", "my stats", "my attempts"):
        ep = by_name()[name]
        lines = [line.split("\t") for line in ep.lines()]
        assert [line[2] for line in lines] == LEARNERS["tokens"]
        assert all(line[1] == "" for line in lines) and ep.method == "GET"


def test_the_floor_row_asks_one_cached_question_from_an_allowed_origin():
    ep = by_name()["through Flask"]
    assert len(ep.paths) == 1 and ep.paths[0].startswith("/api/v1/questions/")
    # The cache middleware hands requests with an Origin to Flask; the app must allow it,
    # or the answer would lack its CORS headers and measure less than a browser's request.
    assert ep.headers["Origin"] == ep.env["CORS_ORIGINS"] == endpoints.FLOOR_ORIGIN
    assert ep.status == 200 and ep.method == "GET"
