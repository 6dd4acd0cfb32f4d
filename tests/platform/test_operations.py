"""Operations endpoints: health, readiness, the contract and the docs."""

from __future__ import annotations

from pathlib import Path

from api import create_app
from api.config import TestConfig

ROOT = Path(__file__).resolve().parents[2]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz(client, backend):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": backend}


def test_readyz_is_503_problem_when_database_unreachable(tmp_path):
    for url in (
        f"sqlite:///{tmp_path}/missing-dir/db.sqlite3",
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    ):
        app = create_app(TestConfig(url, TESTING=False))
        response = app.test_client().get("/readyz")
        assert response.status_code == 503, url
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        assert "password" not in response.get_data(as_text=True)
        assert app.test_client().get("/healthz").status_code == 200


def test_openapi_yaml_is_served_as_is(client):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == (ROOT / "openapi.yaml").read_bytes()
    assert "ETag" in response.headers


def test_docs_page_uses_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "init.js"):
        assert f"/docs/assets/{asset}" in html
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.data) > 20
    assert b"/openapi.yaml" in client.get("/docs/assets/init.js").data


def test_docs_assets_are_confined(client):
    for name in ("../../config.py", "index.html", "LICENSE", "%2e%2e%2fetc%2fpasswd"):
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_the_root_links_to_where_to_start(client):
    """`GET /` was a 404: it names the service and links the docs, the contract, health,
    the problem types and the API, each of which answers."""
    response = client.get("/")
    assert response.status_code == 200
    links = response.get_json()["links"]
    assert set(links) == {"docs", "openapi", "health", "ready", "problems", "api"}
    for name, href in links.items():
        assert client.get(href).status_code == 200, name
