"""JSON request logs: one line per request, request ids, and no secrets in any line."""

from __future__ import annotations

import json
import logging

import pytest

from api.platform.logs import JsonFormatter
from tests.support.accounts import DEFAULT_PASSWORD, make_user

SECRET_ANSWER = "my very particular answer about werkzeug routing"


@pytest.fixture()
def json_lines(caplog):
    caplog.set_level(logging.INFO)
    formatter = JsonFormatter()

    def lines() -> list[dict]:
        return [json.loads(formatter.format(record)) for record in caplog.records]

    return lines


def access(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "api.access"]


def test_one_json_line_per_request_with_request_id(client, json_lines):
    response = client.get(
        "/api/v1/questions?q=secret-search-words", headers={"X-Request-ID": "abc-123"}
    )
    assert response.headers["X-Request-ID"] == "abc-123"
    entries = access(json_lines())
    assert len(entries) == 1
    entry = entries[0]
    assert entry["request_id"] == "abc-123"
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/questions"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    assert entry["user_id"] is None
    assert "secret-search-words" not in json.dumps(entries)


@pytest.mark.parametrize("given", ["", "x" * 200, "bad id with spaces", "semi;colon"])
def test_unusable_request_ids_are_replaced(client, json_lines, given):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    generated = response.headers["X-Request-ID"]
    assert generated != given and len(generated) == 32
    assert access(json_lines())[0]["request_id"] == generated


def test_errors_are_logged_with_their_status(client, json_lines):
    client.get("/nope")
    assert access(json_lines())[0]["status"] == 404


def test_no_token_password_or_answer_text_in_any_line(app, client, json_lines):
    email = make_user(app, "learner")
    login = client.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    tokens = login.get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.post("/api/v1/questions/1/attempts", json={"answer": SECRET_ANSWER}, headers=headers)
    client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!!"})
    client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    text = "\n".join(json.dumps(line) for line in json_lines())
    for secret in (
        DEFAULT_PASSWORD,
        "wrong password!!",
        tokens["access_token"],
        tokens["refresh_token"],
        SECRET_ANSWER,
        "werkzeug routing",
    ):
        assert secret not in text
    attempt_line = next(e for e in access(json_lines()) if e["path"].endswith("/attempts"))
    assert attempt_line["user_id"] == str(tokens["user"]["id"])
    assert attempt_line["status"] == 201
