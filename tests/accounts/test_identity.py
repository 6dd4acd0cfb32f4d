"""Identities are never reused: account deletion, deactivation, and tokens bound to accounts.

A deleted account's id is never given out again (SQLite AUTOINCREMENT, PostgreSQL's
sequence), and every token carries its account's random key (claim `acct`), so a token
authenticates only the account it was issued to. Revocations of a deleted account may
cascade away with it: the binding makes them irrelevant, and the tests below show it.
"""

from __future__ import annotations

import uuid

import pytest
from flask_jwt_extended import create_access_token
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from api import create_app
from api.accounts.models import RevokedSession, User
from api.bank.models import Question
from api.config import TestConfig
from api.extensions import db
from api.practice.models import Attempt, IdempotencyRecord, Quiz, QuizQuestion, ReviewState
from tests.support.accounts import DEFAULT_PASSWORD, login_headers, make_user
from tests.support.apps import build_app, seeded_database
from tests.support.problems import check_problem as assert_problem

V1 = "/api/v1"


@pytest.fixture(scope="module")
def identity_url(backend, database_factory) -> str:
    return seeded_database(database_factory, backend, "qbank_identity")


@pytest.fixture(scope="module")
def identity_app(identity_url):
    app = create_app(TestConfig(identity_url))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def prod_identity_app(identity_url):
    """TESTING and DEBUG off on the same database: errors must still be problem+json."""
    app = create_app(TestConfig(identity_url, TESTING=False, DEBUG=False))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["testing", "production"])
def any_app(request, identity_app, prod_identity_app):
    return identity_app if request.param == "testing" else prod_identity_app


@pytest.fixture()
def client(identity_app):
    return identity_app.test_client()


def new_email() -> str:
    return f"id-{uuid.uuid4().hex[:12]}@example.com"


