"""Fault tolerance against a real gunicorn (2 workers) on loopback, with servers of its own.

Each test takes a dependency away under load and checks what clients and the database see:

- PostgreSQL crashes (immediate stop): every request meanwhile is a quick 503 problem+json
  (never a 500, never a hang), /readyz says 503, and once the database is back the same
  worker processes serve again (dead pooled connections are replaced at checkout), with
  nothing half-written;
- SIGTERM to the gunicorn master while attempts are written: a graceful stop, after which
  every write that was answered 2xx is stored and no write is half done;
- Redis stops: rate limiting fails open to per-worker memory counting (still limiting),
  revocation checks fail closed with 503, and everything works again once Redis is back
  (see api/platform/ratelimit.py and api/accounts/sessions.py for the documented policy).

The PostgreSQL and Redis servers here belong to this module, so stopping them cannot
disturb the session-wide ones other tests use. Every wait is bounded; no timing is asserted
beyond "answered within the client timeout".
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import socket
import threading
import time
import urllib.error
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_client
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.live import (
    api_request,
    app_env,
    children,
    direct_opener,
    flask_cli,
    gunicorn,
    running,
)
from tests.support.servers import PgServer, postgres_server, redis_server

PROBLEM = "application/problem+json"
TIMEOUT = 15  # seconds per HTTP request: an answer later than this counts as a hang
PASSWORD = "correct horse battery staple"
LIMITS = {  # one client address sends everything here
    "RATELIMIT_REGISTRATIONS_PER_ADDRESS": "1000/hour",
    "RATELIMIT_WRITES": "100000/minute",
    "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": "1000/hour",
    "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000/hour",
}
TEMPLATE_DB = "qbank_faults_template"

# Loopback only: never through a proxy from the environment.


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    """One request's outcome; status 0 when no HTTP answer came (see `error`)."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    started: float
    ended: float
    error: str | None = None
    key: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.error == "timeout"

    @property
    def is_problem_503(self) -> bool:
        return (
            self.status == 503
            and self.headers.get("Content-Type", "").startswith(PROBLEM)
            and isinstance(self.body, dict)
            and self.body.get("status") == 503
            and int(self.headers.get("Retry-After", "0")) > 0
        )

    def brief(self) -> tuple:
        return (self.method, self.path, self.status, self.error, self.body)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    key: str | None = None,
) -> Reply:
    """One request with a client timeout; connection failures become a status-0 Reply."""
    request = api_request(method, url, token=token, body=body, key=key)
    path = url.split("/", 3)[-1]
    started = time.monotonic()

    def failed(error: str) -> Reply:
        return Reply(method, path, 0, {}, None, started, time.monotonic(), error, key)

    try:
        try:
            response = direct_opener.open(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            raw = response.read()
            status = response.status
            reply_headers = dict(response.headers.items())
    except urllib.error.URLError as exc:
        reason = exc.reason
        return failed("timeout" if isinstance(reason, TimeoutError) else repr(reason))
    except TimeoutError:
        return failed("timeout")
    except (OSError, HTTPException) as exc:
        return failed(repr(exc))
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:200]
    return Reply(method, path, status, reply_headers, parsed, started, time.monotonic(), None, key)


def register(base: str) -> dict:
    email = f"learner-{uuid.uuid4().hex[:12]}@example.com"
    reply = http(
        "POST", f"{base}/api/v1/auth/register", body={"email": email, "password": PASSWORD}
    )
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


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    with postgres_server() as server:
        yield server


def _admin(server: PgServer) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )


@pytest.fixture(scope="module")
def template(pg: PgServer, tmp_path_factory) -> str:
    """A migrated, seeded database each test copies (CREATE DATABASE ... TEMPLATE)."""
    with _admin(pg) as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = make_url(pg.url).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    env = app_env(url, tmp_path_factory.mktemp("faults-template"))
    flask_cli(env, "db", "upgrade")
    assert "created" in flask_cli(env, "seed")
    return TEMPLATE_DB


def database(pg: PgServer, template: str, name: str, **settings: str) -> str:
    """A fresh copy of the seeded bank; `settings` become per-database GUCs."""
    with _admin(pg) as conn:
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


# --------------------------------------------------------------------------- 1. PostgreSQL


