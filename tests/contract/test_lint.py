"""openapi.yaml is lint-clean: Spectral (spectral:oas and the OWASP API Security ruleset,
`.spectral.yaml`) and Redocly (`recommended`, `redocly.yaml`) find no error and no warning.

The linters are the Node tools pinned in package.json / package-lock.json, installed by
`tests/support/node.py`. Their findings are parsed from their JSON output and listed in
the assertion message. Every operation carries request and response examples, and the
linters check them against their schemas (proved on a document with a wrong example).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.contract import SPEC, SPEC_FILE
from tests.support.node import NODE_ENV, PROJECT_ROOT, node_tool

LINT_TIMEOUT = 300  # seconds; Spectral takes about ten on the whole document
SPEC_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SPECTRAL_SEVERITIES = {0: "error", 1: "warn", 2: "info", 3: "hint"}


def _run(tool: str, *args: str) -> str:
    result = subprocess.run(
        [str(node_tool(tool)), *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **NODE_ENV},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
        check=False,
    )
    if not result.stdout.strip():
        pytest.fail(f"{tool} printed no report (exit {result.returncode}):\n{result.stderr}")
    return result.stdout


def spectral(document: Path) -> list[str]:
    """Spectral's findings of every severity, one line each."""
    report = json.loads(
        _run(
            "spectral",
            "lint",
            "--ruleset",
            str(PROJECT_ROOT / ".spectral.yaml"),
            "--format",
            "json",
            "--quiet",
            "--fail-severity",
            "hint",
            str(document),
        )
    )
    return [
        f"{SPECTRAL_SEVERITIES.get(item['severity'], item['severity'])} {item['code']} "
        f"at {'/'.join(map(str, item['path']))} (line {item['range']['start']['line'] + 1}): "
        f"{item['message']}"
        for item in report
    ]


def redocly(document: Path) -> list[str]:
    """Redocly's findings (errors and warnings), one line each."""
    report = json.loads(
        _run(
            "redocly",
            "lint",
            "--config",
            str(PROJECT_ROOT / "redocly.yaml"),
            "--format",
            "json",
            "--max-problems",
            "10000",
            str(document),
        )
    )
    return [
        f"{item['severity']} {item['ruleId']} at "
        f"{', '.join(loc.get('pointer', '?') for loc in item['location'])}: {item['message']}"
        for item in report["problems"]
    ]


def _listing(findings: list[str]) -> str:
    return f"{len(findings)} finding(s):\n" + "\n".join(findings)


def test_spectral_finds_nothing():
    findings = spectral(SPEC_FILE)
    assert not findings, _listing(findings)


def test_redocly_finds_nothing():
    findings = redocly(SPEC_FILE)
    assert not findings, _listing(findings)


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = SPEC["components"][kind][name]
    return node


def _has_examples(media: dict) -> bool:
    return bool(media.get("examples") or "example" in media)


def test_every_operation_has_request_and_response_examples():
    missing = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in SPEC_METHODS:
                continue
            where = f"{method.upper()} {path}"
            body = operation.get("requestBody")
            if body:
                for media_type, media in _resolve(body)["content"].items():
                    if not _has_examples(media):
                        missing.append(f"{where} request {media_type}")
            for status, response in operation["responses"].items():
                for media_type, media in _resolve(response).get("content", {}).items():
                    if not _has_examples(media):
                        missing.append(f"{where} {status} {media_type}")
    assert not missing, "no example:\n" + "\n".join(missing)


def test_the_linters_check_examples_against_their_schemas(tmp_path):
    """A wrong example is an error for both linters (the rules are on, not off or warn)."""
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["Problem"]["properties"]["status"]["example"] = "four hundred"
    media = next(
        media
        for response in spec["components"]["responses"].values()
        for media in response.get("content", {}).values()
    )
    media.pop("examples", None)
    media["example"] = {"title": 42}
    document = tmp_path / "openapi.yaml"
    document.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")

    spectral_codes = {line.split()[1] for line in spectral(document) if line.startswith("error")}
    assert {"oas3-valid-media-example", "oas3-valid-schema-example"} <= spectral_codes
    redocly_rules = {line.split()[1] for line in redocly(document) if line.startswith("error")}
    assert {"no-invalid-media-type-examples", "no-invalid-schema-examples"} <= redocly_rules
