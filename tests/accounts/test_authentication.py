"""Every way a token can fail is a 401 problem with a challenge; a role change takes effect
on the next request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from api.accounts.models import User
from api.extensions import db
from tests.support.accounts import register
from tests.support.apps import temporary_app
from tests.support.tokens import b64, bearer, claims, forge, valid_payload

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
    assert body["type"] == f"/problems/{EXPECTED_TYPE.get(case, 'invalid-token')}"
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
