"""What `make bench` measures: each endpoint's requests, and a check that they answer."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

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
    # Request i has body bodies[i % len] (else `body`) and the bearer token
    # tokens[i % len]: many learners, each request as one of them.
    bodies: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    # A new Idempotency-Key on every request (wrk.lua makes them), as an app that may
    # retry sends it; the API then stores each key with its response.
    idempotency: bool = False
    # The `kind` a posted attempt must come back with (checked before the run).
    expect_kind: str = ""
    # Extra environment for the app's server (the baseline is unaffected).
    env: dict[str, str] = field(default_factory=dict)

    def request(self, i: int) -> tuple[str, str, dict[str, str]]:
        """The i-th request's path, body and headers (as wrk.lua cycles through them)."""
        headers = dict(self.headers)
        if self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[i % len(self.tokens)]}"
        if self.idempotency:
            headers["Idempotency-Key"] = f"preflight-{uuid.uuid4().hex}"
        body = self.bodies[i % len(self.bodies)] if self.bodies else self.body
        return self.paths[i % len(self.paths)], body, headers

    def lines(self) -> list[str]:
        """wrk.lua's requests, one a line: path, then a tab and the body, a tab and the
        bearer token when they vary per request."""
        count = max(len(self.paths), len(self.bodies), len(self.tokens))
        out = []
        for i in range(count):
            fields = [self.paths[i % len(self.paths)]]
            if self.bodies or self.tokens:
                fields.append(self.bodies[i % len(self.bodies)] if self.bodies else "")
            if self.tokens:
                fields.append(self.tokens[i % len(self.tokens)])
            out.append("\t".join(fields))
        return out


ENDPOINT_NAMES = [
    "questions page",
    "search",
    "search uncached",
    "random",
    "one question",
    "304 revalidation",
    "through Flask",
    "post attempt",
    "post self-rating",
    "review queue",
    "my stats",
    "my attempts",
]
# Rows that need the learners' tokens (bench/data.py `learners`).
LEARNER_ROWS = {"post attempt", "post self-rating", "review queue", "my stats", "my attempts"}


# BENCH_ENDPOINTS="search,post attempt" runs only those (development).
ENDPOINTS_RUN = [
    name
    for name in ENDPOINT_NAMES
    if not ENDPOINTS_ENV or name in {e.strip() for e in ENDPOINTS_ENV.split(",")}
]


# A learner's typed answer of about 40 words: an opening, the key points it mentions,
# then ordinary sentences until it is long enough.
_OPENINGS = (
    "I think the main idea is that",
    "As far as I remember,",
    "In short, the answer is that",
    "From what I read in the docs,",
    "My understanding is that",
)
_FILLER = (
    "This matters when the application runs behind a proxy in production.",
    "I am not completely sure about the details, but I have seen it used this way.",
    "It is usually configured once when the app starts and then reused by every request.",
    "Getting it wrong tends to show up later as slow pages or confusing errors.",
    "The documentation has an example that shows the same thing with a small project.",
    "We used something similar at work and it made the code easier to test.",
)
ANSWER_WORDS = 40
FLOOR_ORIGIN = "http://app.bench.example"


def free_text_answer(rng: random.Random, key_points: list[str]) -> str:
    """About ANSWER_WORDS words naming none, some or all of the question's key points."""
    hit = rng.choices(range(len(key_points) + 1), weights=range(1, len(key_points) + 2))[0]
    named = rng.sample(key_points, hit)
    if named:
        verb = "is" if len(named) == 1 else "are"
        core = " and ".join(f"the {point}" for point in named) + f" {verb} what matters here."
    else:
        core = "it mostly depends on how the project is set up."
    words = f"{rng.choice(_OPENINGS)} {core}".split()
    filler = list(_FILLER)
    rng.shuffle(filler)
    for sentence in filler:
        if len(words) >= ANSWER_WORDS - 6:
            break
        words += sentence.split()
    return " ".join(words)


def endpoints(max_id: int, learners: dict[str, Any]) -> list[Endpoint]:
    """Every row's requests; `learners` is bench/data.py `learners`' output (tokens of many
    learners, open questions with their key points)."""
    rng = random.Random(11)
    ids = [rng.randint(1, max_id) for _ in range(2000)]
    # One question: the same number of distinct ids at every bank size (all of the 1,000
    # bank), so that each size renders as many first reads before serving from the cache.
    distinct = rng.sample(range(1, max_id + 1), min(ONE_QUESTION_IDS, max_id))
    page = f"{API}/questions?page=1&per_page=20"
    tokens = learners["tokens"]
    opens = learners["open_questions"]
    answer_rng = random.Random(17)
    answers = [free_text_answer(answer_rng, q["key_points"]) for q in opens]
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
        # The floor of any request Flask handles: one cached question asked with an Origin,
        # which the cache middleware leaves to Flask (flask-cors answers it), where
        # `_serve_cached` answers it before any handler: routing, the request id, the
        # hooks, CORS and security headers, the access log, the session's teardown, and
        # no query but the version read. No row that reaches a handler can beat it.
        Endpoint(
            "through Flask",
            [f"{API}/questions/{distinct[0]}"],
            200,
            headers={"Origin": FLOOR_ORIGIN},
            env={"CORS_ORIGINS": FLOOR_ORIGIN},
        ),
        # A typed answer of ~40 words to an open question with key points, graded by the
        # API; each request from the next of many learners, with its own Idempotency-Key.
        Endpoint(
            "post attempt",
            [f"{API}/questions/{q['id']}/attempts" for q in opens],
            201,
            method="POST",
            bodies=[json.dumps({"answer": answer}) for answer in answers],
            tokens=tokens,
            idempotency=True,
            expect_kind="free_text",
        ),
        # The previous table's row: a self-rating (no grading), now from many learners too.
        Endpoint(
            "post self-rating",
            [f"{API}/questions/{i}/attempts" for i in ids],
            201,
            method="POST",
            body=json.dumps({"self_rating": "good"}),
            tokens=tokens,
            idempotency=True,
            expect_kind="self_rating",
        ),
        # What a learner's app reads after each answer, as many learners.
        Endpoint("review queue", [f"{API}/review"], 200, tokens=tokens),
        Endpoint("my stats", [f"{API}/me/stats"], 200, tokens=tokens),
        Endpoint("my attempts", [f"{API}/attempts"], 200, tokens=tokens),
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
    for i in range(5):
        path, data, sent = ep.request(i)
        status, body, headers = fetch(server.base + path, method=ep.method, body=data, headers=sent)
        expected = 200 if ep.status == 304 else ep.status
        if status != expected:
            raise RuntimeError(f"{ep.name}: {ep.method} {path} answered {status}: {body[:500]!r}")
        if ep.expect_kind:
            reply = json.loads(body)
            if reply.get("kind") != ep.expect_kind or reply["grade"].get("score") is None:
                raise RuntimeError(f"{ep.name}: {path} was not graded as {ep.expect_kind}: {reply}")
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
