"""What the fault tests (tests/e2e/faults/) share: load on a live server, copies of a seeded
database, and what the database holds afterwards."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.accounts import new_email, register
from tests.support.live import HTTP_TIMEOUT, Client, Reply, children, http
from tests.support.servers import PgServer

TIMEOUT = HTTP_TIMEOUT  # seconds per HTTP request: an answer later than this counts as a hang
LIMITS = {  # one client address sends everything here
    "RATELIMIT_REGISTRATIONS_PER_ADDRESS": "1000/hour",
    "RATELIMIT_WRITES": "100000/minute",
    "ATTEMPTS_PER_DAY": "100000",
    "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": "1000/hour",
    "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000/hour",
}
TEMPLATE_DB = "qbank_faults_template"


def new_learner(base: str) -> dict:
    """A learner registered on the server at `base`: the tokens, the user and the email."""
    email = new_email("learner")
    reply = register(Client(base, timeout=TIMEOUT), email)
    assert reply.status == 201, reply.brief()
    return {**reply.body, "email": email}


def question_ids(base: str, count: int) -> list[int]:
    reply = http("GET", f"{base}/api/v1/questions?per_page={count}&sort=id")
    assert reply.status == 200, reply.brief()
    ids = [q["id"] for q in reply.body["data"]]
    assert len(ids) == count
    return ids


def attempt(base: str, token: str, question_id: int, key: str) -> Reply:
    return http(
        "POST",
        f"{base}/api/v1/questions/{question_id}/attempts",
        token=token,
        body={"self_rating": "good"},
        key=key,
    )


class Load:
    """Threads sending requests until stopped; every reply is kept, nothing raises."""

    def __init__(self, threads: int, make_request: Callable[[int, int], Reply]) -> None:
        self.replies: list[Reply] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._make = make_request
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def _run(self, thread: int) -> None:
        i = 0
        try:
            while not self._stop.is_set():
                reply = self._make(thread, i)
                i += 1
                with self._lock:
                    self.replies.append(reply)
        except Exception as exc:  # a bug here must fail the test, not warn from a thread
            self.errors.append(repr(exc))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + TIMEOUT + 10
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not [t for t in self._threads if t.is_alive()], "load threads did not finish"
        assert not self.errors, self.errors

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> list[Reply]:
        with self._lock:
            return list(self.replies)

    def wait_for(self, predicate: Callable[[list[Reply]], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not predicate(replies := self.snapshot()):
            if time.monotonic() > deadline:
                seen = Counter((r.method, r.path.split("?")[0], r.status, r.error) for r in replies)
                raise AssertionError(f"the load did not produce the replies expected: {seen}")
            time.sleep(0.05)


# --------------------------------------------------------------------------- processes


def gunicorn_pids(env: dict[str, str], base: str) -> tuple[int, set[int]]:
    """The master's pid (from gunicorn's log) and its current children (the workers)."""
    port = base.rsplit(":", 1)[1]
    log = Path(env["QBANK_INSTANCE_DIR"]) / f"gunicorn-{port}.log"
    found = re.search(r"Listening at: \S+ \((\d+)\)", log.read_text())
    assert found, log.read_text()[-2000:]
    master = int(found.group(1))
    return master, children(master)


def gunicorn_log(env: dict[str, str], base: str) -> str:
    port = base.rsplit(":", 1)[1]
    return (Path(env["QBANK_INSTANCE_DIR"]) / f"gunicorn-{port}.log").read_text()


def admin(server: PgServer) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )


def database(pg: PgServer, template: str, name: str, **settings: str) -> str:
    """A fresh copy of the seeded bank; `settings` become per-database GUCs."""
    with admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        for setting, value in settings.items():
            conn.execute(f'ALTER DATABASE "{name}" SET {setting} = {value}')
    return make_url(pg.url).set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Stored:
    attempts: dict[int, tuple[int, int]]  # attempt id -> (user id, question id)
    records: dict[tuple[int, str], int | None]  # (user id, key) -> attempt id in the body
    reviews: dict[tuple[int, int], int]  # (user id, question id) -> review count


def read_stored(url: str) -> Stored:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            attempts = {
                row.id: (row.user_id, row.question_id)
                for row in conn.execute(text("SELECT id, user_id, question_id FROM attempts"))
            }
            records = {}
            for row in conn.execute(text("SELECT user_id, key, body FROM idempotency_records")):
                body = row.body if isinstance(row.body, dict) else json.loads(row.body)
                records[(row.user_id, row.key)] = body.get("id")
            reviews = {
                (row.user_id, row.question_id): row.reviews
                for row in conn.execute(
                    text("SELECT user_id, question_id, reviews FROM review_states")
                )
            }
    finally:
        engine.dispose()
    return Stored(attempts, records, reviews)


def assert_nothing_half_written(stored: Stored) -> None:
    """Every attempt moved its card, and every replay record names a stored attempt."""
    per_pair = Counter(stored.attempts.values())
    assert stored.reviews == dict(per_pair), "review counts differ from the attempts stored"
    orphans = {k: a for k, a in stored.records.items() if a not in stored.attempts}
    assert not orphans, f"idempotency records without their attempt: {orphans}"
    assert len(stored.records) == len(stored.attempts)  # every attempt here was keyed


def assert_answered_2xx_are_stored(stored: Stored, replies: list[Reply], user_id: int) -> int:
    answered = [r for r in replies if r.key is not None and 200 <= r.status < 300]
    for reply in answered:
        attempt_id = reply.body["id"]
        assert stored.records.get((user_id, reply.key)) == attempt_id, reply.brief()
        assert stored.attempts.get(attempt_id) == (user_id, reply.body["question_id"])
    return len(answered)
