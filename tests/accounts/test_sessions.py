"""Sessions: refresh rotates both tokens in the same session (a spent refresh token shown
again revokes the session), logout with either token kills both, and the revocation
stores (the database, Redis; with Redis down, revocation fails closed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api import create_app
from api.accounts.models import RevokedSession, SpentRefreshToken
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import DEFAULT_PASSWORD, new_email, register
from tests.support.tokens import bearer, claims

# --------------------------------------------------------------------------- refresh and logout


def test_refresh_rotates_both_tokens_in_the_same_session(client):
    tokens = register(client).get_json()
    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    old = claims(tokens["refresh_token"])
    access, refresh = claims(body["access_token"]), claims(body["refresh_token"])
    assert (access["type"], refresh["type"]) == ("access", "refresh")
    assert access["sid"] == refresh["sid"] == old["sid"]
    assert refresh["jti"] != old["jti"]
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200
    # the new refresh token rotates in turn
    again = client.post("/api/v1/auth/refresh", headers=bearer(body["refresh_token"]))
    assert again.status_code == 200
    assert claims(again.get_json()["refresh_token"])["sid"] == old["sid"]


def _refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", headers=bearer(token))


def test_a_spent_refresh_token_again_revokes_the_whole_session(client, assert_problem):
    """Reuse means a copy of the token is in other hands: every token descending from the
    login goes, the newest ones included; other sessions of the account stay."""
    address = new_email()
    first = register(client, address).get_json()
    other = client.post(
        "/api/v1/auth/login", json={"email": address, "password": DEFAULT_PASSWORD}
    ).get_json()
    chain = [first]
    for _ in range(3):
        chain.append(_refresh(client, chain[-1]["refresh_token"]).get_json())
    reused = _refresh(client, first["refresh_token"])
    body = assert_problem(reused, 401, "refresh-token-reused")
    assert body["title"] == "Refresh token reused" and "log in again" in body["detail"].lower()
    assert reused.headers["WWW-Authenticate"].startswith('Bearer realm="qbank"')
    assert 'error="invalid_token"' in reused.headers["WWW-Authenticate"]
    for tokens in chain:
        assert_problem(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
        assert_problem(_refresh(client, tokens["refresh_token"]), 401, "token-revoked")
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 200
    assert _refresh(client, other["refresh_token"]).status_code == 200


def test_the_spent_token_is_remembered_until_it_expires(client, test_app):
    tokens = register(client).get_json()
    old = claims(tokens["refresh_token"])
    assert _refresh(client, tokens["refresh_token"]).status_code == 200
    with test_app.app_context():
        row = db.session.get(SpentRefreshToken, old["jti"])
        assert row is not None
        assert (row.sid, row.user_id) == (old["sid"], tokens["user"]["id"])
        assert row.expires_at == datetime.fromtimestamp(old["exp"], UTC)


def test_deleting_the_account_drops_its_spent_tokens(client, test_app):
    tokens = register(client).get_json()
    jti = claims(tokens["refresh_token"])["jti"]
    fresh = _refresh(client, tokens["refresh_token"]).get_json()
    deleted = client.delete(
        "/api/v1/me",
        headers=bearer(fresh["access_token"]),
        json={"current_password": DEFAULT_PASSWORD},
    )
    assert deleted.status_code == 204
    with test_app.app_context():
        assert db.session.get(SpentRefreshToken, jti) is None


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
        assert body["type"] == "/problems/token-revoked"
    refresh = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert assert_problem(refresh, 401)["type"] == "/problems/token-revoked"


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
        assert assert_problem(response, 401)["type"] == "/problems/token-revoked"


def test_reuse_with_redis_revokes_through_redis(redis_app, redis, assert_problem):
    client = redis_app.test_client()
    tokens = register(client).get_json()
    fresh = _refresh(client, tokens["refresh_token"]).get_json()
    assert_problem(_refresh(client, tokens["refresh_token"]), 401, "refresh-token-reused")
    assert_problem(_refresh(client, fresh["refresh_token"]), 401, "token-revoked")
    assert_problem(client.get("/api/v1/me", headers=bearer(fresh["access_token"])), 401)


def test_redis_down_fails_closed_with_503(redis_app, redis, assert_problem):
    client = redis_app.test_client()
    tokens = register(client).get_json()
    headers = bearer(tokens["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    redis.stop()
    try:
        response = client.get("/api/v1/me", headers=headers)
        body = assert_problem(response, 503)
        assert body["type"] == "/problems/revocation-store-unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert_problem(client.post("/api/v1/auth/logout", headers=headers), 503)
    finally:
        redis.start()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
