"""OWASP API Security Top 10 (2023), one section per item, against the real app.

Each section names the risk and proves the control; the deeper cases live in the
module of the feature (accounts/, platform/test_ratelimit.py, contract/), and the
tests here sweep across every route so that a new route cannot skip a control.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from api import create_app
from api.config import TestConfig, public_base_url
from api.extensions import db
from tests.support.accounts import DEFAULT_PASSWORD, login_headers, make_user
from tests.support.apps import seed_bank_into, temporary_app
from tests.support.live import app_env, chunked, raw_exchange, serve
from tests.support.problems import PROBLEM
from tests.support.tokens import bearer, claims, forge

FORBIDDEN_KEYS = {"password", "password_hash", "search_text", "search_tsv", "sid", "jti"}
PUBLIC_WRITES = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("PATCH", "/api/v1/me"),
    ("DELETE", "/api/v1/me"),
}
# What any signed-in learner may do: practise.
LEARNER_WRITES = {
    ("POST", "/api/v1/questions/<int:question_id>/attempts"),
    ("POST", "/api/v1/attempts/batch"),
    ("PATCH", "/api/v1/attempts/<int:attempt_id>"),
    ("POST", "/api/v1/questions/<int:question_id>/reports"),
    ("POST", "/api/v1/quizzes"),
    ("POST", "/api/v1/quizzes/<int:quiz_id>/finish"),
}
ADMIN_READS = {
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/questions/export"),
    ("GET", "/api/v1/reports"),
    ("GET", "/api/v1/reports/<int:report_id>"),
}


@pytest.fixture(scope="module")
def owasp_url(backend, database_factory):
    url = database_factory(backend, "qbank_owasp")
    with temporary_app(url, build=True) as app:
        seed_bank_into(app)
    return url


@pytest.fixture(scope="module")
def app(owasp_url):
    app = create_app(TestConfig(owasp_url))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


def concrete(rule: str) -> str:
    """A URL for a rule: real ids and slugs, so the request reaches the resource's checks."""
    return (
        rule.replace("<int:question_id>", "1")
        .replace("<int:user_id>", "1")
        .replace("<string:slug>", "basics")
        .replace("<int:attempt_id>", "1")
        .replace("<int:report_id>", "1")
        .replace("<int:quiz_id>", "1")
        .replace("<string:filename>", "swagger-ui.css")
    )


def routes(app, methods: set[str]) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & methods):
            found.append((method, rule.rule))
    return sorted(found)


def all_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


# API1:2023 Broken Object Level Authorization -------------------------------------------


def test_api1_a_user_reaches_only_their_own_account(app, client):
    alice = login_headers(app, make_user(app, "learner"))
    bob_email = make_user(app, "learner")
    me = client.get("/api/v1/me", headers=alice).get_json()
    assert me["email"] != bob_email
    with app.app_context():
        from sqlalchemy import select

        from api.accounts.models import User

        bob_id = db.session.scalar(select(User.id).where(User.email == bob_email))
    for method in ("get", "patch"):
        response = getattr(client, method)(f"/api/v1/users/{bob_id}", headers=alice, json={})
        assert response.status_code in (403, 405)
        assert bob_email not in response.get_data(as_text=True)


def test_api1_attempts_and_quizzes_belong_to_their_learner(app, client):
    alice = login_headers(app, make_user(app, "learner"))
    bob = login_headers(app, make_user(app, "learner"))
    attempt = client.post(
        "/api/v1/questions/1/attempts", json={"self_rating": "good"}, headers=alice
    )
    quiz = client.post("/api/v1/quizzes", json={"count": 1}, headers=alice)
    assert attempt.status_code == quiz.status_code == 201
    attempt_id, quiz_id = attempt.get_json()["id"], quiz.get_json()["id"]
    for method, url in (
        ("GET", f"/api/v1/attempts/{attempt_id}"),
        ("GET", f"/api/v1/quizzes/{quiz_id}"),
        ("POST", f"/api/v1/quizzes/{quiz_id}/finish"),
        (
            "GET",
            f"/api/v1/attempts?user_id={client.get('/api/v1/me', headers=alice).get_json()['id']}",
        ),
    ):
        response = client.open(url, method=method, headers=bob)
        assert response.status_code == 404, url
        assert response.mimetype == PROBLEM
    assert client.get("/api/v1/attempts", headers=bob).get_json()["data"] == []


