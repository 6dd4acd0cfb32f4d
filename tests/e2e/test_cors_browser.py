"""CORS in a real browser: headless Debian Chromium, a page on a second loopback origin.

The API runs under gunicorn with CORS_ORIGINS set to one page origin. A page served from
that origin logs in (a JSON POST, so the browser preflights), reads a page of questions
with a bearer token and reads the exposed paging headers from JS, and creates a topic as
an editor. The same page served from a third origin, not configured, is refused by the
browser: every fetch rejects with a TypeError and the write never reaches the API.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest

from tests.support.apps import SEED_QUESTIONS
from tests.support.browser import chromium, static_site
from tests.support.live import api_request, app_env, direct_opener, flask_cli, gunicorn

EDITOR_EMAIL = "editor@example.com"
EDITOR_PASSWORD = "editor-password-123"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1234"

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>qbank CORS probe</title>
<pre id="result">running</pre>
<script>
const HEADERS = ["etag", "link", "x-total-count", "content-type", "x-content-type-options",
                 "location", "x-request-id"];

async function call(url, init) {
  try {
    const response = await fetch(url, init);
    const headers = {};
    for (const name of HEADERS) headers[name] = response.headers.get(name);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return {ok: response.ok, status: response.status, headers, body};
  } catch (e) {
    return {ok: false, error: e.name, message: String(e.message)};
  }
}

async function run(cfg) {
  const api = cfg.api + "/api/v1";
  const json = {"Content-Type": "application/json"};
  const steps = {};
  steps.login = await call(api + "/auth/login", {
    method: "POST", headers: json,
    body: JSON.stringify({email: cfg.email, password: cfg.password}),
  });
  const token = (steps.login.body && steps.login.body.access_token) || cfg.token;
  if (steps.login.body) {
    steps.login.body = {role: steps.login.body.user.role,
                        has_token: Boolean(steps.login.body.access_token)};
  }
  const bearer = {Authorization: "Bearer " + token};
  steps.anonymous = await call(api + "/questions?per_page=2");
  steps.questions = await call(api + "/questions?per_page=2", {headers: bearer});
  steps.create = await call(api + "/topics", {
    method: "POST", headers: {...bearer, ...json},
    body: JSON.stringify({slug: cfg.slug, name: "Made in a browser",
                          description: "Created by a page on another origin."}),
  });
  return {origin: location.origin, steps};
}

const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));
run(cfg).then(
  (result) => { window.__result = result; },
  (e) => { window.__result = {crashed: String(e)}; },
).finally(() => {
  document.getElementById("result").textContent = JSON.stringify(window.__result);
});
</script>
</html>
"""


def http(
    method: str,
    url: str,
    *,
    body: dict | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], object]:
    """One request from Python (no browser, no CORS): status, headers, parsed JSON or None."""
    request = api_request(method, url, body=body, token=token, extra_headers=headers)
    try:
        response = direct_opener.open(request, timeout=30)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        raw = response.read()
        return response.status, dict(response.headers.items()), json.loads(raw) if raw else None


