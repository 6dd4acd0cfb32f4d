"""The response cache (api/platform/http_cache.py) and the bank version it is keyed by.

What a cached answer must be: byte for byte and header for header what the app renders
without the cache, and never older than the last committed write to the bank, whoever
made it (this app, another worker, SQL from outside).
"""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import create_engine, text

from api.config import TestConfig
from api.extensions import db
from api.platform import bank_revision as versioning
from api.platform.http_cache import CACHEABLE_PATH, response_cache
from tests.support.accounts import login_headers, make_user
from tests.support.apps import seed_bank_into, seeded_database, temporary_app

Q = "/api/v1/questions"
ORIGIN = "https://app.example"
READS = [
    f"{Q}?page=1&per_page=5",
    f"{Q}?per_page=3&sort=-updated_at&include=answer",
    f"{Q}?q=blueprint",
    f"{Q}?topic=routing&difficulty=easy",
    f"{Q}/1",
    f"{Q}/2?include=answer",
    "/api/v1/topics",
    "/api/v1/topics/routing",
    "/api/v1/tags?sort=-question_count",
]
# Differs per request by design; everything else must be identical.
PER_REQUEST = {"X-Request-ID", "Date"}


@pytest.fixture(scope="module")
def bank_url(backend, database_factory) -> str:
    """The curated bank, in a database of this module's own: some tests here write."""
    return seeded_database(database_factory, backend, "qbank_cache")


@pytest.fixture()
def cached(bank_url):
    with temporary_app(bank_url, CORS_ORIGINS=[ORIGIN]) as app:
        yield app


@pytest.fixture()
def uncached(bank_url):
    with temporary_app(bank_url, CORS_ORIGINS=[ORIGIN], RESPONSE_CACHE_MAX_BYTES=0) as app:
        yield app


def _headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_REQUEST}


def _version(app) -> int | None:
    with app.app_context():
        value = versioning.current()
        db.session.remove()
        return value


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("origin", [None, ORIGIN], ids=["no-origin", "cors"])
def test_cached_answers_match_rendered_ones(cached, uncached, method, origin):
    """A hit (FastReads, or Flask for CORS requests) equals a fresh rendering exactly."""
    headers = {"Origin": origin} if origin else {}
    hot, cold = cached.test_client(), uncached.test_client()
    for url in READS:
        first = hot.open(url, method=method, headers=headers)
        assert first.status_code == 200, (url, first.get_data(as_text=True))
        hit = hot.open(url, method=method, headers=headers)
        fresh = cold.open(url, method=method, headers=headers)
        assert hit.status_code == fresh.status_code == 200
        assert hit.get_data() == fresh.get_data() == first.get_data(), url
        assert _headers(hit) == _headers(fresh), url
        assert hit.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert len(response_cache(cached)) == len(READS)


@pytest.mark.parametrize("auth", [False, True], ids=["anonymous", "signed-in"])
def test_cached_revalidation_matches_rendered_one(cached, uncached, auth):
    headers = login_headers(cached, make_user(cached)) if auth else {}
    hot, cold = cached.test_client(), uncached.test_client()
    for url in READS:
        etag = hot.get(url, headers=headers).headers["ETag"]
        conditional = {**headers, "If-None-Match": etag}
        hit = hot.get(url, headers=conditional)
        fresh = cold.get(url, headers=conditional)
        assert hit.status_code == fresh.status_code == 304, url
        assert hit.get_data() == fresh.get_data() == b""
        assert _headers(hit) == _headers(fresh), url
        scope = "private" if auth else "public"
        assert hit.headers["Cache-Control"] == f"{scope}, no-cache"
        # A stale tag is answered in full.
        other = hot.get(url, headers={**headers, "If-None-Match": '"stale"'})
        assert other.status_code == 200 and other.headers["ETag"] == etag


# (If-Match, If-None-Match) -> status; "E" stands for the resource's current ETag.
PRECONDITIONS = [
    (("*", None), 200),
    (('"E"', None), 200),
    (('"other", "E"', None), 200),
    (('"other"', None), 412),
    (('W/"E"', None), 412),  # If-Match compares strongly: a weak tag never matches
    ((None, '"E"'), 304),
    ((None, 'W/"E"'), 304),  # If-None-Match compares weakly
    ((None, "*"), 304),
    ((None, '"other"'), 200),
    (('"other"', '"E"'), 412),  # If-Match is evaluated first
    (("*", '"E"'), 304),
]


@pytest.mark.parametrize("origin", [None, ORIGIN], ids=["middleware", "flask"])
def test_preconditions_on_reads_follow_rfc_9110(cached, uncached, origin):
    """Every path that answers a GET (the middleware's hit, Flask's cached answer with CORS,
    a fresh rendering) evaluates If-Match and If-None-Match the same way, as RFC 9110
    section 13.2.2 says: `If-Match: *` on a GET is no 412, a weak If-None-Match is a 304."""
    base = {"Origin": origin} if origin else {}
    for app in (cached, uncached):
        client = app.test_client()
        for url in (f"{Q}/1", "/api/v1/topics", f"{Q}?per_page=2"):
            etag = client.get(url, headers=base).headers["ETag"]
            assert not etag.startswith("W/")
            bare = etag.strip('"')
            for (if_match, if_none_match), status in PRECONDITIONS:
                headers = dict(base)
                if if_match:
                    headers["If-Match"] = if_match.replace("E", bare)
                if if_none_match:
                    headers["If-None-Match"] = if_none_match.replace("E", bare)
                response = client.get(url, headers=headers)
                assert response.status_code == status, (url, headers)
                if status == 412:
                    assert response.mimetype == "application/problem+json"
                    assert response.json["type"] == "/problems/precondition-failed"
                if status == 304:
                    assert response.get_data() == b"" and response.headers["ETag"] == etag


