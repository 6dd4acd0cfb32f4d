"""Concurrent attempts against a real gunicorn with several workers, on SQLite and PostgreSQL.

Many learners answer a few questions at once, so the same learner's card for a question is
moved by requests running side by side in different workers (the per-card lock: SELECT ...
FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite). Some requests are sent twice with the
same Idempotency-Key, the copy racing the original. Afterwards every attempt is stored
exactly once, every card counts every review (no lost update), the counts and stats the
API reports are exact, and nothing answered 5xx. No timings are asserted.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from api.practice.models import SELF_RATINGS
from tests.support.accounts import new_email, register
from tests.support.live import Client, Reply, app_env, flask_cli, gunicorn, http

WORKERS = 3
THREADS = 32
LEARNERS = 20
QUESTIONS = 4
QUESTIONS_PER_LEARNER = 3  # of the QUESTIONS, so the per-question totals differ
ATTEMPTS_PER_PAIR = (3, 10)  # inclusive range, per (learner, question) pair
DUPLICATES = 50
REQUEST_TIMEOUT = 30  # seconds, per HTTP request
# Limits that a test firing hundreds of writes from one address would otherwise hit.
LIMITS = {
    "RATELIMIT_REGISTRATIONS_PER_ADDRESS": "1000/hour",
    "RATELIMIT_WRITES": "100000/minute",
    "ATTEMPTS_PER_DAY": "100000",
    "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": "1000/minute",
    "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000/minute",
}


@dataclass(frozen=True)
class Job:
    learner: int  # index into the learners list
    question_id: int
    rating: str
    key: str
    duplicate: bool = False

    @property
    def passed(self) -> bool:
        return self.rating != "again"


def plan_attempts(question_ids: list[int], rng: random.Random) -> tuple[list[Job], list[Job]]:
    """The originals, and the whole send order with the duplicates next to their originals.

    A pair's attempts are sent back to back, so the workers take them up together and
    contend for the same card; each duplicate follows its original at once, to race it.
    """
    blocks: list[list[Job]] = []
    for learner in range(LEARNERS):
        for question_id in rng.sample(question_ids, QUESTIONS_PER_LEARNER):
            blocks.append(
                [
                    Job(learner, question_id, rng.choice(SELF_RATINGS), f"k-{uuid.uuid4()}")
                    for _ in range(rng.randint(*ATTEMPTS_PER_PAIR))
                ]
            )
    rng.shuffle(blocks)
    originals = [job for block in blocks for job in block]
    copied = {job.key for job in rng.sample(originals, DUPLICATES)}
    order: list[Job] = []
    for job in originals:
        order.append(job)
        if job.key in copied:
            order.append(Job(job.learner, job.question_id, job.rating, job.key, duplicate=True))
    return originals, order


def test_concurrent_attempts_are_stored_exactly_once(backend, database_factory, tmp_path):
    database_url = database_factory(backend, "qbank_concurrency")
    env = app_env(database_url, tmp_path, **LIMITS)
    flask_cli(env, "db", "upgrade")
    assert "created" in flask_cli(env, "seed")
    rng = random.Random(20240611)

    with gunicorn(env, workers=WORKERS) as base, ThreadPoolExecutor(THREADS) as pool:
        listing = http(
            "GET", f"{base}/api/v1/questions?per_page={QUESTIONS}&sort=id", timeout=REQUEST_TIMEOUT
        )
        assert listing.status == 200, listing.body
        question_ids = [q["id"] for q in listing.body["data"]]
        assert len(question_ids) == QUESTIONS

        server = Client(base, timeout=REQUEST_TIMEOUT)
        registered = list(
            pool.map(lambda i: register(server, new_email(f"learner{i}")), range(LEARNERS))
        )
        assert [r.status for r in registered] == [201] * LEARNERS, [r.body for r in registered]
        tokens = [r.body["access_token"] for r in registered]
        user_ids = [r.body["user"]["id"] for r in registered]

        originals, order = plan_attempts(question_ids, rng)
        assert len(originals) >= 300 and len(order) == len(originals) + DUPLICATES

        def attempt(job: Job) -> Reply:
            return http(
                "POST",
                f"{base}/api/v1/questions/{job.question_id}/attempts",
                token=tokens[job.learner],
                body={"self_rating": job.rating},
                key=job.key,
                timeout=REQUEST_TIMEOUT,
            )

        replies = list(pool.map(attempt, order))

        # Nothing failed, every request was answered as a fresh or a replayed 201.
        answered = [(job, r.status, r.body) for job, r in zip(order, replies, strict=True)]
        assert not [a for a in answered if a[1] >= 500], [a for a in answered if a[1] >= 500]
        assert not [a for a in answered if a[1] != 201], [a for a in answered if a[1] != 201]

        # One attempt per key: a duplicate gets the original's attempt back, and exactly one
        # of the two requests did the work while the other replayed it.
        by_key: dict[str, list[Reply]] = defaultdict(list)
        for job, reply in zip(order, replies, strict=True):
            by_key[job.key].append(reply)
        assert len(by_key) == len(originals)
        for key, sent in by_key.items():
            assert len({r.body["id"] for r in sent}) == 1, (key, [r.body for r in sent])
            fresh = [r for r in sent if r.headers.get("Idempotent-Replayed") != "true"]
            assert len(fresh) == 1, (key, [r.headers for r in sent])
        attempt_ids = [sent[0].body["id"] for sent in by_key.values()]
        assert len(set(attempt_ids)) == len(originals)
        for job in originals:
            (reply, *_) = by_key[job.key]
            assert reply.body["question_id"] == job.question_id
            assert reply.body["grade"]["passed"] is job.passed
            assert reply.body["self_rating"] == job.rating

        # What we sent, in exact counts.
        per_learner = Counter(job.learner for job in originals)
        passed_per_learner = Counter(job.learner for job in originals if job.passed)
        per_question = Counter(job.question_id for job in originals)
        passed_per_question = Counter(job.question_id for job in originals if job.passed)
        per_pair = Counter((user_ids[job.learner], job.question_id) for job in originals)
        lapses_per_pair = Counter(
            (user_ids[job.learner], job.question_id) for job in originals if not job.passed
        )

        # ... as the API reports them.
        for learner, token in enumerate(tokens):
            listed = http(
                "GET", f"{base}/api/v1/attempts?per_page=1", token=token, timeout=REQUEST_TIMEOUT
            )
            assert listed.status == 200, listed.body
            assert int(listed.headers["X-Total-Count"]) == per_learner[learner]
            stats = http("GET", f"{base}/api/v1/me/stats", token=token, timeout=REQUEST_TIMEOUT)
            assert stats.status == 200, stats.body
            assert stats.body["attempts"] == per_learner[learner]
            assert stats.body["passed"] == passed_per_learner[learner]
        for question_id in question_ids:
            stats = http(
                "GET", f"{base}/api/v1/questions/{question_id}/stats", timeout=REQUEST_TIMEOUT
            )
            assert stats.status == 200, stats.body
            assert stats.body["attempts"] == per_question[question_id]
            assert stats.body["passed"] == passed_per_question[question_id]
            assert stats.body["learners"] == len({p for p in per_pair if p[1] == question_id})

    # ... and as the database holds them: one card per pair that counted every review.
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            cards = {
                (user_id, question_id): (reviews, lapses)
                for user_id, question_id, reviews, lapses in connection.execute(
                    text("SELECT user_id, question_id, reviews, lapses FROM review_states")
                )
            }
            attempts = connection.execute(text("SELECT count(*) FROM attempts")).scalar_one()
            records = connection.execute(
                text("SELECT count(*) FROM idempotency_records")
            ).scalar_one()
    finally:
        engine.dispose()
    assert cards == {pair: (n, lapses_per_pair[pair]) for pair, n in per_pair.items()}
    assert attempts == len(originals)
    assert records == len(originals)