def wait_until(check: Callable[[], bool], *, timeout: float = 15, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two page origins (one allowed), a migrated and seeded API with an editor, a browser."""
    instance = tmp_path_factory.mktemp("cors-browser")
    site = tmp_path_factory.mktemp("cors-site")
    (site / "probe.html").write_text(PAGE)
    with static_site(site) as allowed, static_site(site) as refused:
        env = app_env(
            f"sqlite:///{instance}/qbank.sqlite3",
            instance,
            CORS_ORIGINS=allowed,
            QBANK_ADMIN_PASSWORD=ADMIN_PASSWORD,
            ACCESS_LOG="-",  # gunicorn's access log carries the Referer this test reads
        )
        flask_cli(env, "db", "upgrade")
        assert f"created {SEED_QUESTIONS}" in flask_cli(env, "seed")
        assert "created admin" in flask_cli(env, "create-admin", ADMIN_EMAIL)
        with gunicorn(env) as base:
            status, _, body = http(
                "POST",
                f"{base}/api/v1/auth/register",
                body={"email": EDITOR_EMAIL, "password": EDITOR_PASSWORD},
            )
            assert status == 201, body
            editor_id = body["user"]["id"]
            status, _, body = http(
                "POST",
                f"{base}/api/v1/auth/login",
                body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            )
            assert status == 200, body
            status, _, body = http(
                "PATCH",
                f"{base}/api/v1/users/{editor_id}",
                body={"role": "editor"},
                token=body["access_token"],
            )
            assert (status, body["role"]) == (200, "editor"), body
            port = base.rsplit(":", 1)[1]
            access_log = instance / f"gunicorn-{port}.log"
            with chromium() as browser:
                yield {
                    "base": base,
                    "allowed": allowed,
                    "refused": refused,
                    "browser": browser,
                    "access_log": access_log,
                }


def run_probe(stack, origin: str, **extra: str) -> dict:
    browser = stack["browser"]
    cfg = {"api": stack["base"], "email": EDITOR_EMAIL, "password": EDITOR_PASSWORD, **extra}
    browser.get(f"{origin}/probe.html#{urllib.parse.quote(json.dumps(cfg))}")
    result = browser.wait_for("window.__result", timeout=60)
    assert "crashed" not in result, result
    assert result["origin"] == origin
    # The page also shows what it saw, in its own DOM.
    shown = browser.execute("return document.getElementById('result').textContent;")
    assert json.loads(shown) == result
    return result["steps"]


def lines_from(stack, origin: str) -> list[str]:
    """gunicorn access-log lines whose Referer is ORIGIN (cross-origin fetches send the origin)."""
    text = stack["access_log"].read_text()
    return [line for line in text.splitlines() if f'"{origin}/"' in line]


def test_allowed_origin_logs_in_reads_and_writes(stack):
    base, origin = stack["base"], stack["allowed"]
    steps = run_probe(stack, origin, slug="cors-browser")

    for name, step in steps.items():
        assert step["ok"], (name, step)

    login = steps["login"]
    assert login["status"] == 200
    assert login["body"] == {"role": "editor", "has_token": True}

    questions = steps["questions"]
    assert questions["status"] == 200
    assert len(questions["body"]["data"]) == 2
    headers = questions["headers"]
    assert headers["x-total-count"] == str(SEED_QUESTIONS)  # exposed: readable from JS
    assert 'rel="next"' in headers["link"] and "per_page=2" in headers["link"]
    assert headers["etag"] and headers["etag"].startswith('"')
    assert headers["content-type"].startswith("application/json")  # CORS-safelisted
    assert headers["x-content-type-options"] is None  # sent, but not exposed: hidden from JS
    assert steps["anonymous"]["headers"]["x-total-count"] == str(SEED_QUESTIONS)

    create = steps["create"]
    assert create["status"] == 201
    assert create["body"]["slug"] == "cors-browser"
    assert create["headers"]["etag"]
    assert create["headers"]["location"] == "/api/v1/topics/cors-browser"  # exposed
    assert create["headers"]["x-request-id"]

    # The write is there for everyone, seen from Python with no browser in between.
    status, response_headers, topic = http("GET", f"{base}/api/v1/topics/cors-browser")
    assert status == 200
    assert topic["name"] == "Made in a browser"
    assert response_headers["ETag"] == create["headers"]["etag"]

    # The browser preflighted the JSON login and the bearer-token calls, then sent them.
    def seen() -> bool:
        lines = lines_from(stack, origin)
        return all(
            any(f'"{request} HTTP/1.1" {status}' in line for line in lines)
            for request, status in (
                ("OPTIONS /api/v1/auth/login", 200),
                ("POST /api/v1/auth/login", 200),
                ("OPTIONS /api/v1/topics", 200),
                ("POST /api/v1/topics", 201),
            )
        )

    wait_until(seen, what="preflights and requests from the allowed origin in the access log")


def test_origin_not_allowed_is_refused_by_the_browser(stack):
    base, origin = stack["base"], stack["refused"]
    # A valid editor token too, so that the write is refused by CORS, not for want of a login.
    _, _, session = http(
        "POST",
        f"{base}/api/v1/auth/login",
        body={"email": EDITOR_EMAIL, "password": EDITOR_PASSWORD},
    )
    steps = run_probe(stack, origin, slug="cors-refused", token=session["access_token"])

    for name, step in steps.items():
        assert not step["ok"], (name, step)
        assert step["error"] == "TypeError", (name, step)  # what fetch rejects with under CORS
        assert "status" not in step

    # The write never happened: its preflight was refused, so the POST was never sent.
    status, _, _ = http("GET", f"{base}/api/v1/topics/cors-refused")
    assert status == 404

    # The browser did ask; the API answered without Access-Control-Allow-Origin.
    def asked() -> bool:
        lines = lines_from(stack, origin)
        return any('"OPTIONS /api/v1/topics HTTP/1.1"' in line for line in lines)

    wait_until(asked, what="the refused origin's preflight in the access log")
    assert not any('"POST /api/v1/topics ' in line for line in lines_from(stack, origin))

    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    status, headers, _ = http(
        "OPTIONS", f"{base}/api/v1/topics", headers={"Origin": origin, **preflight}
    )
    assert status == 200
    assert not any(name.lower().startswith("access-control-") for name in headers), headers
    # A simple GET is answered (that is how the page's anonymous GET got a response to
    # hide) but without the header that would let the page read it.
    status, headers, _ = http(
        "GET", f"{base}/api/v1/questions?per_page=2", headers={"Origin": origin}
    )
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers

    # The same preflight from the configured origin is granted, for that origin only.
    status, headers, _ = http(
        "OPTIONS", f"{base}/api/v1/topics", headers={"Origin": stack["allowed"], **preflight}
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == stack["allowed"]
    assert headers["Access-Control-Max-Age"] == "600"
    allowed_headers = headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers


def test_docs_render_under_their_content_security_policy(stack):
    """/docs sends a Content-Security-Policy under which Swagger UI still renders every
    operation of the contract, while a script injected into the page is refused."""
    import yaml

    from api.platform.operations import DOCS_CSP
    from tests.support.live import ROOT

    with direct_opener.open(f"{stack['base']}/docs", timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Security-Policy"] == DOCS_CSP
    assert "script-src 'self';" in DOCS_CSP and "frame-ancestors 'none'" in DOCS_CSP

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    methods = {"get", "post", "put", "patch", "delete"}
    operations = sum(len(methods & set(item)) for item in spec["paths"].values())
    browser = stack["browser"]
    browser.get(f"{stack['base']}/docs")
    count = "document.querySelectorAll('.opblock').length"
    rendered = browser.wait_for(f"{count} >= {operations} ? {count} : null")
    assert rendered == operations
    # A script the page did not load from its own origin never runs; the browser reports it.
    browser.execute(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__violations.push(e.violatedDirective));"
        "const s = document.createElement('script');"
        "s.textContent = 'window.__injected = true;';"
        "document.body.appendChild(s);"
    )
    violated = browser.wait_for("window.__violations.length ? window.__violations : null")
    assert violated[0].startswith("script-src")
    assert browser.execute("return window.__injected === undefined;")