def test_a_request_id_is_echoed_and_logged_once_on_a_hit(cached, caplog):
    client = cached.test_client()
    client.get(READS[0])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="api.access"):
        hit = client.get(READS[0], headers={"X-Request-ID": "trace-42"})
    assert hit.headers["X-Request-ID"] == "trace-42"
    lines = [r for r in caplog.records if r.name == "api.access"]
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["request_id"] == "trace-42"
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", Q, 200)
    assert fields["user_id"] is None and fields["duration_ms"] >= 0


def test_editor_writes_are_seen_at_once(cached):
    client = cached.test_client()
    editor = login_headers(cached, make_user(cached, "editor"))
    url = f"{Q}/3"
    before = client.get(url)
    listing = client.get(f"{Q}?per_page=5")
    assert client.get(url).get_data() == before.get_data()  # now a hit
    prompt = f"{before.get_json()['prompt']} (edited)"
    changed = client.patch(
        url, json={"prompt": prompt}, headers={**editor, "If-Match": before.headers["ETag"]}
    )
    assert changed.status_code == 200
    after = client.get(url)
    assert after.get_json()["prompt"] == prompt
    assert after.headers["ETag"] != before.headers["ETag"]
    revalidated = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert revalidated.status_code == 200
    # The list changed version too, though question 3's row is not on its first page.
    assert client.get(f"{Q}?per_page=5", headers={"If-None-Match": listing.headers["ETag"]})
    restore = client.patch(
        url,
        json={"prompt": before.get_json()["prompt"]},
        headers={**editor, "If-Match": after.headers["ETag"]},
    )
    assert restore.status_code == 200


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE questions SET prompt = prompt || ' (sql)' WHERE id = 4",
        "UPDATE topics SET name = name || ' (sql)' WHERE slug = 'routing'",
        "DELETE FROM question_tags WHERE question_id = 4",
        "DELETE FROM question_topics WHERE question_id = 4",
        "UPDATE tags SET slug = slug || '-sql' WHERE id = (SELECT min(id) FROM tags)",
    ],
)
def test_writes_from_outside_the_app_are_seen_at_once(backend, database_factory, statement):
    """Another worker, replica or a psql session: the triggers change the version."""
    url = database_factory(backend, "qbank_cache_sql")
    with (
        temporary_app(url, build=True) as app,
        temporary_app(url, RESPONSE_CACHE_MAX_BYTES=0) as fresh,
    ):
        seed_bank_into(app)
        client = app.test_client()
        reads = [
            f"{Q}/4",
            f"{Q}?per_page=100",
            "/api/v1/topics/routing",
            "/api/v1/tags?per_page=100",
        ]
        before = {read: client.get(read).get_data() for read in reads}
        assert all(client.get(read).get_data() == before[read] for read in reads)  # hits
        version = _version(app)
        engine = create_engine(TestConfig(url).SQLALCHEMY_DATABASE_URI)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()
        assert _version(app) != version
        now = {read: client.get(read).get_data() for read in reads}
        assert any(now[read] != before[read] for read in reads)
        for read in reads:  # each answer is what a fresh rendering says
            assert now[read] == fresh.test_client().get(read).get_data(), read


def test_practice_writes_leave_the_bank_version_alone(cached):
    """Attempts are not bank writes: the cached bank stays valid through them."""
    learner = login_headers(cached, make_user(cached))
    version = _version(cached)
    client = cached.test_client()
    posted = client.post(f"{Q}/5/attempts", json={"self_rating": "good"}, headers=learner)
    assert posted.status_code == 201, posted.get_json()
    assert _version(cached) == version


def test_the_cache_stays_within_its_byte_budget(bank_url):
    budget = 20_000
    with temporary_app(bank_url, RESPONSE_CACHE_MAX_BYTES=budget) as app:
        client = app.test_client()
        for n in range(1, 40):
            assert client.get(f"{Q}/{n}").status_code == 200
        # Larger than the whole budget: served every time, never kept.
        big = client.get(f"{Q}?per_page=100&include=answer")
        assert big.status_code == 200 and len(big.get_data()) > budget
        assert client.get(f"{Q}?per_page=100&include=answer").get_data() == big.get_data()
        cache = response_cache(app)
        assert 0 < cache.size <= budget
        assert len(cache) < 39


def test_failed_reads_are_not_cached(cached):
    client = cached.test_client()
    for _ in range(2):
        bad = client.get(f"{Q}?per_page=0")
        assert bad.status_code == 400
        assert bad.headers["Content-Type"] == "application/problem+json"
        assert client.get(f"{Q}/999999").status_code == 404
    assert len(response_cache(cached)) == 0


def test_the_version_row_is_created_with_the_schema(cached):
    assert isinstance(_version(cached), int)
    body = json.loads(cached.test_client().get("/api/v1/topics").get_data())
    assert body["meta"]["total"] > 0


@pytest.mark.parametrize(
    ("path", "cacheable"),
    [
        (Q, True),
        (f"{Q}/", True),
        (f"{Q}/12", True),
        ("/api/v1/topics", True),
        ("/api/v1/topics/routing", True),
        ("/api/v1/tags", True),
        (f"{Q}/random", False),
        (f"{Q}/export", False),
        (f"{Q}/12/stats", False),
        ("/api/v1/me", False),
        ("/api/v1/review", False),
        ("/healthz", False),
        ("/readyz", False),
    ],
)
def test_only_cacheable_paths_read_the_version_before_flask(path, cacheable):
    assert bool(CACHEABLE_PATH.fullmatch(path)) is cacheable
