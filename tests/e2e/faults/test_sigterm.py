"""SIGTERM to the gunicorn master (2 workers, loopback) while attempts are written: a graceful
stop, after which every write that was answered 2xx is stored and no write is half done.

Every wait is bounded; no timing is asserted beyond "answered within the client timeout".
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid

from tests.support.faults import (
    LIMITS,
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
    running,
)


def test_sigterm_during_writes_stops_gracefully_and_loses_no_answered_write(pg, template, tmp_path):
    url = database(pg, template, "qbank_faults_sigterm")
    env = app_env(url, tmp_path, **LIMITS)
    terminated = threading.Event()
    with gunicorn(env, workers=2) as base:
        master, workers = gunicorn_pids(env, base)
        learners = [new_learner(base) for _ in range(3)]
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