def register(client, email: str | None = None) -> dict:
    body = {"email": email or new_email(), "password": DEFAULT_PASSWORD}
    response = client.post(f"{V1}/auth/register", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_token_refused(client, token: str, *, refresh: bool = False) -> dict:
    if refresh:
        response = client.post(f"{V1}/auth/refresh", headers=bearer(token))
    else:
        response = client.get(f"{V1}/me", headers=bearer(token))
    body = assert_problem(response, 401, "invalid-token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    return body


def delete_me(client, token: str, password: str | None = DEFAULT_PASSWORD):
    body = {} if password is None else {"current_password": password}
    return client.delete(f"{V1}/me", headers=bearer(token), json=body)


def practise(app, token: str) -> None:
    """An attempt (with an Idempotency-Key), its review state, and a quiz with questions."""
    client = app.test_client()
    with app.app_context():
        question_id = db.session.scalar(select(Question.id).order_by(Question.id))
    headers = {**bearer(token), "Idempotency-Key": uuid.uuid4().hex}
    answered = client.post(
        f"{V1}/questions/{question_id}/attempts", headers=headers, json={"self_rating": "good"}
    )
    assert answered.status_code == 201, answered.get_json()
    quiz = client.post(f"{V1}/quizzes", headers=bearer(token), json={"count": 3})
    assert quiz.status_code == 201, quiz.get_json()


def practice_rows(app, user_id: int) -> dict[str, int]:
    with app.app_context():
        quizzes = select(Quiz.id).where(Quiz.user_id == user_id)
        counts = {
            model.__tablename__: db.session.scalar(
                select(func.count()).select_from(model).where(model.user_id == user_id)
            )
            for model in (Attempt, ReviewState, Quiz, IdempotencyRecord)
        }
        counts["quiz_questions"] = db.session.scalar(
            select(func.count()).select_from(QuizQuestion).where(QuizQuestion.quiz_id.in_(quizzes))
        )
        counts["users"] = db.session.scalar(
            select(func.count()).select_from(User).where(User.id == user_id)
        )
        db.session.remove()
    return counts


def user_row(app, user_id: int) -> User | None:
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is not None:
            db.session.expunge(user)
        db.session.remove()
    return user


# --------------------------------------------------------------------------- ids and tokens


def test_the_deleted_newest_accounts_id_is_not_reused(client):
    first = register(client)
    email = first["user"]["email"]
    assert delete_me(client, first["access_token"]).status_code == 204
    again = register(client, email)
    assert again["user"]["email"] == email
    assert again["user"]["id"] > first["user"]["id"]


def test_a_deleted_accounts_tokens_never_authenticate_the_next_account(identity_app, client):
    """Access and refresh tokens of a live session and of a logged-out one, all refused."""
    live = register(client)
    email = live["user"]["email"]
    ended = client.post(f"{V1}/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    ended = ended.get_json()
    assert (
        client.post(f"{V1}/auth/logout", headers=bearer(ended["access_token"])).status_code == 204
    )
    assert delete_me(client, live["access_token"]).status_code == 204

    with identity_app.app_context():
        revoked = select(func.count()).select_from(RevokedSession)
        revoked = revoked.where(RevokedSession.user_id == live["user"]["id"])
        # The logged-out session's revocation went with the account: the binding refuses.
        assert db.session.scalar(revoked) == 0
        db.session.remove()
    successor = register(client, email)
    for tokens in (live, ended):
        assert_token_refused(client, tokens["access_token"])
        assert_token_refused(client, tokens["refresh_token"], refresh=True)
        logout = client.post(f"{V1}/auth/logout", headers=bearer(tokens["refresh_token"]))
        assert logout.status_code == 401
    me = client.get(f"{V1}/me", headers=bearer(successor["access_token"]))
    assert me.status_code == 200 and me.get_json()["id"] == successor["user"]["id"]


def test_a_token_naming_an_id_with_another_accounts_key_is_refused(identity_app, client):
    """The binding on its own: were an id ever reused, the old key would not match.

    The deleted account's revocations (cascaded away with it) are not what refuses such a
    token; the key is: here nothing was revoked at all.
    """
    gone = register(client)
    with identity_app.app_context():
        old_key = db.session.get(User, gone["user"]["id"]).token_key
    assert delete_me(client, gone["access_token"]).status_code == 204
    current = register(client)
    claims = {"role": "learner", "sid": uuid.uuid4().hex}
    with identity_app.app_context():
        forged = create_access_token(
            identity=str(current["user"]["id"]), additional_claims={**claims, "acct": old_key}
        )
        keyless = create_access_token(identity=str(current["user"]["id"]), additional_claims=claims)
    body = assert_token_refused(client, forged)
    assert "log in again" in body["detail"]
    assert_token_refused(client, keyless)
    assert client.get(f"{V1}/me", headers=bearer(current["access_token"])).status_code == 200


def test_every_account_has_its_own_key_in_its_tokens(identity_app, client):
    one, two = register(client), register(client)
    with identity_app.app_context():
        keys = {db.session.get(User, t["user"]["id"]).token_key for t in (one, two)}
    assert len(keys) == 2 and all(len(k) == 32 for k in keys)


# --------------------------------------------------------------------------- DELETE /me


def test_delete_me_erases_the_account_and_its_practice(identity_app, client):
    doomed = register(client)
    bystander = register(client)
    practise(identity_app, doomed["access_token"])
    practise(identity_app, bystander["access_token"])
    before = practice_rows(identity_app, doomed["user"]["id"])
    assert all(before.values()), before
    others = practice_rows(identity_app, bystander["user"]["id"])

    response = delete_me(client, doomed["access_token"])
    assert response.status_code == 204
    assert response.data == b"" and "Content-Type" not in response.headers
    assert set(practice_rows(identity_app, doomed["user"]["id"]).values()) == {0}
    assert practice_rows(identity_app, bystander["user"]["id"]) == others
    assert_token_refused(client, doomed["access_token"])
    login = client.post(
        f"{V1}/auth/login", json={"email": doomed["user"]["email"], "password": DEFAULT_PASSWORD}
    )
    assert_problem(login, 401, "unauthorized")


def test_delete_me_with_a_wrong_password_changes_nothing(identity_app, any_app):
    client = any_app.test_client()
    tokens = register(client)
    practise(identity_app, tokens["access_token"])
    before = practice_rows(identity_app, tokens["user"]["id"])
    body = assert_problem(delete_me(client, tokens["access_token"], "not the password"), 403)
    assert body["type"] == "/problems/password-incorrect"
    assert body["errors"] == {"current_password": ["Incorrect password."]}
    assert practice_rows(identity_app, tokens["user"]["id"]) == before
    assert client.get(f"{V1}/me", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "current_password"),
        ({"current_password": ""}, "current_password"),
        ({"current_password": 12}, "current_password"),
        ({"current_password": DEFAULT_PASSWORD, "confirm": True}, "confirm"),
        ([DEFAULT_PASSWORD], "_schema"),
    ],
    ids=["missing", "empty", "not-a-string", "unknown-field", "not-an-object"],
)
def test_delete_me_with_a_bad_body_is_422_and_changes_nothing(identity_app, any_app, body, field):
    client = any_app.test_client()
    tokens = register(client)
    response = client.delete(f"{V1}/me", headers=bearer(tokens["access_token"]), json=body)
    problem = assert_problem(response, 422, "validation-error")
    assert field in problem["errors"]
    assert user_row(identity_app, tokens["user"]["id"]) is not None


def test_delete_me_needs_json_and_a_token(any_app):
    client = any_app.test_client()
    tokens = register(client)
    not_json = client.delete(
        f"{V1}/me", headers=bearer(tokens["access_token"]), data="x", content_type="text/plain"
    )
    assert_problem(not_json, 415)
    assert_problem(client.delete(f"{V1}/me", json={"current_password": "x"}), 401)
    assert client.get(f"{V1}/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_wrong_passwords_on_delete_count_as_failed_logins(identity_url):
    """The account's failed-login budget is shared: guesses through DELETE /me spend it."""
    app = create_app(TestConfig(identity_url, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/minute"))
    try:
        client = app.test_client()
        tokens = register(client)
        for _ in range(2):
            assert delete_me(client, tokens["access_token"], "wrong guess").status_code == 403
        assert_problem(delete_me(client, tokens["access_token"], "wrong guess"), 429)
        login = client.post(
            f"{V1}/auth/login", json={"email": tokens["user"]["email"], "password": "guess"}
        )
        assert_problem(login, 429)
        assert client.get(f"{V1}/me", headers=bearer(tokens["access_token"])).status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_wrong_current_passwords_on_patch_count_as_failed_logins(identity_url):
    """PATCH /me checks the current password too: a wrong one is a 403 that spends the same
    failed-login budget (no unthrottled password oracle), and nothing changes."""
    app = create_app(TestConfig(identity_url, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/minute"))
    try:
        client = app.test_client()
        tokens = register(client)
        headers = bearer(tokens["access_token"])
        guess = {"password": "a brand new password", "current_password": "wrong guess"}
        for _ in range(2):
            assert_problem(client.patch(f"{V1}/me", json=guess, headers=headers), 403)
        assert_problem(client.patch(f"{V1}/me", json=guess, headers=headers), 429)
        login = client.post(
            f"{V1}/auth/login", json={"email": tokens["user"]["email"], "password": "guess"}
        )
        assert_problem(login, 429)
        # the account itself is untouched: the old password stands, reads still work
        assert client.get(f"{V1}/me", headers=headers).status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --------------------------------------------------------------------------- admins


@pytest.fixture()
def admin(identity_app) -> dict[str, str]:
    return login_headers(identity_app, make_user(identity_app, "admin"))


def admin_id(app, headers) -> int:
    return app.test_client().get(f"{V1}/me", headers=headers).get_json()["id"]


def test_deactivate_refuses_tokens_and_logins_and_keeps_data(identity_app, client, admin):
    tokens = register(client)
    uid, email = tokens["user"]["id"], tokens["user"]["email"]
    practise(identity_app, tokens["access_token"])
    before = practice_rows(identity_app, uid)

    response = client.patch(f"{V1}/users/{uid}", headers=admin, json={"active": False})
    assert response.status_code == 200
    assert response.get_json()["active"] is False
    body = assert_token_refused(client, tokens["access_token"])
    assert body["detail"] == "The token's account is deactivated."
    assert_token_refused(client, tokens["refresh_token"], refresh=True)
    right = {"email": email, "password": DEFAULT_PASSWORD}
    refused = assert_problem(client.post(f"{V1}/auth/login", json=right), 403)
    assert refused["type"] == "/problems/account-deactivated"
    wrong = client.post(f"{V1}/auth/login", json={"email": email, "password": "not it"})
    assert assert_problem(wrong, 401, "unauthorized")["detail"] == (
        "The email or password is incorrect."
    )
    assert practice_rows(identity_app, uid) == before

    again = client.patch(f"{V1}/users/{uid}", headers=admin, json={"active": True})
    assert again.status_code == 200 and again.get_json()["active"] is True
    login = client.post(f"{V1}/auth/login", json=right)
    assert login.status_code == 200
    assert (
        client.get(f"{V1}/me", headers=bearer(login.get_json()["access_token"])).status_code == 200
    )
    # Sessions ended by the deactivation stay ended.
    assert_token_refused(client, tokens["access_token"])
    assert_token_refused(client, tokens["refresh_token"], refresh=True)


def test_role_and_active_change_together(identity_app, client, admin):
    uid = register(client)["user"]["id"]
    response = client.patch(
        f"{V1}/users/{uid}", headers=admin, json={"role": "editor", "active": False}
    )
    assert response.status_code == 200
    assert response.get_json()["role"] == "editor" and response.get_json()["active"] is False
    role_only = client.patch(f"{V1}/users/{uid}", headers=admin, json={"role": "learner"})
    assert role_only.get_json()["role"] == "learner" and role_only.get_json()["active"] is False


@pytest.mark.parametrize(
    "body",
    [{}, {"active": "false"}, {"active": 0}, {"active": None}, {"active": False, "role": "boss"}],
    ids=["empty", "string", "number", "null", "bad-role"],
)
def test_bad_account_update_is_422_and_changes_nothing(identity_app, any_app, admin, body):
    client = any_app.test_client()
    uid = register(client)["user"]["id"]
    response = client.patch(f"{V1}/users/{uid}", headers=admin, json=body)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"]
    user = user_row(identity_app, uid)
    assert user.active and user.role == "learner"


def test_admin_deletes_an_account(identity_app, client, admin):
    tokens = register(client)
    uid = tokens["user"]["id"]
    practise(identity_app, tokens["access_token"])
    response = client.delete(f"{V1}/users/{uid}", headers=admin)
    assert response.status_code == 204 and response.data == b""
    assert set(practice_rows(identity_app, uid).values()) == {0}
    assert_token_refused(client, tokens["access_token"])
    assert_token_refused(client, tokens["refresh_token"], refresh=True)
    assert_problem(client.delete(f"{V1}/users/{uid}", headers=admin), 404, "not-found")
    assert_problem(client.patch(f"{V1}/users/{uid}", headers=admin, json={"active": True}), 404)
    assert register(client, tokens["user"]["email"])["user"]["id"] > uid


def test_admins_cannot_delete_or_deactivate_themselves(identity_app, any_app, admin):
    client = any_app.test_client()
    me = admin_id(identity_app, admin)
    deleted = client.delete(f"{V1}/users/{me}", headers=admin)
    assert_problem(deleted, 409, "conflict")
    deactivated = client.patch(f"{V1}/users/{me}", headers=admin, json={"active": False})
    assert_problem(deactivated, 409, "conflict")
    user = user_row(identity_app, me)
    assert user is not None and user.active
    assert client.get(f"{V1}/users", headers=admin).status_code == 200


def test_only_admins_delete_accounts(identity_app, any_app):
    client = any_app.test_client()
    target = register(client)["user"]["id"]
    for role in ("learner", "editor"):
        headers = login_headers(identity_app, make_user(identity_app, role))
        assert_problem(client.delete(f"{V1}/users/{target}", headers=headers), 403, "forbidden")
    assert_problem(client.delete(f"{V1}/users/{target}"), 401, "authentication-required")
    assert user_row(identity_app, target) is not None


def test_the_last_active_admin_cannot_step_down(backend, database_factory):
    """An admin that is deactivated does not count: the active one stays an admin."""
    app = build_app(database_factory(backend, "qbank_identity_admins"))
    try:
        client = app.test_client()
        first = login_headers(app, make_user(app, "admin"))
        second_email = make_user(app, "admin")
        second = admin_id(app, login_headers(app, second_email))
        assert (
            client.patch(f"{V1}/users/{second}", headers=first, json={"active": False}).status_code
            == 200
        )
        me = admin_id(app, first)
        demote = client.patch(f"{V1}/users/{me}", headers=first, json={"role": "editor"})
        assert_problem(demote, 409, "conflict")
        assert user_row(app, me).role == "admin"
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --------------------------------------------------------------------------- the migration


def test_upgrading_0004_keeps_users_and_stops_id_reuse(backend, database_factory):
    """Rows survive the rebuild, children too (no cascade fired), and ids are not reused."""
    app = create_app(TestConfig(database_factory(backend, "qbank_identity_migration")))
    with app.app_context():
        try:
            upgrade(revision="0004")
            insert = text(
                "INSERT INTO users (email, password_hash, role, display_name, timezone) "
                "VALUES (:email, 'hash', :role, 'Name', 'UTC')"
            )
            for n, role in enumerate(("admin", "learner", "learner")):
                db.session.execute(insert, {"email": f"old{n}@example.com", "role": role})
            db.session.execute(
                text(
                    "INSERT INTO revoked_sessions (sid, user_id, expires_at) "
                    "VALUES ('s1', 3, '2999-01-01 00:00:00')"
                )
            )
            db.session.commit()
            before = db.session.execute(
                text("SELECT id, email, password_hash, role, created_at FROM users ORDER BY id")
            ).all()
            db.session.remove()  # no transaction of ours open while the table is rebuilt

            upgrade()  # to head: 0005_identity

            after = db.session.execute(
                text("SELECT id, email, password_hash, role, created_at FROM users ORDER BY id")
            ).all()
            assert after == before
            keys = db.session.scalars(text("SELECT token_key FROM users")).all()
            assert len(set(keys)) == 3 and all(len(k) == 32 for k in keys)
            assert db.session.scalars(text("SELECT sid FROM revoked_sessions")).all() == ["s1"]
            assert (
                db.session.scalar(text("SELECT count(*) FROM users WHERE deactivated_at IS NULL"))
                == 3
            )
            if backend == "sqlite":
                assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
                assert db.session.scalar(text("PRAGMA legacy_alter_table")) == 0

            db.session.execute(text("DELETE FROM users WHERE id = 3"))
            db.session.execute(
                text(
                    "INSERT INTO users (email, password_hash, token_key) "
                    "VALUES ('new@example.com', 'hash', 'k')"
                )
            )
            db.session.commit()
            new_id = db.session.scalar(text("SELECT id FROM users WHERE email = 'new@example.com'"))
            assert new_id == 4
            # Foreign keys are enforced again: the deleted account's revocation cascaded.
            assert db.session.scalar(text("SELECT count(*) FROM revoked_sessions")) == 0
        finally:
            db.session.remove()
            db.engine.dispose()
