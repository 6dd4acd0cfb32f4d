"""Operations: liveness, readiness, the contract and its interactive docs."""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from pathlib import Path

import swagger_ui
from flask import Response
from flask_restful import Resource
from sqlalchemy import text

from api.extensions import db
from api.platform.errors import DatabaseUnavailable, NotFound
from api.platform.problems import CATALOGUE

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
DOCS_ASSETS = Path(swagger_ui.__file__).resolve().parent / "static"
DOCS_FILES = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
}
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Question Bank API docs</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
"""
DOCS_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""
# The docs page runs only its own files: no inline or foreign script, no plugins, not
# framed; styles may be inline (Swagger UI sets them), images may be data: URIs (its icons).
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class Health(Resource):
    def get(self):
        """Liveness: the process answers."""
        return {"status": "ok"}, 200, {"Cache-Control": "no-store"}


class Ready(Resource):
    def get(self):
        """Readiness: the database answers a query."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:
            db.session.rollback()
            raise DatabaseUnavailable("The database is not reachable.") from exc
        return (
            {"status": "ready", "database": db.engine.dialect.name},
            200,
            {"Cache-Control": "no-store"},
        )


class OpenApiSpec(Resource):
    def get(self):
        """The OpenAPI 3.1 contract, as YAML."""
        response = Response(SPEC_PATH.read_bytes(), mimetype="application/yaml")
        response.headers["Cache-Control"] = "public, max-age=300"
        return response


class Docs(Resource):
    def get(self):
        """Interactive API docs (Swagger UI, served from the installed package)."""
        response = Response(DOCS_PAGE, mimetype="text/html")
        response.headers["Cache-Control"] = "public, max-age=300"
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


class DocsAsset(Resource):
    def get(self, filename: str):
        """A static asset of the interactive docs."""
        if filename == "init.js":
            response = Response(DOCS_INIT, mimetype="text/javascript")
        elif filename in DOCS_FILES:
            response = Response(_asset(filename), mimetype=_mimetype(filename))
        else:
            raise NotFound(f"There is no docs asset '{filename}'.")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


@lru_cache(maxsize=len(DOCS_FILES))
def _asset(filename: str) -> bytes:
    """Read once per worker: a handful of files, never a name taken from the request."""
    return (DOCS_ASSETS / filename).read_bytes()


def _mimetype(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class ProblemList(Resource):
    def get(self):
        """The catalogue of problem types: every `type` an error of this API can carry."""
        body = {"data": [CATALOGUE[slug].as_json() for slug in sorted(CATALOGUE)]}
        return body, 200, {"Cache-Control": "public, max-age=3600"}


class ProblemItem(Resource):
    def get(self, slug: str):
        """One problem type: what it means and what a client should do (its `type` URI)."""
        entry = CATALOGUE.get(slug)
        if entry is None:
            raise NotFound(f"There is no problem type '{slug}'; GET /problems lists them.")
        return entry.as_json(), 200, {"Cache-Control": "public, max-age=3600"}


ROOT_LINKS = {
    "docs": "/docs",
    "openapi": "/openapi.yaml",
    "health": "/healthz",
    "ready": "/readyz",
    "problems": "/problems",
    "api": "/api/v1/questions",
}


class Root(Resource):
    def get(self):
        """Where to start: links to the docs, the contract, health and the API."""
        body = {
            "name": "Question Bank API",
            "description": "A bank of technical interview questions, to browse and to practise on.",
            "links": ROOT_LINKS,
        }
        return body, 200, {"Cache-Control": "public, max-age=300"}
