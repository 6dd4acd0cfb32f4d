"""What `make bench` measures: each endpoint's requests, and a check that they answer."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from bench.settings import API, ENDPOINTS_ENV, ONE_QUESTION_IDS, SEARCHES
from tests.support.live import Server, direct_opener


@dataclass
class Endpoint:
    name: str
    paths: list[str]
    status: int
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    needs_token: bool = False
    # Extra environment for the app's server (the baseline is unaffected).
    env: dict[str, str] = field(default_factory=dict)


ENDPOINT_NAMES = [
    "questions page",
    "search",
    "search uncached",
    "random",
    "one question",
    "304 revalidation",
    "post attempt",
]


# BENCH_ENDPOINTS="search,post attempt" runs only those (development).
ENDPOINTS_RUN = [
    name
    for name in ENDPOINT_NAMES
    if not ENDPOINTS_ENV or name in {e.strip() for e in ENDPOINTS_ENV.split(",")}
]


def endpoints(max_id: int) -> list[Endpoint]:
    rng = random.Random(11)
    ids = [rng.randint(1, max_id) for _ in range(2000)]
    # One question: the same number of distinct ids at every bank size (all of the 1,000
    # bank), so that each size renders as many first reads before serving from the cache.
    distinct = rng.sample(range(1, max_id + 1), min(ONE_QUESTION_IDS, max_id))
    page = f"{API}/questions?page=1&per_page=20"
    return [
        Endpoint("questions page", [page], 200),
        Endpoint(
            "search",
            [f"{API}/questions?q={urllib.parse.quote(q)}" for q in SEARCHES],
            200,
        ),
        # The same searches with the response cache off: every request runs the query.
        Endpoint(
            "search uncached",
            [f"{API}/questions?q={urllib.parse.quote(q)}" for q in SEARCHES],
            200,
            env={"RESPONSE_CACHE_MAX_BYTES": "0"},
        ),
        Endpoint("random", [f"{API}/questions/random?count=10"], 200),
        Endpoint("one question", [f"{API}/questions/{i}" for i in distinct], 200),
        # If-None-Match is filled in from a first GET of the page (preflight).
        Endpoint("304 revalidation", [page], 304),
        Endpoint(
            "post attempt",
            [f"{API}/questions/{i}/attempts" for i in ids],
            201,
            method="POST",
            body=json.dumps({"self_rating": "good"}),
            needs_token=True,
        ),
    ]


def fetch(url: str, *, method: str, body: str, headers: dict[str, str]) -> tuple[int, bytes, dict]:
    data = body.encode() if body else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    if data:
        request.add_header("Content-Type", "application/json")
    try:
        with direct_opener.open(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def preflight(server: Server, ep: Endpoint) -> tuple[int, str]:
    """Check the app answers as expected; returns the mean body size and the ETag (for 304)."""
    sizes = []
    etag = ""
    for path in ep.paths[:5]:
        status, body, headers = fetch(
            server.base + path, method=ep.method, body=ep.body, headers=ep.headers
        )
        expected = 200 if ep.status == 304 else ep.status
        if status != expected:
            raise RuntimeError(f"{ep.name}: {ep.method} {path} answered {status}: {body[:500]!r}")
        sizes.append(len(body))
        etag = etag or headers.get("ETag", "")
    if ep.status == 304:
        if not etag:
            raise RuntimeError(f"{ep.name}: no ETag on {ep.paths[0]}")
        headers = {**ep.headers, "If-None-Match": etag}
        status, _, _ = fetch(server.base + ep.paths[0], method="GET", body="", headers=headers)
        if status != 304:
            raise RuntimeError(f"{ep.name}: If-None-Match {etag} answered {status}, not 304")
    return round(sum(sizes) / len(sizes)), etag
