"""Schemathesis runs of openapi.yaml against the WSGI app, shared by tests/contract/.

Each run is built at import (`bank_contract`, `practice_contract`), so that pytest collects
one test per operation, named after it. `run_every_case` drives the same cases through a
function in-process, for a test that checks what a whole run met: it performs the run
itself, so it holds whatever ran before it, alone or in any order.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
import yaml
from schemathesis import GenerationMode

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
# Hypothesis examples per operation in the fuzzing phase; the examples and coverage
# phases add their own deterministic cases on top. Bounded so the runs stay fast;
# QBANK_CONTRACT_EXAMPLES=300 makes a deeper hunt (about ten minutes).
MAX_EXAMPLES = int(os.environ.get("QBANK_CONTRACT_EXAMPLES", "25"))
# Generous: a slow response on a busy CI machine is not a contract breach.
MAX_RESPONSE_SECONDS = 10.0
ALL_PHASES = ("examples", "coverage", "fuzzing")
# What only editors (and admins) may do: their own runs, on a bank of their own.
EDITOR_OPERATIONS = (
    "createQuestion",
    "updateQuestion",
    "deleteQuestion",
    "importQuestions",
    "exportQuestions",
    "createTopic",
    "updateTopic",
    "deleteTopic",
)
# The practice paths: attempts, statistics, the review queue and quizzes.
PRACTICE_PATHS = (
    r"^/api/v1/(attempts|review|quizzes|me/stats)(/|$)"
    r"|^/api/v1/questions/\{question_id\}/(attempts|stats)$"
)


def every_operation(schema):
    """Select every operation by name.

    Schemathesis leaves out the operation that served the schema (`GET /openapi.yaml`)
    unless a filter names it; a filter matching every path keeps it in.
    """
    return schema.include(path_regex="^/")


def _run_config(schema, max_examples: int, phases: tuple[str, ...]):
    """Valid and invalid data, every check, a bounded response time, these phases."""
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=max_examples,
        database="none",  # no .hypothesis/ directory in the working tree
    )
    schema.config.checks.update(
        included_check_names=["all"], max_response_time=MAX_RESPONSE_SECONDS
    )
    # The phases a parametrized test runs (stateful runs need a state machine and links).
    schema.config.phases.update(phases=list(phases))
    return schema


# `schemathesis.pytest.from_fixture` would take the app from a fixture instead of building
# the schema at import, but schemathesis 4.32 sets `Node._nodeid` there, which pytest 9.2
# no longer has.
def bank_contract(
    max_examples: int,
    *,
    only: tuple[str, ...] = (),
    without: tuple[str, ...] = (),
    phases: tuple[str, ...] = ALL_PHASES,
):
    """The document as Schemathesis runs it: `only` or `without` these operation ids."""
    schema = schemathesis.openapi.from_path(SPEC_FILE, config=schemathesis.Config())
    # Two `include`s select what either matches: name the operations, or take them all.
    schema = schema.include(operation_id=list(only)) if only else every_operation(schema)
    if without:
        schema = schema.exclude(operation_id=list(without))
    _run_config(schema, max_examples, phases)
    checks = schema.config.checks
    # A well-formed If-Match naming a version that is no longer current is a 412: the state
    # of the bank decides, as it decides a 409 for a taken slug. Preconditions are checked
    # before the body is read (RFC 9110, 13.2.1), so invalid data can meet a 412 too.
    for check in (checks.positive_data_acceptance, checks.negative_data_rejection):
        check.expected_statuses = [*check.expected_statuses, "412"]
    # A missing If-Match is 428 Precondition Required, the status RFC 6585 made for it.
    checks.missing_required_header.expected_statuses = [
        *checks.missing_required_header.expected_statuses,
        "428",
    ]
    return schema


def practice_contract(phases: tuple[str, ...] = ALL_PHASES):
    """The practice operations as Schemathesis runs them: valid and invalid data, all checks."""
    schema = schemathesis.openapi.from_path(SPEC_FILE, config=schemathesis.Config())
    schema = schema.include(path_regex=PRACTICE_PATHS)
    return _run_config(schema, MAX_EXAMPLES, phases)


def run_every_case(schema, test: Callable[..., None]) -> None:
    """`test(case)` for every case `schema.parametrize()` makes, operation by operation.

    The same builder as the pytest plugin's (schemathesis.pytest._test_builder, internal),
    so the same phases, settings and generation as the parametrized tests.
    """
    from schemathesis.checks import load_all_checks
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test
    from schemathesis.python._constants.orchestrator import make_constants_value_source

    load_all_checks()
    feedback = FeedbackSources(constants_value_source=make_constants_value_source(schema))
    for result in schema.get_all_operations():
        run = build_operation_test(
            config=schema.config,
            operation=result.ok(),
            test_func=test,
            given_kwargs={},
            feedback=feedback,
        )
        run()


def credentials(case, headers: dict[str, str]) -> dict[str, str]:
    """The role's `Authorization`, unless the case leaves out or garbles it on purpose."""
    return {} if case.operation.schema.is_security_param_negated(case) else headers


def send_to(case, app) -> None:
    """Requests go to `app`, and so do the probes checks send (`ignored_auth` re-sends a
    successful request without credentials): those take the schema's transport."""
    case.operation.schema.app = case.operation.app = app


def fingerprint(value: Any) -> int:
    return zlib.crc32(json.dumps(value, sort_keys=True, default=repr).encode())


def unmet_outcomes(
    seen: dict[str, set[int]], expected: dict[str, set[int]]
) -> dict[str, list[int]]:
    """Per operation, the statuses a contract run was to meet and never did."""
    return {
        label: sorted(statuses - seen.get(label, set()))
        for label, statuses in expected.items()
        if statuses - seen.get(label, set())
    }
