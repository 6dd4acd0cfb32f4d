"""Rate limits hold across gunicorn's workers without Redis (the SQLite counter file).

Counted per process, "N failed logins per account" let N times the workers through and
X-RateLimit-Remaining depended on which worker answered. Here several workers answer one
address's failed logins in turn: exactly N are let through, the remaining count falls by
one with every failure whichever worker answers, and the next is a 429 problem with
Retry-After. Sent all at once, still exactly N are let through: an attempt is counted as
it is let in, not after its answer (when every worker could pass the check at once).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.accounts import new_email, register
from tests.support.live import Client, app_env, flask_cli, http, serve
from tests.support.problems import PROBLEM

WORKERS = 3
FAILURES = 12  # allowed per account; enough requests for every worker to answer some
LOGIN = "/api/v1/auth/login"


def test_failed_logins_are_counted_across_workers(backend, database_factory, tmp_path):
    database_url = database_factory(backend, "qbank_limits_live")
    env = app_env(
        database_url,
        tmp_path,
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT=f"{FAILURES}/hour",
        RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="1000/hour",
    )
    flask_cli(env, "db", "upgrade")
    with serve(env, app="tests.support.live:pid_tagged_app()", workers=WORKERS) as server:
        # Which worker accepts a connection is the kernel's choice: on a busy machine one
        # may take a whole round. Such a round proves nothing across workers, so a new
        # account gets a new round, a bounded number of times.
        for _round in range(6):
            email = new_email()
            assert register(Client(server.base), email).status == 201
            replies = [
                http("POST", server.base + LOGIN, body={"email": email, "password": "wrong" * 3})
                for _ in range(FAILURES + 1)
            ]
            if len({r.headers["X-Worker-Pid"] for r in replies}) > 1:
                break
    assert len({r.headers["X-Worker-Pid"] for r in replies}) > 1, "one worker answered all"
    *allowed, refused = replies
    assert [r.status for r in allowed] == [401] * FAILURES
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in allowed]
    assert remaining == list(range(FAILURES - 1, -1, -1))
    assert {r.headers["X-RateLimit-Limit"] for r in allowed} == {str(FAILURES)}
    assert refused.status == 429
    assert refused.headers["Content-Type"].startswith(PROBLEM)
    assert refused.body["status"] == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # The counters are in the instance directory's SQLite file, not in any worker.
    assert (tmp_path / "ratelimits.sqlite3").exists()


def test_failed_logins_sent_at_once_are_counted_exactly(backend, database_factory, tmp_path):
    database_url = database_factory(backend, "qbank_limits_burst")
    env = app_env(
        database_url,
        tmp_path,
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="5/hour",
        RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="1000/hour",
    )
    flask_cli(env, "db", "upgrade")
    with serve(env, workers=WORKERS) as server, ThreadPoolExecutor(4 * WORKERS) as pool:
        email = new_email()
        assert register(Client(server.base), email).status == 201

        def guess(_: int):
            return http("POST", server.base + LOGIN, body={"email": email, "password": "x" * 12})

        statuses = sorted(reply.status for reply in pool.map(guess, range(4 * WORKERS)))
    assert statuses == [401] * 5 + [429] * (4 * WORKERS - 5)
