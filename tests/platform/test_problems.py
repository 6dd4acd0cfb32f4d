"""The catalogue of problem types (api/platform/problems.py): every type the API can send
is in it, resolvable on the server, and listed in openapi.yaml; none is about:blank."""

from __future__ import annotations

import re

import pytest
import yaml

from api.platform.problems import CATALOGUE, HTTP_SLUGS, TYPE_PREFIX
from api.platform.serving import _SLUGS as SERVER_SLUGS
from tests.support.live import ROOT

SLUG_LITERAL = re.compile(r'slug(?:: str)?\s*=\s*"([a-z0-9-]+)"|slug="([a-z0-9-]+)"')


def slugs_in_code() -> set[str]:
    found = set()
    for path in (ROOT / "api").rglob("*.py"):
        for match in SLUG_LITERAL.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found - {"slug"}


def test_every_type_the_code_can_send_is_in_the_catalogue():
    sent = slugs_in_code() | set(HTTP_SLUGS.values()) | set(SERVER_SLUGS.values())
    template = (ROOT / "deploy" / "nginx" / "api.conf.template").read_text()
    sent |= set(re.findall(r'"type":"/problems/([a-z0-9-]+)"', template))
    assert sent - set(CATALOGUE) == set()
    assert len(CATALOGUE) >= 30


def test_every_entry_says_what_it_means_and_what_to_do():
    for slug, entry in CATALOGUE.items():
        assert entry.type == f"{TYPE_PREFIX}{slug}"
        assert 400 <= entry.status <= 599
        assert entry.title and entry.meaning.endswith((".", ")")) and entry.action


def test_the_catalogue_is_served(client):
    listing = client.get("/problems")
    assert listing.status_code == 200
    assert [entry["slug"] for entry in listing.json["data"]] == sorted(CATALOGUE)
    for entry in listing.json["data"]:
        one = client.get(entry["type"])  # the type URI resolves on the server
        assert one.status_code == 200
        assert one.json == entry
        assert one.headers["Cache-Control"] == "public, max-age=3600"
        assert (
            client.get(entry["type"], headers={"If-None-Match": one.headers["ETag"]}).status_code
            == 304
        )


def test_an_unknown_type_is_a_404_problem(client, assert_problem):
    assert_problem(client.get("/problems/no-such-thing"), 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "slug"),
    [
        ("DELETE", "/api/v1/tags", {}, 405, "method-not-allowed"),
        ("GET", "/nowhere", {}, 404, "not-found"),
        (
            "POST",
            "/api/v1/auth/login",
            {"data": "x", "content_type": "text/plain"},
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            {"data": "x" * (1024 * 1024 + 1), "content_type": "application/json"},
            413,
            "content-too-large",
        ),
    ],
)
def test_plain_http_errors_have_a_type_of_their_own(
    client, assert_problem, method, path, kwargs, status, slug
):
    assert_problem(client.open(path, method=method, **kwargs), status, slug)


def test_the_contract_lists_the_catalogue():
    text = (ROOT / "openapi.yaml").read_text()
    spec = yaml.safe_load(text)
    parameter = spec["paths"]["/problems/{slug}"]["get"]["parameters"][0]
    assert parameter["schema"]["enum"] == sorted(CATALOGUE)
    assert "about:blank" not in text
    mentioned = set(re.findall(r"/problems/([a-z0-9]+(?:-[a-z0-9]+)*)", text))
    assert mentioned <= set(CATALOGUE), sorted(mentioned - set(CATALOGUE))
