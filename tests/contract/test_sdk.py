"""The TypeScript SDK (clients/typescript): built from the contract and run whole.

Its types are generated from openapi.yaml by openapi-typescript, the hand-written client
(src/qbank.ts) and the learner flow (examples/learner-flow.ts) are compiled by `tsc
--strict`, and the flow runs under Node against a real gunicorn serving 2-second access
tokens: it registers and logs in, lists a topic's questions through `Link: rel="next"`,
reads a question with its answer twice (the second time answered from its ETag cache
after a 304), finishes a quiz, is refreshed transparently once its access token has
expired, and gets a missing question as a typed `not-found` problem.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.accounts import DEFAULT_PASSWORD, new_email
from tests.support.apps import SEED_QUESTIONS
from tests.support.live import ROOT, app_env, flask_cli, http, serve
from tests.support.node import node_binary, node_tool, run

SDK = ROOT / "clients" / "typescript"
TIMEOUT = 300  # seconds for each tool run and for the flow


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run(args, cwd, TIMEOUT)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The SDK copied beside freshly generated types and compiled (tsc --strict)."""
    out = tmp_path_factory.mktemp("sdk")
    for name in ("src", "examples"):
        shutil.copytree(SDK / name, out / name)
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(SDK / name, out / name)
    generator = node_tool("openapi-typescript")
    (out / "node_modules").symlink_to(ROOT / "node_modules")
    generated = _run(
        [
            str(generator),
            str(ROOT / "openapi.yaml"),
            "--default-non-nullable=false",
            "-o",
            str(out / "src" / "schema.d.ts"),
        ],
        out,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    compiled = _run([str(node_tool("tsc")), "-p", "tsconfig.json", "--pretty", "false"], out)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    assert (out / "dist" / "src" / "qbank.js").exists()
    assert (out / "dist" / "src" / "qbank.d.ts").exists()
    return out


@pytest.fixture()
def live(backend, database_factory, tmp_path) -> Iterator[str]:
    """A seeded bank served by gunicorn, with access tokens that expire after 2 seconds."""
    env = app_env(database_factory(backend, "qbank_sdk"), tmp_path, JWT_ACCESS_TOKEN_SECONDS="2")
    flask_cli(env, "db", "upgrade")
    assert f"created {SEED_QUESTIONS}" in flask_cli(env, "seed")
    with serve(env) as server:
        yield server.base


def test_a_learner_flow_through_the_typescript_sdk(built, live):
    email = new_email("sdk")
    result = _run(
        [node_binary(), "dist/examples/learner-flow.js", live, email, DEFAULT_PASSWORD], built
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    topic = http("GET", f"{live}/api/v1/questions?topic=basics&per_page=1")
    assert seen["role"] == "learner"
    assert seen["listed"] == seen["total"] == int(topic.headers["X-Total-Count"]) > 5
    assert seen["answer_typed"] is True
    assert seen["revalidated"] == 1  # the second read was a 304 answered from the cache
    assert seen["small_cache"] == [0, 1]  # a one-entry cache drops the least recent
    assert seen["finished"] is True and seen["results"] == [True, False]
    assert seen["me_after_expiry"] is True
    assert seen["token_pairs"] == 2  # the login's, and the refresh's after the expiry
    assert seen["problem"] == "/problems/not-found"
