"""Refresh tokens rotate: the same refresh token sent several times at once, to a real
gunicorn with several workers, on SQLite and PostgreSQL (the migrated schema).

At most one of the racing refreshes gets new tokens; every other one is a reuse (401),
which revokes the session, so even the winner's new tokens end with it. Nothing answers
5xx. No timings are asserted.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.support.accounts import DEFAULT_PASSWORD, new_email, register
from tests.support.live import Client, Reply, app_env, flask_cli, gunicorn, http

WORKERS = 3
RACERS = 4  # the same refresh token, sent this many times at once
ROUNDS = 6  # one new session per round
REQUEST_TIMEOUT = 30  # seconds, per HTTP request
REFUSED = {"/problems/refresh-token-reused", "/problems/token-revoked"}
LIMITS = {"RATELIMIT_WRITES": "100000/minute"}


def test_concurrent_refreshes_with_one_token_let_at_most_one_through(
    backend, database_factory, tmp_path
):
    env = app_env(database_factory(backend, "qbank_refresh_race"), tmp_path, **LIMITS)
    flask_cli(env, "db", "upgrade")
    with gunicorn(env, workers=WORKERS) as base, ThreadPoolExecutor(RACERS) as pool:
        email = new_email("racer")
        registered = register(Client(base, timeout=REQUEST_TIMEOUT), email)
        assert registered.status == 201, registered.body

        for _ in range(ROUNDS):
            login = http(
                "POST",
                f"{base}/api/v1/auth/login",
                body={"email": email, "password": DEFAULT_PASSWORD},
                timeout=REQUEST_TIMEOUT,
            )
            assert login.status == 200, login.body
            start = threading.Barrier(RACERS, timeout=REQUEST_TIMEOUT)

            def refresh(_: int, token: str = login.body["refresh_token"], start=start) -> Reply:
                start.wait()
                return http(
                    "POST", f"{base}/api/v1/auth/refresh", token=token, timeout=REQUEST_TIMEOUT
                )

            replies = list(pool.map(refresh, range(RACERS)))
            won = [r for r in replies if r.status == 200]
            lost = [r for r in replies if r.status != 200]
            assert len(won) <= 1, [r.brief() for r in replies]
            for reply in lost:
                assert reply.status == 401 and reply.body["type"] in REFUSED, reply.brief()
            # A reuse was seen: the session is over, the winner's new tokens with it.
            for reply in won:
                again = http(
                    "POST",
                    f"{base}/api/v1/auth/refresh",
                    token=reply.body["refresh_token"],
                    timeout=REQUEST_TIMEOUT,
                )
                assert again.status == 401, again.brief()
                me = http(
                    "GET",
                    f"{base}/api/v1/me",
                    token=reply.body["access_token"],
                    timeout=REQUEST_TIMEOUT,
                )
                assert me.status == 401, me.brief()