# API2:2023 Broken Authentication --------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwidHlwZSI6ImFjY2VzcyJ9.",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ],
)
def test_api2_forged_tokens_are_401(client, token):
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
# A validly signed token of an account, one claim changed: each must be refused exactly as a
# malformed token is, however the rest of it checks out.
CLAIM_CHANGES = {
    "no exp": lambda claims: claims.pop("exp"),
    "sub with a space": lambda claims: claims.update(sub=f" {claims['sub']}"),
    "sub with a leading zero": lambda claims: claims.update(sub=f"0{claims['sub']}"),
    "sub with a plus sign": lambda claims: claims.update(sub=f"+{claims['sub']}"),
    "sub in full-width digits": lambda claims: claims.update(
        sub=claims["sub"].translate(FULL_WIDTH_DIGITS)
    ),
    "no jti": lambda claims: claims.pop("jti"),
}


@pytest.mark.parametrize("change", list(CLAIM_CHANGES))
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_api2_tokens_without_exp_or_with_another_spelling_of_sub_are_401(app, client, kind, change):
    email = make_user(app, "learner")
    login = client.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    payload = claims(login.get_json()[f"{kind}_token"])
    CLAIM_CHANGES[change](payload)
    method, path = ("GET", "/api/v1/me") if kind == "access" else ("POST", "/api/v1/auth/refresh")
    response = client.open(path, method=method, headers=bearer(forge(payload)))
    malformed = client.open(path, method=method, headers=bearer("not-a-jwt"))
    assert response.status_code == malformed.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.get_json() == malformed.get_json()
    assert response.headers["WWW-Authenticate"] == malformed.headers["WWW-Authenticate"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize(
    "header",
    [
        # JSON escapes: the decoded header strings hold real CR/LF
        rb'{"alg": "HS256", "crit": ["x\r\nX-Injected: 1"]}',
        rb'{"alg": "HS256", "crit": ["x\r\nSet-Cookie: a=b", "kid"]}',
        rb'{"alg": "HS256\r\nSet-Cookie: a=b"}',
        rb'{"alg": "HS256", "kid": "\r\nX-Injected: 1"}',
        b"\r\n not json \r\n",
    ],
)
def test_api2_a_token_header_is_never_reflected(client, header):
    """Malformed token headers (CR/LF in `crit`, `alg`, `kid`) are a fixed 401 on every
    authenticated route; neither the body nor WWW-Authenticate repeats anything of them."""
    payload = _b64(b'{"sub": "1"}')
    token = f"{_b64(header)}.{payload}.{_b64(b'sig')}"
    for path in ("/api/v1/me", "/api/v1/attempts", "/api/v1/reports"):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (path, response.get_data(as_text=True))
        assert response.mimetype == PROBLEM
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer") and "\r" not in challenge and "\n" not in challenge
        text = response.get_data(as_text=True) + challenge
        for leaked in ("Injected", "Set-Cookie", "crit", "kid"):
            assert leaked not in text, (path, text)


def test_api2_weak_passwords_are_refused(client):
    response = client.post(
        "/api/v1/auth/register", json={"email": "weak@example.com", "password": "short"}
    )
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]


def test_api2_guessable_passwords_are_refused(client):
    """Long enough is not strong enough: zxcvbn's estimate decides, the account's own
    email counted as a known word."""
    email = "guessable@example.com"
    for password in ("password1234", "qwerty123456", email, " " * 16):
        response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert response.status_code == 422, password
        body = response.get_json()
        assert body["type"] == "/problems/weak-password"
        assert body["errors"]["password"] == [body["detail"]]
    login = client.post("/api/v1/auth/login", json={"email": email, "password": "password1234"})
    assert login.status_code == 401


