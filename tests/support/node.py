"""The Node tools the suite runs (the contract linters), installed from package-lock.json.

Why this exists: Spectral and Redocly lint openapi.yaml in `make test`, and CI runs on a
fresh clone (as root, no stdin) where `node_modules/` does not exist. ``node_tool(name)``
makes sure Node.js and npm are there (Debian's packages through apt-get when they are
missing and we are root, the way ``servers.py`` installs PostgreSQL), runs ``npm ci``
from the lockfile when the lockfile changed since the last install (a stamp file inside
``node_modules/`` records its hash), and returns the tool's path. Parallel pytest
processes take a file lock around the install, so only one of them runs ``npm ci`` and
the others find the stamp when they get the lock.

No pytest dependency, like the rest of ``tests/support``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import _ensure_installed, file_lock

__all__ = ["NODE_ENV", "PROJECT_ROOT", "node_binary", "node_tool", "run"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = PROJECT_ROOT / "package.json"
LOCKFILE = PROJECT_ROOT / "package-lock.json"
NODE_MODULES = PROJECT_ROOT / "node_modules"
#: The hash of the lockfile that ``node_modules/`` was last installed from; ``npm ci``
#: removes the folder first, so a failed install leaves no stamp behind.
STAMP = NODE_MODULES / ".qbank-lockfile.sha256"
NPM_CI_TIMEOUT = 900  # seconds; a fresh machine downloads about 250 packages

#: The tools run without phoning home or asking to be updated (CI has no stdin either).
NODE_ENV = {
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}


def _lockfile_hash() -> str:
    return hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()


def _installed() -> bool:
    try:
        return STAMP.read_text().strip() == _lockfile_hash()
    except OSError:
        return False


def _install_lock() -> contextlib.AbstractContextManager[None]:
    """One ``npm ci`` at a time per checkout (the lock file is named after its path)."""
    key = hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:16]
    return file_lock(Path(tempfile.gettempdir()) / f"qbank-npm-{key}.lock")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _check_node_version(node: str) -> None:
    """Fail with the reason when Node.js is older than package.json's ``engines`` asks.

    Debian 12's own nodejs is 18; @redocly/cli 2 needs 20.19 or newer.
    """
    wanted = json.loads(PACKAGE_JSON.read_text())["engines"]["node"]
    minimum = _version(wanted)
    found = subprocess.run(
        [node, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True
    ).stdout.strip()
    if _version(found) < minimum:
        raise RuntimeError(
            f"Node.js {found} at {node} is older than package.json's engines ({wanted}); "
            "install a newer Node.js to run the contract linters"
        )


def _ensure_node() -> tuple[str, str]:
    node = _ensure_installed("nodejs", lambda: shutil.which("node"), "Node.js (node)")
    npm = _ensure_installed("npm", lambda: shutil.which("npm"), "npm")
    _check_node_version(node)
    return node, npm


def _npm_ci(npm: str) -> None:
    """Install exactly the lockfile; no install scripts (none of the tools needs one)."""
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    try:
        result = subprocess.run(
            cmd,
            cwd=PROJECT_ROOT,
            env={**os.environ, **NODE_ENV},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"npm ci timed out after {NPM_CI_TIMEOUT}s in {PROJECT_ROOT}") from exc
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed (exit {result.returncode}):\n{result.stdout[-4000:]}")
    STAMP.write_text(_lockfile_hash() + "\n")


def node_tool(name: str) -> Path:
    """The path of ``node_modules/.bin/<name>``, installing the lockfile first if needed."""
    _, npm = _ensure_node()
    if not _installed():
        with _install_lock():
            if not _installed():  # another process may have installed it meanwhile
                _npm_ci(npm)
    tool = NODE_MODULES / ".bin" / name
    if not os.access(tool, os.X_OK):
        raise RuntimeError(f"{tool} missing after npm ci; is {name!r} in package.json?")
    return tool


def node_binary() -> str:
    """The `node` to run built JavaScript with (installed like the tools when missing)."""
    node, _ = _ensure_node()
    return node


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """A Node tool (or node itself) run in `cwd` with NODE_ENV, its output captured."""
    return subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **NODE_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
