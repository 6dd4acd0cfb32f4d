"""Accounts for tests: made through the accounts service, or registered over HTTP."""

from __future__ import annotations

import uuid

DEFAULT_PASSWORD = "correct horse battery staple"
REGISTER = "/api/v1/auth/register"
USER_FIELDS = {
    "id",
    "email",
    "role",
    "display_name",
    "timezone",
    "active",
    "created_at",
    "updated_at",
}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def make_user(app, role: str = "learner", *, email: str | None = None) -> str:
    """An account of `role` through the accounts service (registration only makes learners)."""
    from api.accounts.users import create_user

    email = email or new_email(role)
    with app.app_context():
        create_user(email=email, password=DEFAULT_PASSWORD, role=role)
    return email


def login_headers(app, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    response = app.test_client().post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def register(client, email: str | None = None, *, remote_addr: str | None = None, **extra):
    """POST /auth/register (a new learner); the response, unchecked.

    `client` is a Flask test client, or `tests.support.live.Client` for a real server (its
    answer is a `Reply`). `extra` adds to the body or overrides it (`password=...`);
    `remote_addr` is the address a test client's request comes from (rate limits).
    """
    body = {"email": email or new_email(), "password": DEFAULT_PASSWORD, **extra}
    kwargs = {"environ_base": {"REMOTE_ADDR": remote_addr}} if remote_addr else {}
    return client.post(REGISTER, json=body, **kwargs)