def test_api2_failed_logins_are_limited(owasp_url):
    app = create_app(TestConfig(owasp_url, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="3/minute"))
    client = app.test_client()
    email = make_user(app, "learner")
    codes = [
        client.post(
            "/api/v1/auth/login", json={"email": email, "password": "wrong" * 3}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_api2_guessing_does_not_lock_the_owner_out(owasp_url):
    """OWASP's advice on lockout: a lock that anyone can trigger is a denial of service.
    Guessing from several addresses spends the account's budget and gets those addresses
    refused; the owner's right password from an address that has not been failing logs in."""
    app = create_app(TestConfig(owasp_url, RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="3/minute"))
    client = app.test_client()
    email = make_user(app, "learner")

    def attempt(password: str, address: str) -> int:
        return client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    guessed = [attempt("wrong" * 3, f"203.0.113.{n % 4 + 1}") for n in range(12)]
    assert guessed.count(401) < 12 and guessed[-4:] == [429] * 4
    assert attempt(DEFAULT_PASSWORD, "203.0.113.1") == 429
    assert attempt(DEFAULT_PASSWORD, "203.0.113.50") == 200


# API3:2023 Broken Object Property Level Authorization ------------------------------------


def test_api3_no_secret_or_internal_field_in_any_response(app, client):
    admin = login_headers(app, make_user(app, "admin"))
    register = client.post(
        "/api/v1/auth/register",
        json={"email": "props@example.com", "password": "a sound passphrase"},
    )
    bodies = [register.get_json()]
    for _method, rule in routes(app, {"GET"}):
        if rule.startswith(("/docs", "/openapi")):
            continue
        url = concrete(rule)
        for query in ("", "?include=answer"):
            response = client.get(url + query, headers=admin)
            if response.is_json:
                bodies.append(response.get_json())
    text = json.dumps(bodies)
    assert not FORBIDDEN_KEYS & all_keys(bodies)
    assert "$argon2" not in text


def test_api3_role_cannot_be_set_from_a_body(app, client):
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "climber@example.com", "password": "a sound passphrase", "role": "admin"},
    )
    assert response.status_code == 422
    learner = login_headers(app, make_user(app, "learner"))
    patch = client.patch("/api/v1/me", json={"role": "admin"}, headers=learner)
    assert patch.status_code == 422
    assert client.get("/api/v1/me", headers=learner).get_json()["role"] == "learner"