def test_postgres_outage_is_503_and_the_same_workers_recover(pg, template, tmp_path):
    # synchronous_commit on: a 201 sent just before the crash must survive it (the test
    # cluster turns it off globally for speed, which would lose the last commits).
    url = database(pg, template, "qbank_faults_outage", synchronous_commit="on")
    env = app_env(url, tmp_path, **LIMITS)
    with gunicorn(env, workers=2) as base:
        master, workers = gunicorn_pids(env, base)
        assert len(workers) == 2, workers
        learner = register(base)
        token, user_id = learner["access_token"], learner["user"]["id"]
        questions = question_ids(base, 5)

        def request(thread: int, i: int) -> Reply:
            kind = (thread + i) % 3
            if kind == 0:
                return http("GET", f"{base}/api/v1/questions?per_page=5&topic=routing")
            if kind == 1:
                return http("GET", f"{base}/readyz")
            question = questions[(thread + i) % len(questions)]
            return attempt(base, token, question, f"outage-{uuid.uuid4()}")

        def answered(path: str, status: int, after: float) -> Callable[[list[Reply]], bool]:
            return lambda rs: any(
                r.path.startswith(path) and r.status == status and r.started > after for r in rs
            )

        try:
            with Load(3, request) as load:
                load.wait_for(lambda rs: sum(r.status == 201 for r in rs) >= 5, 30)
                stopping = time.monotonic()
                pg.stop(mode="immediate")
                down = time.monotonic()
                # Each kind of request is seen failing after the crash.
                for path in ("api/v1/questions?", "readyz", "api/v1/questions/"):
                    load.wait_for(answered(path, 503, down), 30)
                time.sleep(1.0)
                starting = time.monotonic()
                pg.start()
                up = time.monotonic()
                for path, ok in (
                    ("api/v1/questions?", 200),
                    ("readyz", 200),
                    ("api/v1/questions/", 201),
                ):
                    load.wait_for(answered(path, ok, up), 30)
        finally:
            pg.start()  # whatever failed: the next tests need the server

        replies = load.replies
        hung = [r.brief() for r in replies if r.timed_out]
        assert not hung, f"requests hung for {TIMEOUT} s: {hung[:5]}"
        unanswered = [r.brief() for r in replies if r.status == 0]
        assert not unanswered, unanswered[:5]
        # Never a 500: each reply is a success or the 503 problem, whenever it was sent.
        wrong = [r.brief() for r in replies if not (200 <= r.status < 300 or r.is_problem_503)]
        assert not wrong, wrong[:5]
        # Sent and answered while the server was down: all 503 problems.
        during = [r for r in replies if r.started >= down and r.ended <= starting]
        assert len(during) >= 3 and all(r.is_problem_503 for r in during)
        ready = [r for r in during if r.path == "readyz"]
        assert ready and all(r.body["title"] == "Service Unavailable" for r in ready)
        assert {r.body["type"] for r in during if r.path != "readyz"} <= {
            "urn:qbank:problem:database-unavailable",  # the query failed
            "urn:qbank:problem:revocation-store-unavailable",  # the token check came first
        }
        before = [r for r in replies if r.ended <= stopping]
        assert before and all(200 <= r.status < 300 for r in before)

        # Back without a restart: the same processes answer, all of them, again and again.
        after = [
            http("GET", f"{base}/readyz"),
            *[http("GET", f"{base}/api/v1/questions?per_page=3") for _ in range(6)],
            *[attempt(base, token, questions[0], f"after-{n}") for n in range(6)],
        ]
        assert all(200 <= r.status < 300 for r in after), [r.brief() for r in after]
        assert gunicorn_pids(env, base) == (master, workers)
        log = gunicorn_log(env, base)
        assert log.count("Booting worker") == 2
        assert "Error handling request" not in log  # nothing escaped the app's handlers

    stored = read_stored(url)
    assert_nothing_half_written(stored)
    sent = [*replies, *after]
    assert assert_answered_2xx_are_stored(stored, sent, user_id) >= 10


