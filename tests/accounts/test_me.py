"""/me: reading and changing one's own profile; a new password needs the current one."""

from __future__ import annotations

import pytest

from tests.support.accounts import DEFAULT_PASSWORD, USER_FIELDS, new_email, register
from tests.support.tokens import assert_no_secrets, bearer

# --------------------------------------------------------------------------- me


def test_me_reads_the_signed_in_user(client):
    tokens = register(client, display_name="Me").get_json()
    response = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.get_json() == tokens["user"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["ETag"]
    assert_no_secrets(response)


def test_me_patch_changes_profile(client):
    tokens = register(client).get_json()
    response = client.patch(
        "/api/v1/me",
        headers=bearer(tokens["access_token"]),
        json={"display_name": "New Name", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["display_name"] == "New Name" and body["timezone"] == "Europe/Paris"
    assert set(body) == USER_FIELDS
    again = client.get("/api/v1/me", headers=bearer(tokens["access_token"])).get_json()
    assert again["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    "payload, fields",
    [
        ({"timezone": "Mars/Olympus"}, {"timezone"}),
        ({"timezone": "../../etc/passwd"}, {"timezone"}),
        ({"display_name": "x" * 81}, {"display_name"}),
        ({"password": "a brand new password"}, {"current_password"}),
        ({"current_password": DEFAULT_PASSWORD}, {"password"}),
        ({"password": "short", "current_password": DEFAULT_PASSWORD}, {"password"}),
        ({"role": "admin"}, {"role"}),
        ({"email": "other@example.com"}, {"email"}),
    ],
)
def test_me_patch_invalid_is_422(client, payload, fields, assert_problem):
    tokens = register(client).get_json()
    response = client.patch("/api/v1/me", headers=bearer(tokens["access_token"]), json=payload)
    body = assert_problem(response, 422)
    assert set(body["errors"]) == fields
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"])).get_json()
    assert me == tokens["user"]  # nothing changed


def test_me_patch_password_needs_the_current_one(client, assert_problem):
    address = new_email()
    tokens = register(client, address).get_json()
    headers = bearer(tokens["access_token"])
    new = "a brand new password"
    wrong = client.patch(
        "/api/v1/me", headers=headers, json={"password": new, "current_password": "x" * 12}
    )
    assert assert_problem(wrong, 403)["errors"] == {"current_password": ["Incorrect password."]}
    other = client.post(  # a second session of the same account, elsewhere
        "/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD}
    ).get_json()
    right = client.patch(
        "/api/v1/me", headers=headers, json={"password": new, "current_password": DEFAULT_PASSWORD}
    )
    assert right.status_code == 200
    assert right.headers["Cache-Control"] == "no-store"
    assert_no_secrets(right)
    fresh = right.get_json()
    assert fresh["user"]["email"] == address and fresh["token_type"] == "Bearer"
    # every earlier session has ended, this one included; the new one works
    for token in (tokens["access_token"], other["access_token"]):
        assert_problem(client.get("/api/v1/me", headers=bearer(token)), 401)
    for token in (tokens["refresh_token"], other["refresh_token"]):
        assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(token)), 401)
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
    old = client.post("/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD})
    assert_problem(old, 401)
    fresh = client.post("/api/v1/auth/login", json={"email": address, "password": new})
    assert fresh.status_code == 200


def test_me_patch_refuses_a_weak_new_password(client, assert_problem):
    address = new_email()
    headers = bearer(register(client, address).get_json()["access_token"])
    for weak in ("password1234", " " * 12, address):
        response = client.patch(
            "/api/v1/me",
            headers=headers,
            json={"password": weak, "current_password": DEFAULT_PASSWORD},
        )
        assert assert_problem(response, 422, "weak-password")["errors"]["password"]
    # nothing changed: the session and the old password still work
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    login = client.post("/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
