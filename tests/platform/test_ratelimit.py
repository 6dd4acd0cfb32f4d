"""Rate limits: failed logins per address and per account, registrations, writes; 429 problems.

Each test builds its own app with low limits (hour windows, so a test never straddles
one), on memory storage, on a real Redis and on the SQLite counter file that workers share
when there is no Redis (api/platform/ratelimit_sqlite.py).
"""

from __future__ import annotations

import logging
import re

import pytest

from api.extensions import db
from tests.support.accounts import DEFAULT_PASSWORD, login_headers, make_user, register
from tests.support.apps import build_app
from tests.support.problems import PROBLEM

LOGIN = "/api/v1/auth/login"
GENEROUS = "1000/hour"


@pytest.fixture(scope="module")
def limits_url(backend, database_factory) -> str:
    return database_factory(backend, "qbank_limits")


@pytest.fixture(params=["memory", "redis", "sqlite"])
def make_app(request, limits_url, tmp_path):
    """make_app(KEY="n/hour", ...): an app on an empty database with those limits."""
    apps = []
    storage = {}
    server = None
    if request.param == "redis":
        server = request.getfixturevalue("redis")
        import redis as redis_client

        with redis_client.Redis.from_url(server.url) as conn:
            conn.flushdb()  # counters from an earlier test must not leak in
        storage = {"REDIS_URL": server.url}
    elif request.param == "sqlite":
        storage = {"RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'limits.sqlite3'}"}

    def make(**limits):
        config = {
            "RATELIMIT_LOGIN_FAILURES_PER_ADDRESS": GENEROUS,
            "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT": GENEROUS,
            "RATELIMIT_REGISTRATIONS_PER_ADDRESS": GENEROUS,
            "RATELIMIT_WRITES": GENEROUS,
            **storage,
            **limits,
        }
        app = build_app(limits_url, **config)
        apps.append(app)
        return app

    make.storage = request.param
    make.server = server
    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def login(client, email: str, password: str, address: str = "192.0.2.1"):
    return client.post(
        LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def assert_429(response, limit: int, detail: str) -> dict:
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["type"] == "/problems/rate-limited"
    assert detail in body["detail"]
    assert 0 < int(response.headers["Retry-After"]) <= 3601
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    return body


def test_storage_is_the_configured_one(make_app):
    app = make_app()
    with app.app_context():
        from api.extensions import limiter

        expected = {"redis": "RedisStorage", "memory": "MemoryStorage", "sqlite": "SQLiteStorage"}
        assert type(limiter.storage).__name__ == expected[make_app.storage]


def test_the_default_storage_is_shared_by_the_workers(monkeypatch, tmp_path):
    """Config() (gunicorn's workers) names a storage outside the process: Redis when
    REDIS_URL is set, else the instance directory's SQLite file; never memory."""
    from api import config

    monkeypatch.setenv("JWT_SECRET_KEY", "a-secret-long-enough-for-the-config-to-accept-it")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    assert config.Config().RATELIMIT_STORAGE_URI == f"sqlite:///{tmp_path}/ratelimits.sqlite3"
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6399/0")
    assert config.Config().RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6399/0"
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    assert config.Config().RATELIMIT_STORAGE_URI == "memory://"


def test_sqlite_counters_start_a_new_window_when_theirs_has_expired(tmp_path):
    from api.platform.ratelimit_sqlite import SQLiteStorage

    storage = SQLiteStorage(f"sqlite:///{tmp_path / 'counters.sqlite3'}")
    assert [storage.incr("k", 3600) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert storage.incr("gone", -1, amount=5) == 5  # a window that is already over
    assert storage.get("gone") == 0
    assert storage.incr("gone", 3600) == 1
    # A refund (a negative increment) never opens a window below zero.
    assert storage.incr("new", 3600, amount=-1) == 0
    assert storage.get_expiry("k") > storage.get_expiry("missing")
    storage.clear("k")
    assert storage.get("k") == 0 and storage.check()
    # SQLAlchemy's four-slash spelling of an absolute path names the same file.
    same = SQLiteStorage(f"sqlite:///{tmp_path / 'counters.sqlite3'}".replace(":///", ":////"))
    assert same.get("gone") == 1


def _increments(uri: str, count: int) -> list[int]:
    from api.platform.ratelimit_sqlite import SQLiteStorage

    storage = SQLiteStorage(uri)
    return [storage.incr("shared", 3600) for _ in range(count)]


def test_sqlite_counters_are_atomic_across_processes(tmp_path):
    """Processes incrementing one counter at once (gunicorn's workers) never lose a count
    and never see the same value twice."""
    import multiprocessing

    uri = f"sqlite:///{tmp_path / 'counters.sqlite3'}"
    processes, count = 4, 100
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        seen = pool.starmap(_increments, [(uri, count)] * processes)
    values = sorted(v for per_process in seen for v in per_process)
    assert values == list(range(1, processes * count + 1))


def test_an_unusable_sqlite_file_falls_back_to_memory(tmp_path, limits_url, caplog):
    """A counter file that cannot be opened is a storage outage: requests are served and
    limited per process, with the limiter's warning, as when Redis is down."""
    app = build_app(
        limits_url,
        RATELIMIT_STORAGE_URI=f"sqlite:///{tmp_path}",  # a directory, not a database file
        RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/hour",
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT=GENEROUS,
    )
    try:
        email = make_user(app)
        client = app.test_client()
        with caplog.at_level(logging.WARNING, logger="flask-limiter"):
            assert login(client, email, DEFAULT_PASSWORD).status_code == 200
        assert "falling back to in-memory storage" in caplog.text
        assert login(client, email, "wrong password!").status_code == 401
        assert login(client, email, "wrong password!").status_code == 401
        assert_429(login(client, email, DEFAULT_PASSWORD), 2, "from this address")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_failed_logins_per_address(make_app):
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="3/hour")
    email = make_user(app)
    client = app.test_client()
    for n in range(3):
        response = login(client, f"nobody{n}@example.com", "wrong password!")
        assert response.status_code == 401
        assert response.headers["X-RateLimit-Limit"]
        assert "Retry-After" not in response.headers
    blocked = login(client, email, DEFAULT_PASSWORD)  # right password, but from that address
    assert_429(blocked, 3, "from this address")
    assert login(client, email, DEFAULT_PASSWORD, address="192.0.2.2").status_code == 200


def test_failed_logins_per_account_and_address(make_app):
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/hour")
    alice, bob = make_user(app), make_user(app)
    client = app.test_client()
    assert login(client, alice, "wrong password!").status_code == 401
    # Another spelling of the email: still the same account.
    assert login(client, alice.upper(), "wrong password!").status_code == 401
    assert_429(login(client, alice, DEFAULT_PASSWORD), 2, "for this account from this address")
    # Another account from the same address has budgets of its own.
    assert login(client, bob, DEFAULT_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "windows",
    [("hour", "hour"), ("minute", "hour")],
    ids=["same-windows", "shorter-address-window"],
)
def test_guesses_from_elsewhere_do_not_lock_the_owner_out(make_app, windows):
    """The account-wide budget refuses only addresses that have been failing (OWASP's
    advice on lockout): once guessing from several addresses has spent it, every guessing
    address is refused, and the owner's right password from another address logs in.

    (Before, one budget per account refused everyone, the owner included: guessing at an
    account locked its owner out.)
    """
    # The limiter checks shorter windows first: the address's budget may be counted before
    # the account-wide one is checked, which must not make a fresh address look failing.
    address_window, account_window = windows
    app = make_app(
        RATELIMIT_LOGIN_FAILURES_PER_ADDRESS=f"1000/{address_window}",
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT=f"2/{account_window}",
    )
    owner = make_user(app)
    client = app.test_client()

    def guesses(address: str, count: int) -> list[int]:
        return [login(client, owner, "wrong password!", address).status_code for _ in range(count)]

    # Each address's first failure is not counted account-wide (it was not failing yet);
    # its second is. After two addresses the account's budget is spent.
    assert guesses("198.51.100.1", 3) == [401, 401, 429]
    assert guesses("198.51.100.2", 2) == [401, 401]
    assert guesses("198.51.100.3", 1) == [401]
    refused = login(client, owner, "wrong password!", "198.51.100.3")
    assert_429(refused, 2, "for this account from addresses that have been failing")
    # A failing address is refused even with the right password ...
    assert login(client, owner, DEFAULT_PASSWORD, "198.51.100.2").status_code == 429
    # ... and so is an address that has failed on another account (any failure counts).
    assert login(client, "nobody@example.com", "wrong password!", "198.51.100.4").status_code == 401
    assert login(client, owner, DEFAULT_PASSWORD, "198.51.100.4").status_code == 429
    # The owner, from an address that has not been failing, logs in.
    assert login(client, owner, DEFAULT_PASSWORD, "198.51.100.9").status_code == 200


def test_successful_logins_are_not_counted(make_app):
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/hour")
    email = make_user(app)
    client = app.test_client()
    assert login(client, email, "wrong password!").status_code == 401
    for _ in range(3):
        assert login(client, email, DEFAULT_PASSWORD).status_code == 200
    assert login(client, email, "wrong password!").status_code == 401
    assert_429(login(client, email, "wrong password!"), 2, "for this account")


def test_registrations_per_address(make_app):
    app = make_app(RATELIMIT_REGISTRATIONS_PER_ADDRESS="2/hour")
    client = app.test_client()

    def register_from(n: int, address: str = "192.0.2.1"):
        return register(client, f"reg{n}@example.com", remote_addr=address)

    assert [register_from(n).status_code for n in range(2)] == [201, 201]
    assert_429(register_from(2), 2, "Too many registrations")
    assert register_from(3, address="192.0.2.2").status_code == 201


def test_writes_are_budgeted_per_user(make_app):
    app = make_app(RATELIMIT_WRITES="3/hour")
    first, second = login_headers(app, make_user(app)), login_headers(app, make_user(app))
    client = app.test_client()
    # (PATCH /me checks passwords too: its headers show the failed-login budget instead.)
    for n in range(3):
        response = client.post("/api/v1/quizzes", headers=first, json={"count": 1})
        assert response.status_code == 409  # an empty bank: a write all the same
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(2 - n)
    blocked = client.post("/api/v1/quizzes", headers=first, json={"count": 1})
    assert_429(blocked, 3, "Too many writes")
    # Reads are not writes, and another user has a budget of their own.
    assert client.get("/api/v1/me", headers=first).status_code == 200
    response = client.post("/api/v1/quizzes", headers=second, json={"count": 1})
    assert response.status_code == 409


IETF_FIELD = re.compile(r'^"([a-z-]+)";(\w)=(\d+);(\w)=(\d+)$')


def ietf(response) -> tuple[dict, dict]:
    """RateLimit-Policy and RateLimit as {name, q, w} and {name, r, t}."""
    policy = IETF_FIELD.fullmatch(response.headers["RateLimit-Policy"])
    state = IETF_FIELD.fullmatch(response.headers["RateLimit"])
    assert policy and state, (response.headers["RateLimit-Policy"], response.headers["RateLimit"])
    assert (policy[2], policy[4], state[2], state[4]) == ("q", "w", "r", "t")
    assert policy[1] == state[1]
    return (
        {"name": policy[1], "q": int(policy[3]), "w": int(policy[5])},
        {"name": state[1], "r": int(state[3]), "t": int(state[5])},
    )


def test_ietf_ratelimit_fields_restate_the_limit(make_app):
    """draft-ietf-httpapi-ratelimit-headers: the policy (quota, window) and what is left of
    it, beside the X-RateLimit-* headers and agreeing with them, on writes and refusals."""
    app = make_app(RATELIMIT_WRITES="3/hour", RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/hour")
    headers = login_headers(app, make_user(app))
    client = app.test_client()
    for n in range(3):
        response = client.post("/api/v1/quizzes", headers=headers, json={"count": 1})
        policy, state = ietf(response)
        assert policy == {"name": "writes", "q": 3, "w": 3600}
        assert state["name"] == "writes" and state["r"] == 2 - n
        assert state["r"] == int(response.headers["X-RateLimit-Remaining"])
        assert 0 <= state["t"] <= 3600
    refused = client.post("/api/v1/quizzes", headers=headers, json={"count": 1})
    assert refused.status_code == 429
    assert ietf(refused)[1]["r"] == 0
    # A failed login shows the failed-login budget it spent, by its own name.
    body = {"email": "nobody@example.com", "password": "not the password at all"}
    failed = client.post(LOGIN, json=body)
    policy, state = ietf(failed)
    assert policy["name"].startswith("login-")
    assert policy["q"] == int(failed.headers["X-RateLimit-Limit"])
    assert state["r"] == int(failed.headers["X-RateLimit-Remaining"])
    # Reads are not limited: no fields.
    read = client.get("/api/v1/me", headers=headers)
    assert "RateLimit" not in read.headers and "RateLimit-Policy" not in read.headers


@pytest.mark.parametrize("make_app", ["redis"], indirect=True)
def test_redis_down_fails_open_with_a_warning(make_app, caplog):
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/hour")
    email = make_user(app)
    client = app.test_client()
    make_app.server.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="flask-limiter"):
            assert login(client, email, DEFAULT_PASSWORD).status_code == 200
        assert "falling back to in-memory storage" in caplog.text
        # Still limited, in this process's memory, while Redis is away.
        assert login(client, email, "wrong password!").status_code == 401
        assert login(client, email, "wrong password!").status_code == 401
        assert_429(login(client, email, DEFAULT_PASSWORD), 2, "from this address")
    finally:
        make_app.server.start()


def access_addresses(caplog) -> list[str | None]:
    return [r.fields["address"] for r in caplog.records if r.name == "api.access"]


@pytest.mark.parametrize("make_app", ["memory"], indirect=True)
def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_app, caplog):
    """Any client can send X-Forwarded-For: with TRUSTED_PROXY_HOPS 0 (the default) a new
    value per request does not buy a new budget, and the logs name the peer."""
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/hour")
    client = app.test_client()

    def guess(n: int):
        return client.post(
            LOGIN,
            json={"email": f"nobody{n}@example.com", "password": "wrong password!"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            environ_base={"REMOTE_ADDR": "192.0.2.1"},
        )

    caplog.set_level(logging.INFO, logger="api.access")
    assert [guess(n).status_code for n in range(2)] == [401, 401]
    assert_429(guess(3), 2, "from this address")
    assert set(access_addresses(caplog)) == {"192.0.2.1"}


@pytest.mark.parametrize("make_app", ["memory"], indirect=True)
def test_trusted_proxy_hops_give_the_client_address(make_app, caplog):
    """Behind one trusted proxy the client is the header's last entry (what the proxy saw);
    entries the client wrote itself, further left, change nothing."""
    app = make_app(RATELIMIT_LOGIN_FAILURES_PER_ADDRESS="2/hour", TRUSTED_PROXY_HOPS=1)
    client = app.test_client()

    def guess(forwarded_for: str):
        return client.post(
            LOGIN,
            json={"email": "nobody@example.com", "password": "wrong password!"},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "192.0.2.254"},  # the proxy
        )

    caplog.set_level(logging.INFO, logger="api.access")
    assert guess("203.0.113.7").status_code == 401
    assert guess("198.51.100.1, 203.0.113.7").status_code == 401
    assert_429(guess("198.51.100.2, 203.0.113.7"), 2, "from this address")
    # Another client behind the same proxy has a budget of its own.
    assert guess("203.0.113.8").status_code == 401
    assert access_addresses(caplog) == ["203.0.113.7"] * 3 + ["203.0.113.8"]


def test_trusted_proxy_hops_must_be_a_count(monkeypatch):
    from api import config

    monkeypatch.setenv("JWT_SECRET_KEY", "a-secret-long-enough-for-the-config-to-accept-it")
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    assert config.Config().TRUSTED_PROXY_HOPS == 2
    monkeypatch.delenv("TRUSTED_PROXY_HOPS")
    assert config.Config().TRUSTED_PROXY_HOPS == 0
    for bad in ("-1", "one", "1.5"):
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", bad)
        with pytest.raises(RuntimeError, match="TRUSTED_PROXY_HOPS"):
            config.Config()