def test_a_database_that_never_answers_is_a_503_not_a_hang(tmp_path):
    """A listener that accepts TCP and stays silent, like a host that hangs: the connect
    timeout (config.DATABASE_CONNECT_TIMEOUT) turns the wait into a 503, well inside
    gunicorn's worker timeout and the client's."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
        port = silent.getsockname()[1]
        env = app_env(f"postgresql://nobody@127.0.0.1:{port}/qbank", tmp_path)
        with gunicorn(env, workers=2) as base:
            replies: list[Reply] = []
            threads = [
                threading.Thread(target=lambda p=p: replies.append(http("GET", f"{base}/{p}")))
                for p in ("readyz", "api/v1/questions?per_page=2")
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=TIMEOUT + 5)
            assert len(replies) == 2 and all(r.is_problem_503 for r in replies), [
                r.brief() for r in replies
            ]
            assert {r.body["type"] for r in replies} == {"urn:qbank:problem:database-unavailable"}


# --------------------------------------------------------------------------- 2. SIGTERM


def test_sigterm_during_writes_stops_gracefully_and_loses_no_answered_write(pg, template, tmp_path):
    url = database(pg, template, "qbank_faults_sigterm")
    env = app_env(url, tmp_path, **LIMITS)
    terminated = threading.Event()
    with gunicorn(env, workers=2) as base:
        master, workers = gunicorn_pids(env, base)
        learners = [register(base) for _ in range(3)]
        questions = question_ids(base, 4)

        def write(thread: int, i: int) -> Reply:
            rng = random.Random(thread * 100_003 + i)
            learner = rng.randrange(len(learners))
            reply = attempt(
                base,
                learners[learner]["access_token"],
                rng.choice(questions),
                f"sigterm-{learner}-{uuid.uuid4()}",
            )
            if reply.status == 0 and terminated.is_set():
                time.sleep(0.05)  # the server is going away: slow down, don't spin
            return reply

        with Load(6, write) as load:
            load.wait_for(lambda rs: sum(r.status == 201 for r in rs) >= 30, 60)
            sent_before = len(load.snapshot())
            terminated.set()
            os.kill(master, signal.SIGTERM)
            deadline = time.monotonic() + 40  # graceful_timeout (20 s) and some
            while running(master) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not running(master), "gunicorn did not stop after SIGTERM"
        replies = load.replies
        assert not [w for w in workers if running(w)], "a worker outlived the master"
        log = gunicorn_log(env, base)
        assert "Handling signal: term" in log and "Shutting down: Master" in log, log[-3000:]
        assert "WORKER TIMEOUT" not in log and "SIGKILL" not in log, log[-3000:]
        assert "Error handling request" not in log, log[-3000:]

    # Before the signal everything was a 201; afterwards a 201 or no answer at all.
    assert all(r.status == 201 for r in replies[:sent_before]), [
        r.brief() for r in replies[:sent_before] if r.status != 201
    ][:5]
    wrong = [r.brief() for r in replies if r.status not in (0, 201) or r.timed_out]
    assert not wrong, wrong[:5]
    assert any(r.status == 0 for r in replies)  # the load did outlast the server

    stored = read_stored(url)
    assert_nothing_half_written(stored)
    answered = 0
    for n, learner in enumerate(learners):
        mine = [r for r in replies if r.key and r.key.startswith(f"sigterm-{n}-")]
        answered += assert_answered_2xx_are_stored(stored, mine, learner["user"]["id"])
    assert answered == sum(r.status == 201 for r in replies) >= 30
    # What was stored is what was answered, plus at most the requests cut off mid-way.
    assert answered <= len(stored.attempts) <= answered + sum(r.status == 0 for r in replies)


# --------------------------------------------------------------------------- 3. Redis


def login(base: str, email: str, password: str = PASSWORD) -> Reply:
    return http("POST", f"{base}/api/v1/auth/login", body={"email": email, "password": password})


FELL_BACK = "Rate limit storage unreachable - falling back to in-memory storage"
RECOVERED = "Rate limit storage recovered"


def failed_logins(base: str, email: str, count: int) -> list[int]:
    return [login(base, email, "not the password at all").status for _ in range(count)]


def test_redis_outage_fails_open_for_limits_and_closed_for_revocation(pg, template, tmp_path):
    url = database(pg, template, "qbank_faults_redis")
    with redis_server() as redis:
        limits = {**LIMITS, "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "3/hour"}
        env = app_env(url, tmp_path, REDIS_URL=redis.url, **limits)
        with gunicorn(env, workers=2) as base:
            questions = question_ids(base, 1)
            learner = register(base)
            access, refresh = learner["access_token"], learner["refresh_token"]
            other = login(base, learner["email"])
            assert other.status == 200, other.brief()
            logout = http("POST", f"{base}/api/v1/auth/logout", token=other.body["refresh_token"])
            assert logout.status == 204, logout.brief()
            logged_out = other.body["access_token"]
            for _ in range(4):  # both workers see the revocation (shared in Redis)
                assert http("GET", f"{base}/api/v1/me", token=logged_out).status == 401
                assert http("GET", f"{base}/api/v1/me", token=access).status == 200
            # Shared counting: exactly three failures per account, whichever worker answers.
            assert failed_logins(base, learner["email"], 5) == [401, 401, 401, 429, 429]

            redis.stop()
            try:
                # Anonymous reads need no Redis; a login still works.
                assert http("GET", f"{base}/api/v1/questions?per_page=2").status == 200
                fresh = login(base, learner["email"])
                assert fresh.status == 200, fresh.brief()
                # Fail open: failed logins are still counted and limited, per worker now, so
                # three per worker get through before the 429s start. Never a 5xx.
                outage_email = f"outage-{uuid.uuid4().hex[:8]}@example.com"
                statuses = failed_logins(base, outage_email, 12)
                assert set(statuses) <= {401, 429}, statuses
                assert 3 <= statuses.count(401) <= 6 and 429 in statuses, statuses
                # Fail closed: no token can be checked, so none is accepted; the logged-out
                # one included. The same quick 503 problem for reads, writes and logout.
                refused = [
                    http("GET", f"{base}/api/v1/me", token=logged_out),
                    http("GET", f"{base}/api/v1/me", token=access),
                    http("GET", f"{base}/api/v1/me", token=fresh.body["access_token"]),
                    attempt(base, access, questions[0], f"redis-{uuid.uuid4()}"),
                    http("POST", f"{base}/api/v1/auth/refresh", token=refresh),
                    http("POST", f"{base}/api/v1/auth/logout", token=refresh),
                ]
                assert all(r.is_problem_503 for r in refused), [r.brief() for r in refused]
                assert {r.body["type"] for r in refused} == {
                    "urn:qbank:problem:revocation-store-unavailable"
                }
            finally:
                redis.start()
            assert FELL_BACK in gunicorn_log(env, base)

            # Back: tokens are checked against Redis again (it kept no data: --save "").
            deadline = time.monotonic() + 20
            while http("GET", f"{base}/api/v1/me", token=access).status != 200:
                assert time.monotonic() < deadline, "revocation checks did not recover"
                time.sleep(0.2)
            assert attempt(base, access, questions[0], f"redis-{uuid.uuid4()}").status == 201
            logout = http("POST", f"{base}/api/v1/auth/logout", token=refresh)
            assert logout.status == 204, logout.brief()
            for _ in range(4):
                assert http("GET", f"{base}/api/v1/me", token=access).status == 401
            # ... and the limiter goes back to the shared counts once its back-off expires.
            # Each worker that fell back logged it once, and pings Redis again on one of its
            # own writes (a back-off of up to 32 s) and logs its recovery. Until every one
            # has, six failures could all reach one worker still counting in memory and look
            # shared by chance, so first wait until no worker is left on the fallback.
            deadline = time.monotonic() + 60
            while (log := gunicorn_log(env, base)).count(RECOVERED) < log.count(FELL_BACK):
                statuses = failed_logins(base, f"poke-{uuid.uuid4().hex[:8]}@example.com", 2)
                assert statuses == [401, 401], statuses
                assert time.monotonic() < deadline, f"a worker still counts in memory:\n{log}"
                time.sleep(0.5)
            email = f"after-{uuid.uuid4().hex[:8]}@example.com"
            assert failed_logins(base, email, 6) == [401, 401, 401, 429, 429, 429]
            # ... counted in Redis: the account's counter (keyed by a hash, never the email).
            digest = hashlib.sha256(email.encode()).hexdigest()[:32]
            client = redis_client.Redis.from_url(redis.url)
            try:
                keys = client.keys(f"*account:{digest}*")
                assert [int(client.get(key)) for key in keys] == [3], keys
                assert not client.keys(f"*{email}*")
            finally:
                client.close()
