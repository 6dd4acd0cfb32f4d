"""The README's examples work as pasted, against a real gunicorn serving a migrated, seeded bank.

Each ```sh block runs as one bash script (so a session's variables carry from line to
line), in README order, with only the port changed.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request

import pytest

from tests.support.apps import SEED_QUESTIONS
from tests.support.live import ROOT, app_env, flask_cli, gunicorn


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [b for b in blocks if "make serve" not in b]  # the set-up block starts the server


def commands() -> list[str]:
    return [
        line
        for block in readme_blocks()
        for line in block.splitlines()
        if line.startswith(("curl ", "http "))
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("readme")
    env = app_env(f"sqlite:///{instance}/qbank.sqlite3", instance)
    flask_cli(env, "db", "upgrade")
    assert f"created {SEED_QUESTIONS}" in flask_cli(env, "seed")
    with gunicorn(env) as base:
        yield base, env


def run_block(block: str, base: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    port = base.rsplit(":", 1)[1]
    script = "set -eo pipefail\n" + block.replace(":8000", f":{port}")
    return subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_readme_has_examples_of_every_endpoint():
    text = " ".join(readme_blocks())
    for fragment in (
        "/topics",
        "/topics/routing",
        "/tags",
        "/questions?",
        "/questions/7",
        "/random",
        "/healthz",
        "/readyz",
        "/openapi.yaml",
        "auth/register",
        "auth/login",
        "auth/refresh",
        "auth/logout",
        "/api/v1/me",
        "/api/v1/users",
        "PATCH :8000/api/v1/users/",
        "POST :8000/api/v1/topics",
        "PATCH :8000/api/v1/topics/",
        "POST :8000/api/v1/questions",
        "questions/export",
        "questions/import",
        "/reports",
        "PATCH :8000/api/v1/attempts/",
    ):
        assert fragment in text, fragment
    assert any(c.startswith("http ") for c in commands())


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_block_works_as_pasted(server, index):
    base, env = server
    block = readme_blocks()[index]
    result = run_block(block, base, env)
    assert result.returncode == 0, f"{block}\n--- stderr:\n{result.stderr[-3000:]}"
    out = result.stdout
    assert out.strip()
    assert "Traceback" not in out + result.stderr
    if "auth/logout" in block:
        assert '"status": 401' in out  # the last line: the logged-out token is refused
    if "create-admin" in block:
        topic = get_json(f"{base}/api/v1/topics/profiling")
        assert topic["description"] == "Finding where the time goes."
        assert topic["question_count"] == 1
        assert '"open_reports"' in out and '"facility_index"' in out
        assert '"dry_run": true' in out and '"created": 11' in out
    if "/quizzes" in block:
        assert '"score"' in out and '"by_topic"' in out and '"streak_days"' in out
    if "-si" in block and "If-None-Match" in block:
        assert "HTTP/1.1 304" in out
