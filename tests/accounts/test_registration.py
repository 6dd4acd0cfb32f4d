"""Registering and logging in: normalised emails, refused bodies, argon2id hashes, one
session per login."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from sqlalchemy import func, select

from api import create_app
from api.accounts.models import User
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import (
    DEFAULT_PASSWORD,
    USER_FIELDS,
    login_headers,
    make_user,
    new_email,
    register,
)
from tests.support.tokens import assert_no_secrets, claims

# --------------------------------------------------------------------------- register


def test_register_returns_user_and_tokens(client):
    address = new_email()
    response = register(client, f"  {address.upper()} ", display_name="Ann")
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"] == "/api/v1/me"
    assert int(response.headers["X-RateLimit-Remaining"]) >= 0
    body = response.get_json()
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == address  # stripped and lowercased
    assert body["user"]["role"] == "learner"
    assert body["user"]["display_name"] == "Ann" and body["user"]["timezone"] == "UTC"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    access, refresh = claims(body["access_token"]), claims(body["refresh_token"])
    assert access["sub"] == refresh["sub"] == str(body["user"]["id"])
    assert access["sid"] == refresh["sid"]
    assert access["role"] == "learner"
    assert (access["type"], refresh["type"]) == ("access", "refresh")
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    assert pyjwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    assert_no_secrets(response)


def test_register_normalises_email_with_nfkc(client):
    # Fullwidth letters fold to ASCII under NFKC: one account per address however typed.
    response = register(client, "ＮＦＫＣ-" + new_email())
    assert response.status_code == 201
    assert response.get_json()["user"]["email"].startswith("nfkc-")


def test_register_taken_email_is_409(client, assert_problem):
    address = new_email()
    assert register(client, address).status_code == 201
    body = assert_problem(register(client, address.upper()), 409)
    assert "already exists" in body["detail"]


@pytest.mark.parametrize(
    "payload, fields",
    [
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, {"email"}),
        ({"email": "a@example.com", "password": "short"}, {"password"}),
        ({"email": "a@example.com", "password": "x" * 257}, {"password"}),
        ({"password": DEFAULT_PASSWORD}, {"email"}),
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "display_name": "x" * 81},
            {"display_name"},
        ),
        (
            {"email": "a@example.com", "password": DEFAULT_PASSWORD, "display_name": "a\x00b"},
            {"display_name"},
        ),
        ({"email": "a@example.com", "password": DEFAULT_PASSWORD, "role": "admin"}, {"role"}),
        ({"email": "a@example.com", "password": DEFAULT_PASSWORD, "id": 1}, {"id"}),
        ({"email": 5, "password": ["x"]}, {"email", "password"}),
    ],
)
def test_register_invalid_body_is_422_per_field(client, payload, fields, assert_problem):
    body = assert_problem(client.post("/api/v1/auth/register", json=payload), 422)
    assert set(body["errors"]) == fields
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_register_role_in_body_creates_nothing(client, test_app, assert_problem):
    address = new_email()
    response = register(client, address, role="admin")
    assert_problem(response, 422)
    with test_app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.email == address)) == 0


def test_register_body_must_be_a_json_object(client, assert_problem):
    assert_problem(client.post("/api/v1/auth/register", json=[1, 2]), 422)
    response = client.post("/api/v1/auth/register", data="{nope", content_type="application/json")
    assert_problem(response, 400)
    response = client.post("/api/v1/auth/register", data="email=a", content_type="text/plain")
    assert_problem(response, 415)


@pytest.mark.parametrize(
    "path, raw, field",
    [
        (
            "/api/v1/auth/register",
            r'{"email": "s@example.com", "password": "\ud800abcdefghijkl"}',
            "password",
        ),
        (
            "/api/v1/auth/register",
            r'{"email": "s@example.com", "password": "correct horse battery staple", '
            r'"display_name": "\udc00"}',
            "display_name",
        ),
        (
            "/api/v1/auth/login",
            r'{"email": "\ud800@example.com", "password": "correct horse battery staple"}',
            "email",
        ),
        ("/api/v1/auth/login", r'{"email": "s@example.com", "password": "\ud800"}', "password"),
    ],
)
def test_lone_surrogates_are_422_not_500(any_app, path, raw, field, assert_problem):
    response = any_app.test_client().post(path, data=raw, content_type="application/json")
    body = assert_problem(response, 422)
    assert list(body["errors"]) == [field]


def test_password_is_stored_as_argon2id_hash(client, test_app):
    address = new_email()
    register(client, address)
    with test_app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.email == address))
    assert stored.startswith("$argon2id$") and DEFAULT_PASSWORD not in stored


# --------------------------------------------------------------------------- login


def test_login_returns_tokens(client):
    address = new_email()
    register(client, address)
    response = client.post(
        "/api/v1/auth/login", json={"email": address.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["user"]["email"] == address
    assert claims(body["access_token"])["sid"] == claims(body["refresh_token"])["sid"]
    assert_no_secrets(response)


def test_each_login_is_a_new_session(client):
    address = new_email()
    first = register(client, address).get_json()
    second = client.post(
        "/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD}
    ).get_json()
    assert claims(first["access_token"])["sid"] != claims(second["access_token"])["sid"]


def test_wrong_password_and_unknown_email_look_the_same(client, assert_problem):
    address = new_email()
    register(client, address)
    wrong = client.post("/api/v1/auth/login", json={"email": address, "password": "x" * 12})
    unknown = client.post("/api/v1/auth/login", json={"email": new_email(), "password": "x" * 12})
    bodies = [assert_problem(r, 401) for r in (wrong, unknown)]
    for response in (wrong, unknown):
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="qbank"'
    assert {k: v for k, v in bodies[0].items()} == {k: v for k, v in bodies[1].items()}
    assert bodies[0]["detail"] == "The email or password is incorrect."


def test_login_missing_fields_is_422(client, assert_problem):
    body = assert_problem(client.post("/api/v1/auth/login", json={}), 422)
    assert set(body["errors"]) == {"email", "password"}


def test_login_rehashes_when_parameters_change(auth_url, test_app):
    address = make_user(test_app)
    with test_app.app_context():
        before = db.session.scalar(select(User.password_hash).where(User.email == address))
    # Not build_app: that would drop the tables. Another app on the same database.
    params = {"time_cost": 2, "memory_cost": 2048, "parallelism": 1}
    app = create_app(TestConfig(auth_url, PASSWORD_HASH_PARAMS=params))
    login_headers(app, address)
    with app.app_context():
        after = db.session.scalar(select(User.password_hash).where(User.email == address))
        db.session.remove()  # give the connection back before the pool goes
        db.engine.dispose()
    assert before.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert after.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    login_headers(test_app, address)  # the new hash still verifies under the old settings


# --------------------------------------------------------------------------- look-alike emails


@pytest.mark.parametrize(
    "hidden",
    ["\u200b", "\u2060", "\u00ad", "\ufeff", "\u200d", "\u180e", "\u034f", "\u3164", "\x7f"],
    ids=lambda ch: f"U+{ord(ch):04X}",
)
def test_an_invisible_twin_of_an_email_is_refused(client, test_app, hidden, assert_problem):
    """Format and control characters survive NFKC: kept, they would make a second account
    that looks exactly like the first. Register refuses them; login does not know them."""
    address = new_email("twin")
    assert register(client, address).status_code == 201
    twin = address[:3] + hidden + address[3:]
    body = assert_problem(register(client, twin), 422, "validation-error")
    assert "Invisible characters" in body["errors"]["email"][0]
    login = client.post("/api/v1/auth/login", json={"email": twin, "password": DEFAULT_PASSWORD})
    assert_problem(login, 401, "unauthorized")
    with test_app.app_context():
        stored = db.session.scalars(select(User.email).where(User.email.like("twin-%"))).all()
    assert twin not in stored and stored.count(address) == 1


@pytest.mark.parametrize(
    "email",
    ["\x00ab@example.com", "ab\x1f@example.com", "a\u200bb@example.com", "ab@exa\u00admple.com"],
    ids=["NUL", "U+001F", "U+200B", "U+00AD"],
)
def test_login_with_an_address_no_account_can_have_is_a_plain_401(any_app, email, assert_problem):
    """Not a 422 that tells the address apart: unknown, as any other unknown email."""
    response = any_app.test_client().post(
        "/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "The email or password is incorrect."


# --------------------------------------------------------------------------- password strength


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # a common password
        "aaaaaaaaaaaaaaaa",  # a repeat
        "            ",  # whitespace only
        "\t \u3000 \t \u3000 \t \u3000 \t ",
        "qwertyuiopasdfgh",  # a keyboard walk
        "{email}",  # the account's own address
    ],
)
def test_weak_passwords_are_refused_with_advice(client, test_app, password, assert_problem):
    address = new_email("weak")
    response = register(client, address, password=password.format(email=address))
    body = assert_problem(response, 422, "weak-password")
    assert body["title"] == "Weak password"
    assert body["errors"]["password"] == [body["detail"]]
    # why, and what to do instead (zxcvbn's feedback)
    assert "whitespace" in body["detail"] or "too easy to guess" in body["detail"]
    assert any(word in body["detail"] for word in ("Add", "Use", "Avoid"))
    with test_app.app_context():
        assert db.session.scalar(select(User.id).where(User.email == address)) is None


def test_only_the_first_72_characters_are_estimated(client, assert_problem):
    weak_start = "a" * 72 + "Zq8#vL2!pX9@kR4$"
    assert_problem(register(client, password=weak_start), 422, "weak-password")
    assert register(client, password=DEFAULT_PASSWORD + "a" * 200).status_code == 201


def test_the_minimum_strength_is_configurable(auth_url, assert_problem):
    fair = "wrong password!"  # zxcvbn scores it 3 of 4
    strict = create_app(TestConfig(auth_url, PASSWORD_MIN_STRENGTH=4)).test_client()
    body = assert_problem(register(strict, password=fair), 422, "weak-password")
    assert "at least 4 needed" in body["detail"]
    default = create_app(TestConfig(auth_url)).test_client()
    assert register(default, password=fair).status_code == 201


def test_the_minimum_strength_comes_from_the_environment(monkeypatch):
    from api.config import Config

    monkeypatch.setenv("JWT_SECRET_KEY", "a-secret-that-is-long-enough-for-hs256-tokens")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    assert Config().PASSWORD_MIN_STRENGTH == 3
    monkeypatch.setenv("PASSWORD_MIN_STRENGTH", "4")
    assert Config().PASSWORD_MIN_STRENGTH == 4
    monkeypatch.setenv("PASSWORD_MIN_STRENGTH", "5")
    with pytest.raises(RuntimeError, match="0 to 4"):
        Config()
