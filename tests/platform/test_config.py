"""Settings read at start-up (api/config.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.live import ROOT

PROCESSES = 6
ROUNDS = 3
# Each process imports first, says so, and waits for the go file: then all race at once.
READ_SECRET = """
import os, sys, time
from api.config import _local_jwt_secret
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0005)
print(_local_jwt_secret(), flush=True)
"""


def test_workers_starting_together_share_one_local_jwt_secret(tmp_path):
    """gunicorn's workers build their apps at once on a fresh instance directory: they
    must all sign with the same generated secret (two workers once signed with different
    ones, so a token from one was 'Signature is not valid' on the other)."""
    for round_ in range(ROUNDS):
        instance = tmp_path / f"instance-{round_}"
        env = {"QBANK_INSTANCE_DIR": str(instance), "PATH": "/usr/bin:/bin"}
        go = tmp_path / f"go-{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", READ_SECRET, str(go)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        go.touch()
        secrets = set()
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            secrets.add(out.strip())
        assert len(secrets) == 1 and "" not in secrets, secrets
        assert (instance / "jwt-secret").read_text().strip() in secrets
        assert [p.name for p in instance.iterdir()] == ["jwt-secret"]  # no candidate left
        assert (instance / "jwt-secret").stat().st_mode & 0o777 == 0o600
