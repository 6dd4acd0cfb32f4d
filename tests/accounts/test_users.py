"""Admin routes over accounts (GET /users, PATCH /users/{id}) and the create-admin command."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from api import create_app
from api.accounts.models import User
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import DEFAULT_PASSWORD, USER_FIELDS, login_headers, make_user
from tests.support.apps import build_app


@pytest.fixture(scope="module")
def users_url(backend, database_factory) -> str:
    return database_factory(backend, "qbank_users")


@pytest.fixture()
def users_app(users_url):
    """A fresh, empty accounts table per test: these tests count users and admins."""
    app = build_app(users_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(params=["testing", "production"])
def any_app(request, users_app, users_url):
    if request.param == "testing":
        yield users_app
        return
    app = create_app(TestConfig(users_url, TESTING=False, DEBUG=False))
    yield app
    with app.app_context():
        db.engine.dispose()


def user_id(app, headers) -> int:
    return app.test_client().get("/api/v1/me", headers=headers).get_json()["id"]


# --------------------------------------------------------------------------- GET /users


def test_admin_lists_users_paged(users_app, auth_headers):
    admin = auth_headers("admin", app=users_app)
    for role in ("learner", "learner", "editor"):
        make_user(users_app, role)
    response = users_app.test_client().get("/api/v1/users?per_page=2", headers=admin)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["X-Total-Count"] == "4"
    assert 'rel="next"' in response.headers["Link"]
    assert response.headers["ETag"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    body = response.get_json()
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 4, "pages": 2}
    assert len(body["data"]) == 2
    assert all(set(u) == USER_FIELDS for u in body["data"])
    ids = [u["id"] for u in body["data"]]
    assert ids == sorted(ids)
    text = response.get_data(as_text=True)
    assert "password" not in text and "$argon2" not in text


def test_admin_filters_users_by_role(users_app, auth_headers):
    admin = auth_headers("admin", app=users_app)
    editor_email = make_user(users_app, "editor")
    make_user(users_app, "learner")
    response = users_app.test_client().get("/api/v1/users?role=editor", headers=admin)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    assert [u["email"] for u in response.get_json()["data"]] == [editor_email]


def test_bad_role_filter_is_400(users_app, auth_headers, assert_problem):
    admin = auth_headers("admin", app=users_app)
    response = users_app.test_client().get("/api/v1/users?role=owner", headers=admin)
    assert set(assert_problem(response, 400)["errors"]) == {"role"}


@pytest.mark.parametrize("role", ["learner", "editor"])
def test_non_admins_are_refused_403(any_app, auth_headers, role, assert_problem):
    headers = auth_headers(role, app=any_app)
    target = user_id(any_app, headers)
    client = any_app.test_client()
    for response in (
        client.get("/api/v1/users", headers=headers),
        client.patch(f"/api/v1/users/{target}", headers=headers, json={"role": "admin"}),
    ):
        body = assert_problem(response, 403)
        assert body["detail"] == "This needs the admin role."
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert client.get("/api/v1/me", headers=headers).get_json()["role"] == role


def test_anonymous_is_refused_401(any_app, assert_problem):
    client = any_app.test_client()
    for response in (
        client.get("/api/v1/users"),
        client.patch("/api/v1/users/1", json={"role": "admin"}),
    ):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="qbank"'


# --------------------------------------------------------------------------- PATCH /users/{id}


def test_admin_changes_a_role(users_app, auth_headers):
    admin = auth_headers("admin", app=users_app)
    learner = auth_headers("learner", app=users_app)
    target = user_id(users_app, learner)
    response = users_app.test_client().patch(
        f"/api/v1/users/{target}", headers=admin, json={"role": "editor"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == USER_FIELDS
    assert body["id"] == target and body["role"] == "editor"
    me = users_app.test_client().get("/api/v1/me", headers=learner).get_json()
    assert me["role"] == "editor"


@pytest.mark.parametrize(
    "payload, field",
    [({"role": "owner"}, "role"), ({}, "role"), ({"role": "editor", "email": "x@y.z"}, "email")],
)
def test_bad_role_change_is_422(users_app, auth_headers, payload, field, assert_problem):
    admin = auth_headers("admin", app=users_app)
    target = user_id(users_app, auth_headers("learner", app=users_app))
    response = users_app.test_client().patch(f"/api/v1/users/{target}", headers=admin, json=payload)
    assert field in assert_problem(response, 422)["errors"]


@pytest.mark.parametrize("target", ["424242", "99999999999"])
def test_unknown_user_is_404(users_app, auth_headers, target, assert_problem):
    admin = auth_headers("admin", app=users_app)
    response = users_app.test_client().patch(
        f"/api/v1/users/{target}", headers=admin, json={"role": "editor"}
    )
    assert_problem(response, 404)


def test_last_admin_cannot_be_demoted(users_app, auth_headers, assert_problem):
    admin = auth_headers("admin", app=users_app)
    me = user_id(users_app, admin)
    client = users_app.test_client()
    response = client.patch(f"/api/v1/users/{me}", headers=admin, json={"role": "learner"})
    body = assert_problem(response, 409)
    assert "last admin" in body["detail"]
    assert client.get("/api/v1/me", headers=admin).get_json()["role"] == "admin"
    # Keeping the role is no removal.
    same = client.patch(f"/api/v1/users/{me}", headers=admin, json={"role": "admin"})
    assert same.status_code == 200


def test_an_admin_can_step_down_when_another_remains(users_app, auth_headers, assert_problem):
    first, second = auth_headers("admin", app=users_app), auth_headers("admin", app=users_app)
    client = users_app.test_client()
    first_id, second_id = user_id(users_app, first), user_id(users_app, second)
    response = client.patch(f"/api/v1/users/{first_id}", headers=first, json={"role": "editor"})
    assert response.status_code == 200 and response.get_json()["role"] == "editor"
    # Now the second is the last one.
    response = client.patch(f"/api/v1/users/{second_id}", headers=second, json={"role": "editor"})
    assert_problem(response, 409)


# --------------------------------------------------------------------------- create-admin


def run_cli(app, *args, input=None, env=None):
    return app.test_cli_runner().invoke(args=["create-admin", *args], input=input, env=env)


def role_of(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(User.role).where(User.email == email))


def test_create_admin_from_environment(users_app):
    result = run_cli(users_app, "Root@Example.com", env={"QBANK_ADMIN_PASSWORD": DEFAULT_PASSWORD})
    assert result.exit_code == 0, result.output
    assert "created admin root@example.com" in result.output
    assert DEFAULT_PASSWORD not in result.output
    assert role_of(users_app, "root@example.com") == "admin"
    headers = login_headers(users_app, "root@example.com")
    assert users_app.test_client().get("/api/v1/users", headers=headers).status_code == 200


def test_create_admin_from_stdin(users_app):
    result = run_cli(
        users_app,
        "stdin@example.com",
        "--password-stdin",
        input=f"{DEFAULT_PASSWORD}\n",
        env={"QBANK_ADMIN_PASSWORD": ""},
    )
    assert result.exit_code == 0, result.output
    assert DEFAULT_PASSWORD not in result.output
    login_headers(users_app, "stdin@example.com")


def test_create_admin_never_prompts_without_a_terminal(users_app):
    result = run_cli(users_app, "nopass@example.com", env={"QBANK_ADMIN_PASSWORD": ""})
    assert result.exit_code != 0
    assert "QBANK_ADMIN_PASSWORD" in result.output and "--password-stdin" in result.output
    assert role_of(users_app, "nopass@example.com") is None


def test_create_admin_promotes_an_existing_account(users_app):
    email = make_user(users_app, "learner")
    result = run_cli(users_app, email.upper(), env={"QBANK_ADMIN_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    assert "is now an admin; password unchanged" in result.output
    assert role_of(users_app, email) == "admin"
    login_headers(users_app, email, DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("not-an-email", DEFAULT_PASSWORD, "not an email address"),
        ("short@example.com", "short", "12 to 256 characters"),
        ("weak@example.com", "password1234", "too easy to guess"),
        ("weak@example.com", "weak@example.com", "too easy to guess"),
        ("twin\u200b@example.com", DEFAULT_PASSWORD, "not an email address"),
    ],
)
def test_create_admin_refuses_bad_input(users_app, email, password, message):
    result = run_cli(users_app, email, env={"QBANK_ADMIN_PASSWORD": password})
    assert result.exit_code != 0
    assert message in result.output
    with users_app.app_context():
        assert db.session.scalar(select(User.id)) is None


def test_first_admin_then_deleted_admin_token_is_401(users_app, assert_problem):
    run_cli(users_app, "gone@example.com", env={"QBANK_ADMIN_PASSWORD": DEFAULT_PASSWORD})
    headers = login_headers(users_app, "gone@example.com")
    with users_app.app_context():
        db.session.execute(delete(User).where(User.email == "gone@example.com"))
        db.session.commit()
    assert_problem(users_app.test_client().get("/api/v1/users", headers=headers), 401)