# API4:2023 Unrestricted Resource Consumption ---------------------------------------------


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/questions?per_page=101", "per_page"),
        ("/api/v1/questions?q=" + "x" * 201, "q"),
        ("/api/v1/questions/random?count=51", "count"),
        ("/api/v1/questions?exclude=" + ",".join(str(i) for i in range(1, 502)), "exclude"),
        ("/api/v1/tags?per_page=1000", "per_page"),
        ("/api/v1/questions?page=100001", "page"),
    ],
)
def test_api4_every_size_is_bounded(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def _json_writes(app) -> list[tuple[str, str]]:
    return [
        (method, rule)
        for method, rule in routes(app, {"POST", "PUT", "PATCH"})
        if not rule.endswith(("/logout", "/finish", "/refresh"))
    ]


@pytest.mark.parametrize("depth", [33, 600, 100_000])
def test_api4_deeply_nested_json_is_a_400_everywhere(app, client, depth):
    """JSON nested past the limit, even past Python's recursion limit, is a 400 problem on
    every endpoint that reads a JSON body, login and register included; nothing changes."""
    admin = login_headers(app, make_user(app, "admin"))  # every role check passes
    body = "[" * depth + "]" * depth
    nested_object = '{"email": ' + "[" * depth + "]" * depth + "}"
    for method, rule in _json_writes(app):
        for data in (body, nested_object):
            response = client.open(
                concrete(rule),
                method=method,
                data=data,
                headers={**admin, "Content-Type": "application/json", "If-Match": "*"},
            )
            assert response.status_code == 400, (method, rule, response.get_json())
            assert response.mimetype == "application/problem+json"
            assert "nests deeper" in response.get_json()["detail"], (method, rule)


def test_api4_bodies_are_bounded(app, client):
    editor = login_headers(app, make_user(app, "editor"))
    big = {"prompt": "Big?", "answer": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    response = client.post("/api/v1/questions", json=big, headers=editor)
    assert response.status_code == 413
    assert response.mimetype == PROBLEM


def test_api4_every_body_taking_operation_refuses_and_documents_413(app, client):
    """A body past the operation's limit is a 413 problem on every operation that takes a
    body, and the contract says so (some operations returned an undocumented 413)."""
    import yaml

    from tests.support.live import ROOT

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    admin = login_headers(app, make_user(app, "admin"))
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            assert "413" in operation["responses"], (method, path)
            limit = app.config["MAX_CONTENT_LENGTH"]
            if path.endswith("/import"):
                limit = app.config["IMPORT_MAX_BYTES"]
            url = re.sub(r"\{[a-z_]+\}", lambda m: concrete(f"<int:{m[0][1:-1]}>"), path)
            url = url.replace("<int:slug>", "basics")
            response = client.open(
                url,
                method=method.upper(),
                data=b'{"x": "' + b"x" * limit + b'"}',
                content_type="application/json",
                headers={**admin, "If-Match": "*"},
            )
            assert response.status_code == 413, (method, path, response.status_code)
            assert response.mimetype == PROBLEM
            assert response.json["type"] == "/problems/content-too-large"
            checked += 1
    assert checked >= 12


# API5:2023 Broken Function Level Authorization -------------------------------------------


def privileged_routes() -> list[tuple[str, str]]:
    app = create_app(TestConfig())
    writes = routes(app, {"POST", "PUT", "PATCH", "DELETE"})
    return [r for r in writes if r not in PUBLIC_WRITES | LEARNER_WRITES] + sorted(ADMIN_READS)


@pytest.mark.parametrize("method, rule", privileged_routes())
def test_api5_learner_is_refused_every_write_and_admin_route(app, client, method, rule):
    learner = login_headers(app, make_user(app, "learner"))
    response = client.open(
        concrete(rule), method=method, json={}, headers={**learner, "If-Match": "*"}
    )
    assert response.status_code == 403, response.get_json()
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("method, rule", privileged_routes())
def test_api5_anonymous_is_refused_every_write_and_admin_route(client, method, rule):
    response = client.open(concrete(rule), method=method, json={})
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("rule", ["/api/v1/users", "/api/v1/users/1"])
def test_api5_editor_is_refused_admin_routes(app, client, rule):
    editor = login_headers(app, make_user(app, "editor"))
    method = "GET" if rule.endswith("users") else "PATCH"
    response = client.open(rule, method=method, json={"role": "admin"}, headers=editor)
    assert response.status_code == 403


# API6:2023 Unrestricted Access to Sensitive Business Flows --------------------------------


def test_api6_registrations_are_limited_per_address(owasp_url):
    with temporary_app(owasp_url, RATELIMIT_REGISTRATIONS_PER_ADDRESS="2/hour") as app:
        client = app.test_client()
        codes = [
            client.post(
                "/api/v1/auth/register",
                json={"email": f"flood{i}@example.com", "password": "a sound passphrase"},
                environ_base={"REMOTE_ADDR": "127.0.0.9"},
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 429]


# API7:2023 Server Side Request Forgery ---------------------------------------------------


def test_api7_no_input_is_ever_fetched(app, client):
    """No endpoint takes a URL to fetch: a URL given as a source name is stored as text."""
    editor = login_headers(app, make_user(app, "editor"))
    response = client.post(
        "/api/v1/questions/import?dry_run=true&document=http://127.0.0.1:1/secret",
        data=b"1. What is SSRF?\nA server fetching a URL an attacker chose.\n",
        headers={**editor, "Content-Type": "text/plain"},
    )
    assert response.status_code == 200
    assert response.get_json()["created"] == 1


# API8:2023 Security Misconfiguration ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/questions", "/nope", "/healthz"])
def test_api8_nosniff_everywhere(client, path):
    assert client.get(path).headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/console", "/debug", "/admin", "/static/app.js", "/.env"])
def test_api8_no_debug_or_stray_routes(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_api8_no_internals_in_a_500(owasp_url):
    with temporary_app(owasp_url, TESTING=False, DEBUG=False) as app:

        @app.route("/crash")
        def crash():  # test-only route: the real app has none that fails on purpose
            raise ZeroDivisionError("division by zero in /work/main/api/secret.py")

        response = app.test_client().get("/crash")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    assert not re.search(r"Traceback|ZeroDivision|/work/|secret", response.get_data(as_text=True))


def test_api8_cors_never_wildcard_with_credentials(owasp_url):
    app = create_app(TestConfig(owasp_url, CORS_ORIGINS=["http://127.0.0.1:9999"]))
    response = app.test_client().options(
        "/api/v1/questions",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    allowed = app.test_client().get(
        "/api/v1/questions", headers={"Origin": "http://127.0.0.1:9999"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9999"


def test_api8_links_are_built_on_the_public_base_url_not_the_host_header(owasp_url):
    with temporary_app(owasp_url, PUBLIC_BASE_URL="https://api.example.com/qbank") as app:
        response = app.test_client().get(
            "/api/v1/questions?per_page=2&topic=basics", headers={"Host": "evil.example"}
        )
    assert response.status_code == 200
    links = re.findall(r"<([^>]+)>", response.headers["Link"])
    assert len(links) >= 3
    assert all(link.startswith("https://api.example.com/qbank/api/v1/questions?") for link in links)
    assert "evil" not in response.headers["Link"]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://127.0.0.1:8000/prefix", "http://127.0.0.1:8000/prefix"),
        ("javascript:alert(1)", None),
        ("https://api.example.com/?x=1", None),
        ("https://user:secret@api.example.com", None),
        ("api.example.com", None),
    ],
)
def test_api8_the_public_base_url_is_checked_at_start(value, kept):
    if kept is None:
        with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
            public_base_url(value)
    else:
        assert public_base_url(value) == kept


# What gunicorn answers before the app (API4, API8) ----------------------------------------
# The request line, header fields and chunked bodies are refused by the server before Flask
# runs: those answers are problem documents too, reflect nothing of the request, and what
# fits the server's limits reaches the app's own validation.

PROBE = "zq<script>alert(1)</script>"  # a marker that must never come back


@pytest.fixture(scope="module")
def served(owasp_url, tmp_path_factory):
    """gunicorn with the project's gunicorn.conf.py (as production runs it) on this database."""
    instance = tmp_path_factory.mktemp("owasp-served")
    with serve(app_env(owasp_url, instance), config=True, workers=2) as server:
        yield server.base


def _get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _assert_server_problem(reply, status: int, slug: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert body["title"] and body["detail"]
    assert b"zq" not in reply.body and b"script" not in reply.body  # nothing reflected
    assert reply.headers["x-content-type-options"] == "nosniff"


QUOTED_PROBE = PROBE.replace("<", "%3C").replace(">", "%3E").replace("(", "%28").replace(")", "%29")


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        pytest.param(
            _get("/api/v1/questions?q=" + QUOTED_PROBE + "a" * 4100), 414, "uri-too-long", id="q"
        ),
        pytest.param(
            _get("/api/v1/questions/random?exclude=" + ",".join(str(i) for i in range(1000, 1900))),
            414,
            "uri-too-long",
            id="exclude",
        ),
        pytest.param(
            _get("/api/v1/questions", f"X-Probe: {PROBE}" + "a" * 9000),
            431,
            "header-fields-too-large",
            id="one-large-header",
        ),
        pytest.param(
            _get("/api/v1/questions", *(f"X-Probe-{i}: {PROBE}" for i in range(120))),
            431,
            "header-fields-too-large",
            id="too-many-headers",
        ),
        pytest.param(
            _get("/api/v1/questions/" + PROBE.replace("<", "\x01")),
            400,
            "malformed-request",
            id="control-character-in-request-line",
        ),
        pytest.param(
            b"GET /api/v1/questions HTTP/1.1\r\nHost: x\r\nX-\x00zq: 1\r\n\r\n",
            400,
            "malformed-request",
            id="malformed-header",
        ),
    ],
)
def test_api8_what_gunicorn_refuses_is_a_problem(served, request_bytes, status, slug):
    _assert_server_problem(raw_exchange(served, request_bytes), status, slug)


def test_api4_a_long_query_that_fits_is_validated_by_the_app(served):
    """801 ids fit the request line (about 4,000 bytes): the app refuses them (at most 500)."""
    ids = ",".join(str(i) for i in range(1000, 1801))
    reply = raw_exchange(served, _get(f"/api/v1/questions/random?exclude={ids}"))
    assert reply.status == 400
    body = reply.json()
    assert body["type"] == "/problems/invalid-query"
    assert "exclude" in body["errors"]


def _chunked_post(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + chunked(body)


def test_api4_a_chunked_body_past_the_limit_is_a_413(served):
    """Without a Content-Length, the body is counted as it arrives: past MAX_CONTENT_LENGTH
    (1 MiB) it is a 413, as it is with one (it was read truncated and called invalid JSON)."""
    padding = "a" * (1024 * 1024 + 10)
    body = json.dumps({"email": "someone@example.com", "password": padding}).encode()
    reply = raw_exchange(served, _chunked_post("/api/v1/auth/login", body))
    assert reply.status == 413, reply
    assert reply.headers["content-type"] == PROBLEM
    assert reply.json()["status"] == 413
    # A chunked body within the limit is read whole and judged by the app.
    small = json.dumps({"email": "someone@example.com", "password": "not it at all"}).encode()
    reply = raw_exchange(served, _chunked_post("/api/v1/auth/login", small))
    assert reply.status == 401, reply


def test_api8_server_header_names_no_version(served):
    reply = raw_exchange(served, _get("/healthz"))
    assert reply.status == 200
    assert re.fullmatch(r"[A-Za-z-]+", reply.headers["server"]), reply.headers["server"]


# API9:2023 Improper Inventory Management --------------------------------------------------


def test_api9_routes_and_spec_agree(app):
    import yaml

    from tests.support.live import ROOT

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {
        (m.upper(), p) for p, item in spec["paths"].items() for m in item if m != "parameters"
    }
    served = {
        (m, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule))
        for m, rule in routes(app, {"GET", "POST", "PUT", "PATCH", "DELETE"})
    }
    assert served == documented


def test_api9_only_one_api_version_is_served(client):
    for path in ("/api/v0/questions", "/api/v2/questions", "/api/questions"):
        assert client.get(path).status_code == 404


# API10:2023 Unsafe Consumption of APIs ----------------------------------------------------


def test_api10_imported_content_is_data_not_code(app, client):
    """The API consumes no third-party API; what editors import is stored and served as text."""
    editor = login_headers(app, make_user(app, "editor"))
    payload = {
        "version": 1,
        "questions": [{"prompt": "<script>alert(1)</script>?", "answer": "{{ 7*7 }} ${7*7}"}],
    }
    response = client.post("/api/v1/questions/import", json=payload, headers=editor)
    assert response.status_code == 200
    slug = response.get_json()["items"]["created"][0]
    newest = client.get("/api/v1/questions?sort=-id&per_page=1&include=answer").get_json()
    stored = newest["data"][0]
    assert stored["slug"] == slug
    assert stored["prompt"] == "<script>alert(1)</script>?"
    assert stored["answer"] == "{{ 7*7 }} ${7*7}"
