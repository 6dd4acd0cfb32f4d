"""Redis stops under a real gunicorn (2 workers, loopback): rate limiting fails open to
per-worker memory counting (still limiting), revocation checks fail closed with 503, and
everything works again once Redis is back (see api/platform/ratelimit.py and
api/accounts/sessions.py for the documented policy).

The Redis here belongs to the test, so stopping it cannot disturb other tests. Every wait is
bounded; no timing is asserted beyond "answered within the client timeout".
"""

from __future__ import annotations

import hashlib
import time
import uuid

import redis as redis_client

from tests.support.accounts import DEFAULT_PASSWORD
from tests.support.faults import (
    LIMITS,
    attempt,
    database,
    gunicorn_log,
    new_learner,
    question_ids,
)
from tests.support.live import (
    Reply,
    app_env,
    gunicorn,
    http,
)
from tests.support.servers import redis_server


def login(base: str, email: str, password: str = DEFAULT_PASSWORD) -> Reply:
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
            learner = new_learner(base)
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
                    "/problems/revocation-store-unavailable"
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
            # ... counted in Redis: the account's counters (keyed by a hash, never the email),
            # the account-and-address budget and the account-wide one (this address had
            # been failing already, with the pokes, so the account-wide one counts it too).
            digest = hashlib.sha256(email.encode()).hexdigest()[:32]
            client = redis_client.Redis.from_url(redis.url)
            try:
                keys = sorted(client.keys(f"*account:{digest}*"))
                assert [int(client.get(key)) for key in keys] == [3, 3], keys
                assert [key.split(b"/")[3] for key in keys] == [
                    b"login-account",
                    b"login-account-address",
                ], keys
                assert not client.keys(f"*{email}*")
            finally:
                client.close()
