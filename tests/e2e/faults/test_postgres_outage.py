"""PostgreSQL goes away under load, against a real gunicorn (2 workers) on loopback.

- PostgreSQL crashes (immediate stop): every request meanwhile is a quick 503 problem+json
  (never a 500, never a hang), /readyz says 503, and once the database is back the same
  worker processes serve again (dead pooled connections are replaced at checkout), with
  nothing half-written;
- a database that accepts connections and never answers is a 503 too, not a hang.

The PostgreSQL here is the fault tests' own (conftest.py), so stopping it cannot disturb the
session-wide one other tests use. Every wait is bounded; no timing is asserted beyond
"answered within the client timeout".
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable

from tests.support.faults import (
    LIMITS,
    TIMEOUT,
    Load,
    assert_answered_2xx_are_stored,
    assert_nothing_half_written,
    attempt,
    database,
    gunicorn_log,
    gunicorn_pids,
    new_learner,
    question_ids,
    read_stored,
)
from tests.support.live import (
    Reply,
    app_env,
    gunicorn,
    http,
)


def test_postgres_outage_is_503_and_the_same_workers_recover(pg, template, tmp_path):
    # synchronous_commit on: a 201 sent just before the crash must survive it (the test
    # cluster turns it off globally for speed, which would lose the last commits).
    url = database(pg, template, "qbank_faults_outage", synchronous_commit="on")
    env = app_env(url, tmp_path, **LIMITS)
    with gunicorn(env, workers=2) as base:
        master, workers = gunicorn_pids(env, base)
        assert len(workers) == 2, workers
        learner = new_learner(base)
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
            "/problems/database-unavailable",  # the query failed
            "/problems/revocation-store-unavailable",  # the token check came first
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
            assert {r.body["type"] for r in replies} == {"/problems/database-unavailable"}
