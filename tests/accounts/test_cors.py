"""CORS preflight lets the configured origins send the auth headers; no origins, no CORS."""

from __future__ import annotations

import pytest
import yaml

from api import create_app
from api.app import CORS_EXPOSE_HEADERS
from api.config import TestConfig
from api.extensions import db
from tests.support.live import ROOT

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
    assert exposed == set(CORS_EXPOSE_HEADERS)
    with app.app_context():
        db.engine.dispose()


# Readable by scripts without being exposed (the Fetch standard's safelist).
SAFELISTED = {
    "Cache-Control",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "Expires",
    "Last-Modified",
    "Pragma",
}


def documented_response_headers() -> set[str]:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    responses = [
        response
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
    ]
    responses += list(spec["components"]["responses"].values())
    return {name for response in responses for name in response.get("headers", {})}


def test_every_documented_response_header_is_exposed_to_scripts():
    documented = documented_response_headers() - SAFELISTED
    assert {"Location", "WWW-Authenticate", "Idempotent-Replayed"} <= documented
    assert documented <= set(CORS_EXPOSE_HEADERS)
    assert "X-Request-ID" in CORS_EXPOSE_HEADERS  # on every response (the conventions)


@pytest.mark.parametrize("path", ["/openapi.yaml", "/problems", "/problems/not-found"])
def test_the_contract_and_the_problem_types_are_readable_across_origins(auth_url, path):
    app = create_app(TestConfig(auth_url, CORS_ORIGINS=["https://app.example"]))
    response = app.test_client().get(path, headers={"Origin": "https://app.example"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    elsewhere = app.test_client().get("/healthz", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    with app.app_context():
        db.engine.dispose()


def test_cors_is_off_without_origins(client):
    response = client.options("/api/v1/me", headers=PREFLIGHT)
    assert response.status_code == 200
    assert not any(h.startswith("Access-Control-") for h in response.headers.keys())
