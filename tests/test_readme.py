"""The README's examples work as pasted, against a real gunicorn serving a migrated, seeded bank."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.live import ROOT, app_env, flask_cli, gunicorn


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.startswith(("curl ", "http "))
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("readme")
    env = app_env(f"sqlite:///{instance}/qbank.sqlite3", instance)
    flask_cli(env, "db", "upgrade")
    assert "created 52" in flask_cli(env, "seed")
    with gunicorn(env) as base:
        yield base, env


def test_readme_has_examples_of_every_read_endpoint():
    commands = " ".join(readme_commands())
    for path in (
        "/topics",
        "/topics/",
        "/tags",
        "/questions?",
        "/questions/7",
        "/random",
        "/healthz",
        "/readyz",
        "/openapi.yaml",
    ):
        assert path in commands, path
    assert any(c.startswith("http ") for c in readme_commands())


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_works_as_pasted(server, command):
    base, env = server
    port = base.rsplit(":", 1)[1]
    runnable = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
        "http :8000", f"http --check-status --ignore-stdin :{port}"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", runnable],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.strip()
    if command.startswith("curl -s ") and "|" not in command:
        json.loads(out)  # a plain curl -s prints one JSON document
    if "-si" in command and "|" not in command:
        assert out.startswith("HTTP/1.1 ")
        status = int(out.split()[1])
        problem = "content-type: application/problem+json" in out.lower()
        assert status < 400 or problem
