"""Register, log in, refresh, log out, /me; every way a token can fail; revocation stores."""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import delete, func, select

from api import create_app
from api.accounts.models import RevokedSession, User
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import (
    DEFAULT_PASSWORD,
    login_headers,
    make_user,
    new_email,
    register,
)
from tests.support.apps import build_app, temporary_app

SECRET = TestConfig().JWT_SECRET_KEY
USER_FIELDS = {"id", "email", "role", "display_name", "timezone", "created_at", "updated_at"}


@pytest.fixture(scope="module")
def auth_url(backend, database_factory) -> str:
    return database_factory(backend, "qbank_auth")


@pytest.fixture(scope="module")
def test_app(auth_url):
    app = build_app(auth_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_prod_app(auth_url, test_app):
    """TESTING and DEBUG off, on the same database as test_app."""
    app = create_app(TestConfig(auth_url, TESTING=False, DEBUG=False))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(params=["testing", "production"])
def any_app(request, test_app, live_prod_app):
    return test_app if request.param == "testing" else live_prod_app


@pytest.fixture()
def client(test_app):
    return test_app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_secrets(response) -> None:
    text = response.get_data(as_text=True)
    assert "password" not in text and "$argon2" not in text


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def forge(payload: dict, *, key: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # HS512 would like a longer key; it is refused anyway
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return pyjwt.encode(payload, key, algorithm=algorithm)


def valid_payload(sub: str = "1", **overrides) -> dict:
    now = datetime.now(UTC)
    payload = {
        "sub": sub,
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "role": "learner",
        "sid": uuid.uuid4().hex,
    }
    payload.update(overrides)
    return payload


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


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
            r'{"email": "s@example.com", "password": "abcdefghijklm", "display_name": "\udc00"}',
            "display_name",
        ),
        (
            "/api/v1/auth/login",
            r'{"email": "\ud800@example.com", "password": "abcdefghijklm"}',
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
    assert assert_problem(wrong, 422)["errors"] == {"current_password": ["Incorrect password."]}
    right = client.patch(
        "/api/v1/me", headers=headers, json={"password": new, "current_password": DEFAULT_PASSWORD}
    )
    assert right.status_code == 200
    assert_no_secrets(right)
    old = client.post("/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD})
    assert_problem(old, 401)
    fresh = client.post("/api/v1/auth/login", json={"email": address, "password": new})
    assert fresh.status_code == 200


# --------------------------------------------------------------------------- refresh and logout


def test_refresh_gives_a_new_access_token_in_the_same_session(client):
    tokens = register(client).get_json()
    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    new = claims(body["access_token"])
    assert new["type"] == "access"
    assert new["sid"] == claims(tokens["refresh_token"])["sid"]
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_logout_with_either_token_kills_both(client, kind, assert_problem):
    tokens = register(client).get_json()
    refreshed = client.post(
        "/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])
    ).get_json()["access_token"]
    response = client.post("/api/v1/auth/logout", headers=bearer(tokens[kind]))
    assert response.status_code == 204
    assert response.data == b""
    for token in (tokens["access_token"], refreshed):
        body = assert_problem(client.get("/api/v1/me", headers=bearer(token)), 401)
        assert body["type"] == "urn:qbank:problem:token-revoked"
    refresh = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert assert_problem(refresh, 401)["type"] == "urn:qbank:problem:token-revoked"


def test_logout_leaves_other_sessions_alone(client):
    address = new_email()
    first = register(client, address).get_json()
    second = client.post(
        "/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD}
    ).get_json()
    logout = client.post("/api/v1/auth/logout", headers=bearer(first["access_token"]))
    assert logout.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200


def test_logout_with_the_database_store_writes_a_row(client, test_app):
    tokens = register(client).get_json()
    sid = claims(tokens["access_token"])["sid"]
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    with test_app.app_context():
        row = db.session.get(RevokedSession, sid)
        assert row is not None
        assert row.user_id == tokens["user"]["id"]
        lifetime = row.expires_at - row.revoked_at
        assert timedelta(days=29) < lifetime <= timedelta(days=30, minutes=1)


# --------------------------------------------------------------------------- every 401


def _token_cases(app) -> dict[str, tuple[str, str, dict]]:
    """name -> (method, path, headers) for every way authentication can fail."""
    client = app.test_client()
    tokens = register(client).get_json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    user_sub = str(tokens["user"]["id"])
    revoked = register(client).get_json()
    client.post("/api/v1/auth/logout", headers=bearer(revoked["access_token"]))
    now = datetime.now(UTC)
    expired = forge(
        valid_payload(
            user_sub,
            iat=now - timedelta(hours=1),
            nbf=now - timedelta(hours=1),
            exp=now - timedelta(minutes=1),
        )
    )
    alg_none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(access))}."
    return {
        "missing header": ("get", "/api/v1/me", {}),
        "other scheme": ("get", "/api/v1/me", {"Authorization": "Basic dXNlcjpwYXNz"}),
        "bearer without token": ("get", "/api/v1/me", {"Authorization": "Bearer"}),
        "two-part header": ("get", "/api/v1/me", {"Authorization": f"Bearer {access} extra"}),
        "malformed token": ("get", "/api/v1/me", bearer("not-a-jwt")),
        "garbage segments": ("get", "/api/v1/me", bearer("abc.def.ghi")),
        "bad signature": ("get", "/api/v1/me", bearer(forge(claims(access), key="x" * 48))),
        "alg none": ("get", "/api/v1/me", bearer(alg_none)),
        "alg HS512": ("get", "/api/v1/me", bearer(forge(claims(access), algorithm="HS512"))),
        "expired": ("get", "/api/v1/me", bearer(expired)),
        "revoked": ("get", "/api/v1/me", bearer(revoked["access_token"])),
        "revoked refresh": ("post", "/api/v1/auth/refresh", bearer(revoked["refresh_token"])),
        "refresh as access": ("get", "/api/v1/me", bearer(refresh)),
        "access as refresh": ("post", "/api/v1/auth/refresh", bearer(access)),
        "unknown user": ("get", "/api/v1/me", bearer(forge(valid_payload("987654")))),
        "non-numeric subject": ("get", "/api/v1/me", bearer(forge(valid_payload("abc")))),
        "no session id": ("get", "/api/v1/me", bearer(forge(valid_payload(user_sub, sid=None)))),
        "admin route": ("get", "/api/v1/users", bearer(expired)),
        "logout": ("post", "/api/v1/auth/logout", bearer(expired)),
    }


TOKEN_CASES = [
    "missing header",
    "other scheme",
    "bearer without token",
    "two-part header",
    "malformed token",
    "garbage segments",
    "bad signature",
    "alg none",
    "alg HS512",
    "expired",
    "revoked",
    "revoked refresh",
    "refresh as access",
    "access as refresh",
    "unknown user",
    "non-numeric subject",
    "no session id",
    "admin route",
    "logout",
]
NO_TOKEN = {"missing header", "other scheme"}
EXPECTED_TYPE = {
    "missing header": "authentication-required",
    "other scheme": "authentication-required",
    "expired": "token-expired",
    "admin route": "token-expired",
    "logout": "token-expired",
    "revoked": "token-revoked",
    "revoked refresh": "token-revoked",
}


@pytest.fixture(scope="module")
def token_cases(test_app):
    return _token_cases(test_app)


@pytest.mark.parametrize("case", TOKEN_CASES)
def test_every_auth_failure_is_401_problem_with_challenge(
    any_app, token_cases, case, assert_problem
):
    method, path, headers = token_cases[case]
    response = getattr(any_app.test_client(), method)(path, headers=headers)
    body = assert_problem(response, 401)
    assert body["type"] == f"urn:qbank:problem:{EXPECTED_TYPE.get(case, 'invalid-token')}"
    assert body["detail"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="qbank"')
    if case in NO_TOKEN:
        assert "error=" not in challenge
    else:
        assert 'error="invalid_token"' in challenge
        assert 'error_description="' in challenge


def test_deleted_users_token_is_401(any_app, assert_problem):
    client = any_app.test_client()
    tokens = register(client).get_json()
    with any_app.app_context():
        db.session.execute(delete(User).where(User.id == tokens["user"]["id"]))
        db.session.commit()
    body = assert_problem(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
    assert body["detail"] == "The token's account no longer exists."
    assert (
        'error="invalid_token"'
        in client.get("/api/v1/me", headers=bearer(tokens["access_token"])).headers[
            "WWW-Authenticate"
        ]
    )


def test_a_token_is_verified_once_and_its_expiry_on_every_use(
    auth_url, monkeypatch, assert_problem
):
    """The write limit's key (before the view) and the view's verification both need the
    claims, and a client sends the same token with every request: its signature is checked
    once. Its expiry is not remembered: a token that was verified and then expired is
    refused. (Counted at Flask-JWT-Extended's verifying decode.)"""
    import flask_jwt_extended.jwt_manager as manager

    verified = []
    decode = manager._decode_jwt
    monkeypatch.setattr(manager, "_decode_jwt", lambda **kw: verified.append(1) or decode(**kw))
    lifetime = timedelta(seconds=2)
    with temporary_app(auth_url, JWT_ACCESS_TOKEN_EXPIRES=lifetime) as app:
        client = app.test_client()
        headers = bearer(register(client).get_json()["access_token"])
        verified.clear()
        response = client.patch("/api/v1/me", json={"display_name": "Once"}, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["display_name"] == "Once"
        assert len(verified) == 1
        for _ in range(3):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert len(verified) == 1
        time.sleep(lifetime.total_seconds() + 0.5)  # bounded: the token's own lifetime
        expired = client.get("/api/v1/me", headers=headers)
        assert_problem(expired, 401)
        assert "expired" in expired.headers["WWW-Authenticate"]


# --------------------------------------------------------------------------- roles


def test_demotion_takes_effect_on_the_next_request(test_app, auth_headers, assert_problem):
    client = test_app.test_client()
    admin = auth_headers("admin", app=test_app)
    other_admin = auth_headers("admin", app=test_app)
    assert client.get("/api/v1/users", headers=other_admin).status_code == 200
    other_id = client.get("/api/v1/me", headers=other_admin).get_json()["id"]
    demoted = client.patch(f"/api/v1/users/{other_id}", headers=admin, json={"role": "editor"})
    assert demoted.status_code == 200
    # The same, unexpired token: its role claim still says admin, the database does not.
    body = assert_problem(client.get("/api/v1/users", headers=other_admin), 403)
    assert body["detail"] == "This needs the admin role."
    assert client.get("/api/v1/me", headers=other_admin).get_json()["role"] == "editor"


def test_promotion_takes_effect_on_the_next_request(test_app, auth_headers, assert_problem):
    client = test_app.test_client()
    admin = auth_headers("admin", app=test_app)
    learner = auth_headers("learner", app=test_app)
    assert_problem(client.get("/api/v1/users", headers=learner), 403)
    learner_id = client.get("/api/v1/me", headers=learner).get_json()["id"]
    client.patch(f"/api/v1/users/{learner_id}", headers=admin, json={"role": "admin"})
    assert client.get("/api/v1/users", headers=learner).status_code == 200


# --------------------------------------------------------------------------- Redis revocation


@pytest.fixture(scope="module")
def redis_app(auth_url, test_app, redis):
    app = create_app(TestConfig(auth_url, REDIS_URL=redis.url))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_logout_with_redis_revokes_through_redis(redis_app, redis, assert_problem):
    import redis as redis_client

    client = redis_app.test_client()
    tokens = register(client).get_json()
    sid = claims(tokens["access_token"])["sid"]
    logout = client.post("/api/v1/auth/logout", headers=bearer(tokens["refresh_token"]))
    assert logout.status_code == 204
    store = redis_client.Redis.from_url(redis.url)
    try:
        key = f"qbank:revoked:{sid}"
        assert store.get(key) == str(tokens["user"]["id"]).encode()
        assert 29 * 24 * 3600 < store.ttl(key) <= 30 * 24 * 3600 + 1
    finally:
        store.close()
    with redis_app.app_context():
        assert db.session.get(RevokedSession, sid) is None  # not in the database store
    for method, path, token in (
        ("get", "/api/v1/me", tokens["access_token"]),
        ("post", "/api/v1/auth/refresh", tokens["refresh_token"]),
    ):
        response = getattr(client, method)(path, headers=bearer(token))
        assert assert_problem(response, 401)["type"] == "urn:qbank:problem:token-revoked"


def test_redis_down_fails_closed_with_503(redis_app, redis, assert_problem):
    client = redis_app.test_client()
    tokens = register(client).get_json()
    headers = bearer(tokens["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    redis.stop()
    try:
        response = client.get("/api/v1/me", headers=headers)
        body = assert_problem(response, 503)
        assert body["type"] == "urn:qbank:problem:revocation-store-unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert_problem(client.post("/api/v1/auth/logout", headers=headers), 503)
    finally:
        redis.start()
    assert client.get("/api/v1/me", headers=headers).status_code == 200


# --------------------------------------------------------------------------- CORS


PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "Authorization, Content-Type, If-Match, Idempotency-Key",
}


@pytest.mark.parametrize(
    "origins, credentials",
    [(["https://app.example"], "true"), (["*"], None)],
)
def test_cors_preflight_allows_our_headers(auth_url, test_app, origins, credentials):
    app = create_app(TestConfig(auth_url, CORS_ORIGINS=origins))
    response = app.test_client().options("/api/v1/me", headers=PREFLIGHT)
    assert response.status_code == 200
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"  # never "*"
    assert headers.get("Access-Control-Allow-Credentials") == credentials
    assert headers["Access-Control-Max-Age"] == "600"
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= allowed
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {
        "ETag",
        "Link",
        "X-Total-Count",
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }
    with app.app_context():
        db.engine.dispose()


def test_cors_is_off_without_origins(client):
    response = client.options("/api/v1/me", headers=PREFLIGHT)
    assert response.status_code == 200
    assert not any(h.startswith("Access-Control-") for h in response.headers.keys())
