"""CORS preflight lets the configured origins send the auth headers; no origins, no CORS."""

from __future__ import annotations

import pytest

from api import create_app
from api.config import TestConfig
from api.extensions import db

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
