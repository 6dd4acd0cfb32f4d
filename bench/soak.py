"""A bounded soak: a realistic mix from 200 learners through nginx, two app instances, one
PostgreSQL and one Redis, for a few minutes on loopback (`make soak`).

The mix, per request drawn: question pages and single questions (35%), searches (15%),
random draws (10%), quizzes made (10%), free-text attempts of about 40 words with an
Idempotency-Key (25%), the learner's stats (5%). Afterwards: no 5xx and no request left
unanswered, and every attempt the API acknowledged (201) is in the database, with the
learner and question it was made for. Prints the request counts and p50/p99 per kind,
also written to bench/results/soak.md.

Not a test (it takes minutes and measures latency); `SOAK_SECONDS` (default 180),
`SOAK_THREADS` (16), `SOAK_LEARNERS` (200) and `SOAK_QUESTIONS` (10,000 synthetic
questions beside the seeded bank) change it.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.support.faults import LIMITS, Load, admin, new_learner, read_stored
from tests.support.live import Reply, app_env, flask_cli, http, serve
from tests.support.servers import nginx_in_front, postgres_server, redis_server

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "soak-secret-" + "s" * 48
ANSWER_WORDS = (
    "Flask is a micro web framework written in Python built on Werkzeug and Jinja "
    "it follows the WSGI standard keeps a small core and lets you add extensions such as "
    "Flask-SQLAlchemy for databases Flask-Login for sessions and blueprints to split an "
    "application into parts registered on the app factory"
).split()
MIX = (
    ("page", 20),
    ("one", 15),
    ("search", 15),
    ("random", 10),
    ("quiz", 10),
    ("attempt", 25),
    ("stats", 5),
)
SEARCHES = ("blueprint", "jinja template", "session cookie", "wsgi", "gen", "error handler")


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _answer(rng: random.Random) -> str:
    start = rng.randrange(0, len(ANSWER_WORDS) - 40)
    return " ".join(ANSWER_WORDS[start : start + 40])


def main() -> int:
    seconds = _setting("SOAK_SECONDS", 180)
    threads = _setting("SOAK_THREADS", 16)
    learners_wanted = _setting("SOAK_LEARNERS", 200)
    extra_questions = _setting("SOAK_QUESTIONS", 10_000)
    with ExitStack() as stack:
        pg = stack.enter_context(postgres_server())
        redis = stack.enter_context(redis_server())
        with admin(pg) as conn:
            conn.execute('DROP DATABASE IF EXISTS "qbank_soak"')
            conn.execute('CREATE DATABASE "qbank_soak"')
            conn.execute('ALTER DATABASE "qbank_soak" SET synchronous_commit = on')
        url = pg.url.rsplit("/", 1)[0] + "/qbank_soak"
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qbank-soak-")))
        base_env = dict(
            REDIS_URL=redis.url, JWT_SECRET_KEY=SECRET, TRUSTED_PROXY_HOPS="1", **LIMITS
        )
        setup = app_env(url, workdir / "setup", **base_env)
        (workdir / "setup").mkdir()
        flask_cli(setup, "db", "upgrade")
        flask_cli(setup, "seed")
        if extra_questions:
            flask_cli(setup, "gen-bank", str(extra_questions))
        servers = []
        for name in ("a", "b"):
            (workdir / name).mkdir()
            env = app_env(url, workdir / name, **base_env)
            servers.append(stack.enter_context(serve(env, config=True, workers=2)))
        proxy = stack.enter_context(
            nginx_in_front([s.base.removeprefix("http://") for s in servers])
        )
        print(f"soak: {seconds} s, {threads} threads, through {proxy}", flush=True)
        learners = [new_learner(proxy) for _ in range(learners_wanted)]
        page = http("GET", f"{proxy}/api/v1/questions?type=open&per_page=100&topic=basics")
        open_ids = [q["id"] for q in page.body["data"]] or [1]
        total = int(http("GET", f"{proxy}/api/v1/questions?per_page=1").headers["X-Total-Count"])
        kinds = [k for k, weight in MIX for _ in range(weight)]

        def request(thread: int, i: int) -> Sent:
            rng = random.Random(thread * 1_000_003 + i)
            learner = learners[rng.randrange(len(learners))]
            token = learner["access_token"]
            kind = rng.choice(kinds)
            if kind == "page":
                return Sent(
                    kind,
                    http("GET", f"{proxy}/api/v1/questions?page={rng.randint(1, 50)}&per_page=20"),
                )
            if kind == "one":
                return Sent(kind, http("GET", f"{proxy}/api/v1/questions/{rng.randint(1, total)}"))
            if kind == "search":
                q = rng.choice(SEARCHES)
                return Sent(kind, http("GET", f"{proxy}/api/v1/questions?q={q.replace(' ', '+')}"))
            if kind == "random":
                return Sent(kind, http("GET", f"{proxy}/api/v1/questions/random?count=10"))
            if kind == "quiz":
                body = {"count": 5, "type": ["open"]}
                return Sent(kind, http("POST", f"{proxy}/api/v1/quizzes", token=token, body=body))
            if kind == "stats":
                return Sent(kind, http("GET", f"{proxy}/api/v1/me/stats", token=token))
            question = rng.choice(open_ids)
            reply = http(
                "POST",
                f"{proxy}/api/v1/questions/{question}/attempts",
                token=token,
                body={"answer": _answer(rng)},
                key=f"soak-{uuid.uuid4()}",
            )
            return Sent(kind, reply, learner["user"]["id"])

        started = time.monotonic()
        with Load(threads, request) as load:
            while time.monotonic() - started < seconds:
                time.sleep(1)
        elapsed = time.monotonic() - started
        replies = load.replies
        checked = _check_stored(replies, url)
    return _report(replies, elapsed, checked)


@dataclass(frozen=True)
class Sent:
    kind: str
    reply: Reply
    user_id: int | None = None


def _check_stored(replies: list[Sent], url: str) -> tuple[int, list[str]]:
    """How many acknowledged attempts are stored for their learner and question, and
    which are not (called while PostgreSQL is still up)."""
    acknowledged = [s for s in replies if s.kind == "attempt" and s.reply.status == 201]
    rows = read_stored(url).attempts
    missing = [
        str(s.reply.brief())
        for s in acknowledged
        if rows.get(s.reply.body["id"]) != (s.user_id, s.reply.body["question_id"])
    ]
    return len(acknowledged) - len(missing), missing


def _report(replies: list[Sent], elapsed: float, checked: tuple[int, list[str]]) -> int:
    by_kind: dict[str, list[Reply]] = defaultdict(list)
    for sent in replies:
        by_kind[sent.kind].append(sent.reply)
    lines = [
        f"Soak: {len(replies)} requests in {elapsed:.0f} s ({len(replies) / elapsed:.0f}/s)",
        "",
        "| kind | requests | 2xx | 4xx | 5xx | unanswered | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    failures = []
    for kind, _ in MIX:
        found = by_kind.get(kind, [])
        if not found:
            continue
        times = sorted((r.ended - r.started) * 1000 for r in found)
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        ok = sum(200 <= r.status < 300 for r in found)
        client = sum(400 <= r.status < 500 for r in found)
        server = [r for r in found if r.status >= 500]
        lost = [r for r in found if r.status == 0]
        failures += [r.brief() for r in server + lost]
        lines.append(
            f"| {kind} | {len(found)} | {ok} | {client} | {len(server)} | {len(lost)} "
            f"| {p50:.1f} | {p99:.1f} |"
        )
    stored, missing = checked
    lines += ["", f"Acknowledged attempts found in the database: {stored}; missing: {len(missing)}"]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.md").write_text(report)
    if failures or missing:
        print("FAILED:", failures[:10], missing[:10], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
