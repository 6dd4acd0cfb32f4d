"""Two instances of the API behind nginx, sharing one PostgreSQL and one Redis: what
"stateless containers behind a load balancer" has to mean.

Each instance is its own gunicorn master with its own instance directory (as two
containers would be), both given the same JWT_SECRET_KEY, DATABASE_URL and REDIS_URL;
nginx (Debian's package, with deploy/nginx/api.conf.template) balances them. Shown here:

- an edit through one instance is what the other serves at once (its response cache
  follows the database's bank revision, not its own writes);
- a logout through one is refused by the other (revocation lives in the database);
- rate limits are counted once for both (Redis);
- SIGKILL of one instance, master and workers, under a load of attempts through the
  proxy: the proxy carries on with the other, and every acknowledged attempt is stored;
- PostgreSQL restarted under that load: quick 503 problems, then recovery, with nothing
  acknowledged lost and nothing half-written.

Everything talks to 127.0.0.1, loops are bounded, and no timing is asserted.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.support.faults import (
    LIMITS,
    Load,
    assert_answered_2xx_are_stored,
    assert_nothing_half_written,
    attempt,
    database,
    gunicorn_pids,
    new_learner,
    question_ids,
    read_stored,
)
from tests.support.live import Reply, app_env, http, running, serve
from tests.support.servers import nginx_in_front, redis_server

SECRET = "scale-out-test-secret-" + "x" * 40
# Login failures from one address: four, counted across both instances.
FAILURES = 4


@contextmanager
def two_instances(url: str, redis_url: str, tmp_path) -> Iterator[tuple[list, list, str]]:
    """Two gunicorn masters (2 workers each) and nginx in front: (envs, servers, proxy)."""
    limits = {
        **LIMITS,
        "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": f"{FAILURES}/hour",
        "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000/hour",
    }
    with ExitStack() as stack:
        envs, servers = [], []
        for name in ("a", "b"):
            instance = tmp_path / name
            instance.mkdir()
            env = app_env(
                url,
                instance,
                REDIS_URL=redis_url,
                JWT_SECRET_KEY=SECRET,
                TRUSTED_PROXY_HOPS="1",
                **limits,
            )
            envs.append(env)
            servers.append(stack.enter_context(serve(env, config=True, workers=2)))
        proxy = stack.enter_context(
            nginx_in_front([s.base.removeprefix("http://") for s in servers])
        )
        yield envs, servers, proxy


@pytest.fixture()
def cluster(pg, template, tmp_path):
    url = database(pg, template, "qbank_scale_out", synchronous_commit="on")
    with redis_server() as redis, two_instances(url, redis.url, tmp_path) as found:
        envs, servers, proxy = found
        yield url, envs, [s.base for s in servers], proxy


def test_an_edit_through_one_instance_is_served_by_the_other(cluster):
    _, _, (a, b), proxy = cluster
    editor = new_learner(a)  # an account; made an editor below through the database URL
    # The seeded bank is read on both first, so that both have it cached.
    for base in (a, b, proxy):
        assert http("GET", f"{base}/api/v1/questions/1").status == 200
    admin_token = _editor_token(cluster, editor)
    before = http("GET", f"{b}/api/v1/questions/1")
    etag = before.headers["ETag"]
    patched = http(
        "PATCH",
        f"{a}/api/v1/questions/1",
        token=admin_token,
        body={"difficulty": "hard" if before.body["difficulty"] != "hard" else "easy"},
        headers={"If-Match": etag},
    )
    assert patched.status == 200, patched.brief()
    for base in (b, proxy, proxy):
        seen = http("GET", f"{base}/api/v1/questions/1")
        assert seen.body["version"] == patched.body["version"], (base, seen.brief())
        assert seen.body["difficulty"] == patched.body["difficulty"]
        assert (
            http("GET", f"{base}/api/v1/questions/1", headers={"If-None-Match": etag}).status == 200
        )


def _editor_token(cluster, account: dict) -> str:
    url, envs, (a, _), _ = cluster
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE users SET role = 'editor' WHERE id = :id"),
                {"id": account["user"]["id"]},
            )
    finally:
        engine.dispose()
    # A new session carries the new role (roles are read from the account on each request
    # too; a fresh login keeps the test independent of that).
    from tests.support.accounts import DEFAULT_PASSWORD

    login = http(
        "POST",
        f"{a}/api/v1/auth/login",
        body={"email": account["email"], "password": DEFAULT_PASSWORD},
    )
    assert login.status == 200, login.brief()
    return login.body["access_token"]


def test_a_logout_on_one_instance_is_refused_by_the_other(cluster):
    _, _, (a, b), _ = cluster
    learner = new_learner(a)
    access, refresh = learner["access_token"], learner["refresh_token"]
    assert http("GET", f"{b}/api/v1/me", token=access).status == 200
    assert http("POST", f"{a}/api/v1/auth/logout", token=refresh).status == 204
    for token in (access, refresh):
        path = "me" if token is access else "auth/refresh"
        method = "GET" if token is access else "POST"
        refused = http(method, f"{b}/api/v1/{path}", token=token)
        assert refused.status == 401, refused.brief()


def test_rate_limits_are_counted_once_for_both_instances(cluster):
    _, _, (a, b), _ = cluster
    learner = new_learner(a)
    wrong = {"email": learner["email"], "password": "not the password at all, no"}
    # Half the budget spent on each instance: alone, neither would refuse yet.
    for n in range(FAILURES):
        reply = http("POST", f"{(a, b)[n % 2]}/api/v1/auth/login", body=wrong)
        assert reply.status == 401, reply.brief()
    for base in (a, b):
        refused = http("POST", f"{base}/api/v1/auth/login", body=wrong)
        assert refused.status == 429, refused.brief()
        assert int(refused.headers["Retry-After"]) > 0


def attempts_and_reads(proxy: str, label: str, *, reads_every: int):
    """A new learner's id, and a request maker for `Load`: keyed attempts through the
    proxy, with a question page read every `reads_every` requests."""
    learner = new_learner(proxy)
    token = learner["access_token"]
    questions = question_ids(proxy, 5)

    def request(thread: int, i: int) -> Reply:
        if (thread + i) % reads_every == 0:
            return http("GET", f"{proxy}/api/v1/questions?per_page=5&topic=routing")
        question = questions[(thread + i) % len(questions)]
        return attempt(proxy, token, question, f"{label}-{uuid.uuid4()}")

    return learner["user"]["id"], request


def test_sigkill_of_one_instance_loses_no_acknowledged_write(cluster):
    url, envs, (a, b), proxy = cluster
    user_id, request = attempts_and_reads(proxy, "kill", reads_every=3)

    master, workers = gunicorn_pids(envs[0], a)
    with Load(3, request) as load:
        load.wait_for(lambda rs: sum(r.status == 201 for r in rs) >= 10, 30)
        for pid in (master, *workers):
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        for _ in range(100):
            if not any(running(pid) for pid in (master, *workers)):
                break
            time.sleep(0.05)
        load.wait_for(lambda rs: sum(r.status == 201 and r.started > killed for r in rs) >= 20, 60)
    replies = load.replies
    # The proxy carried on: after the kill, writes and reads succeed through it.
    after = [r for r in replies if r.started > killed]
    assert sum(r.status == 201 for r in after) >= 20
    assert any(r.status == 200 for r in after)
    # What failed, failed as a problem (a request cut off mid-way): never a hang or a 500.
    wrong = [r.brief() for r in replies if not (200 <= r.status < 300 or r.is_problem_503)]
    assert not wrong, wrong[:5]
    assert not [r for r in replies if r.timed_out]
    # The other instance is untouched and still answers directly.
    assert http("GET", f"{b}/readyz").status == 200
    stored = read_stored(url)
    assert_nothing_half_written(stored)
    assert assert_answered_2xx_are_stored(stored, replies, user_id) >= 30


def test_postgres_restart_under_load_through_the_proxy(cluster, pg):
    url, _, (a, b), proxy = cluster
    user_id, request = attempts_and_reads(proxy, "restart", reads_every=2)

    try:
        with Load(3, request) as load:
            load.wait_for(lambda rs: sum(r.status == 201 for r in rs) >= 5, 30)
            pg.stop(mode="immediate")
            down = time.monotonic()
            load.wait_for(
                lambda rs: sum(r.is_problem_503 and r.started > down for r in rs) >= 3, 30
            )
            pg.start()
            up = time.monotonic()
            load.wait_for(lambda rs: sum(r.status == 201 and r.started > up for r in rs) >= 5, 60)
    finally:
        pg.start()
    replies = load.replies
    wrong = [r.brief() for r in replies if not (200 <= r.status < 300 or r.is_problem_503)]
    assert not wrong, wrong[:5]
    assert not [r for r in replies if r.timed_out or r.status == 0]
    for base in (a, b):
        assert http("GET", f"{base}/readyz").status == 200
    stored = read_stored(url)
    assert_nothing_half_written(stored)
    assert assert_answered_2xx_are_stored(stored, replies, user_id) >= 10
