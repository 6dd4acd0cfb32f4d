"""Every failure is RFC 9457 problem+json, also with TESTING and DEBUG off."""

from __future__ import annotations

import pytest

from api import create_app
from api.config import TestConfig


def test_prod_app_really_has_testing_and_debug_off(prod_app):
    assert prod_app.testing is False
    assert prod_app.debug is False


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nope", "/api/v2/questions", "/api/v1/questions/abc"]
)
def test_unknown_route_is_404(prod_client, path, assert_problem):
    body = assert_problem(prod_client.get(path), 404)
    assert body["instance"] == path


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/questions/1"),
        ("put", "/api/v1/questions"),
        ("delete", "/api/v1/tags"),
        ("patch", "/healthz"),
    ],
)
def test_wrong_method_is_405_with_allow(prod_client, method, path, assert_problem):
    response = getattr(prod_client, method)(path)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_bad_query_parameter_is_400_with_field_errors(prod_client, assert_problem):
    body = assert_problem(prod_client.get("/api/v1/questions?per_page=-1&difficulty=x"), 400)
    assert set(body["errors"]) == {"per_page", "difficulty"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_unknown_objects_are_404(prod_client, assert_problem):
    assert_problem(prod_client.get("/api/v1/questions/424242"), 404)
    assert_problem(prod_client.get("/api/v1/topics/no-such-topic"), 404)


def test_head_and_options_work(prod_client):
    head = prod_client.head("/api/v1/questions/1")
    assert head.status_code == 200 and head.data == b""
    options = prod_client.options("/api/v1/questions")
    assert options.status_code == 200
    assert "GET" in options.headers["Allow"]


def test_every_response_says_nosniff(prod_client):
    for path in ("/api/v1/questions", "/nope"):
        assert prod_client.get(path).headers["X-Content-Type-Options"] == "nosniff"


def test_unexpected_error_is_500_without_internals(seeded_url, assert_problem):
    app = create_app(TestConfig(seeded_url, TESTING=False, DEBUG=False))

    @app.route("/boom")
    def boom():  # a test-only route: the real app has no way to crash on purpose
        raise RuntimeError("secret internal detail /work/main/api")

    response = app.test_client().get("/boom")
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and "/work" not in text
    assert body["detail"] == "The server failed to handle this request."


def test_oversized_body_is_413(seeded_url, assert_problem):
    app = create_app(TestConfig(seeded_url, TESTING=False, MAX_CONTENT_LENGTH=10))

    @app.route("/echo", methods=["POST"])
    def echo():  # test-only: no write routes exist yet to carry a body
        from flask import request

        return {"size": len(request.get_data())}

    response = app.test_client().post("/echo", data=b"x" * 100)
    assert_problem(response, 413)


def test_every_invalid_query_parameter_is_named_with_its_value(client, assert_problem):
    """One request, every mistake: each parameter named, each refused value quoted (JSON,
    cut at 40 characters), so a caller fixes them all in one go."""
    response = client.get(
        "/api/v1/questions?difficulty=easy,impossible&per_page=1000&sort=zz&foo=1&type=" + "x" * 100
    )
    errors = assert_problem(response, 400, "invalid-query")["errors"]
    assert set(errors) == {"difficulty", "per_page", "sort", "foo", "type"}
    assert errors["difficulty"] == ['"impossible": Must be one of: easy, medium, hard.']
    assert errors["per_page"] == ['"1000": Must be at most 100.']
    assert errors["sort"][0].startswith('"zz": Must be one of:')
    assert errors["foo"] == ["Unknown field."]
    assert errors["type"][0].startswith('"' + "x" * 39 + '\u2026": ')
