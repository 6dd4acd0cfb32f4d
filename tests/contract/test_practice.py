"""The practice operations keep the contract, as a learner uses them.

Two Schemathesis runs over the practice paths of openapi.yaml, on both backends, against
a seeded bank of the practice contract tests' own (with TESTING/DEBUG off):

- every practice operation with valid and invalid requests, every check, authenticated as
  a learner (test_document.py runs them anonymously, where all but the public question
  statistics stop at 401);
- a stateful walk along the document's links: start a quiz, answer its questions in it,
  read the attempts and the quiz, finish it, and answer once more (a 409).

Requests are aimed at the bank as it is (tests/support/practice_contract.py). A failure is
an app bug or a wrong contract, never a reason to weaken the run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import hypothesis
import pytest
from schemathesis.core.result import Ok

from api.extensions import db
from tests.support.contract import (
    ALL_PHASES,
    MAX_EXAMPLES,
    credentials,
    practice_contract,
    run_every_case,
    send_to,
    unmet_outcomes,
)
from tests.support.practice_contract import (
    PRACTICE_OPERATIONS,
    Bank,
    Learner,
    aim,
    build_practice_app,
    new_learner,
    prepared_learner,
)

# Stateful scenarios, and steps in each.
WORKFLOWS = max(10, MAX_EXAMPLES)
WORKFLOW_STEPS = 10

# Built at import, so that pytest collects one test per operation, named after it.
contract = practice_contract(ALL_PHASES)


# --------------------------------------------------------------------------- the runs


def test_the_run_covers_every_practice_operation():
    selected = {r.ok().label for r in contract.get_all_operations() if isinstance(r, Ok)}
    assert selected == PRACTICE_OPERATIONS


def _learner_case(case, app, bank: Bank, learner: Learner) -> tuple[str, int] | None:
    """Send one case as the learner; the operation and status it met, unless the case
    changed the method on purpose."""
    who = learner
    if case.operation.label == "POST /api/v1/quizzes":
        # Each quiz draws questions not had before: one learner would soon have had them all.
        who = new_learner(app)
    aim(case, bank, who)
    send_to(case, app)
    response = case.call_and_validate(headers=credentials(case, who.headers))
    if case.method.upper() == case.operation.method.upper():
        return case.operation.label, response.status_code
    return None


@contract.parametrize()
def test_learner_keeps_the_contract(case, practice_app, bank, learner):
    _learner_case(case, practice_app, bank, learner)


# What the run must have met, per backend, for the aiming to be doing its job.
EXPECTED_OUTCOMES = {
    "POST /api/v1/questions/{question_id}/attempts": {201, 404, 422},
    "GET /api/v1/questions/{question_id}/stats": {200, 404},
    "GET /api/v1/attempts": {200, 400},
    "POST /api/v1/attempts/batch": {201, 422},
    "GET /api/v1/attempts/{attempt_id}": {200, 404},
    "PATCH /api/v1/attempts/{attempt_id}": {200, 404, 409, 422},
    "GET /api/v1/review": {200, 400},
    "POST /api/v1/quizzes": {201, 422},
    "GET /api/v1/quizzes/{quiz_id}": {200, 404},
    "POST /api/v1/quizzes/{quiz_id}/finish": {200, 404},
    "GET /api/v1/me/stats": {200},
}


@pytest.fixture(scope="module")
def learner_outcomes(backend, database_factory) -> dict[str, Counter]:
    """Per operation, how often a whole learner's run met each status: a run of its own, on
    a bank of its own, so what it checks never depends on which tests ran before."""
    app = build_practice_app(database_factory(backend, "qbank_contract_practice_outcomes"))
    bank, learner = Bank.of(app), prepared_learner(app)
    seen: dict[str, Counter] = {}

    def record(case) -> None:
        met = _learner_case(case, app, bank, learner)
        if met is not None:
            seen.setdefault(met[0], Counter())[met[1]] += 1

    try:
        run_every_case(contract, record)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return seen


def test_learner_run_met_every_outcome(learner_outcomes):
    """Successes and refusals of every operation happen (and conform) in a learner's run."""
    seen = {label: set(statuses) for label, statuses in learner_outcomes.items()}
    missing = unmet_outcomes(seen, EXPECTED_OUTCOMES)
    assert not missing, f"never met: {missing}; met: {learner_outcomes}"


# --------------------------------------------------------------------------- stateful


# The walk the links describe; each must have happened, on each backend.
WALK = {
    ("POST /api/v1/quizzes", 201),
    ("GET /api/v1/quizzes/{quiz_id}", 200),
    ("POST /api/v1/questions/{question_id}/attempts", 201),
    ("GET /api/v1/attempts/{attempt_id}", 200),
    ("GET /api/v1/attempts", 200),
    ("POST /api/v1/quizzes/{quiz_id}/finish", 200),
    ("POST /api/v1/questions/{question_id}/attempts", 409),  # in the finished quiz
}


def test_learner_walks_quiz_attempts_finish(practice_app, bank):
    """Schemathesis's state machine follows the links, one new learner per scenario.

    Steps: `POST /quizzes` -> `GET /quizzes/{id}`, an attempt at its first question in the
    quiz (-> `GET /attempts/{id}`, the question's statistics), its attempts listed,
    `POST /quizzes/{id}/finish` (-> the quiz again, and an attempt in it, now a 409).
    Every response passes every check, as in the run above.
    """
    # Derandomized, Hypothesis seeds the walk from a digest of PracticeWorkflow's source: the
    # class keeps its text (`_aim`, `_credentials`) so that it takes the same walk as before.
    _aim, _credentials = aim, credentials
    schema = practice_contract(("stateful",))
    schema.config.phases.stateful.inference.algorithms = []  # the document's links only
    schema.app = practice_app  # the operations, and the probes checks send, go to the app
    walked: Counter = Counter()
    in_quiz: Counter = Counter()

    class PracticeWorkflow(schema.as_state_machine()):
        def setup(self) -> None:
            self.learner = new_learner(practice_app)

        def before_call(self, case) -> None:
            _aim(case, bank, self.learner, choose=False)

        def get_call_kwargs(self, case) -> dict[str, Any]:
            return {"headers": _credentials(case, self.learner.headers)}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            # As `case.call_and_validate` does: the headers sent are the caller's, so checks
            # (`ignored_auth`) take the learner's token as given, not as generated.
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            walked[(case.operation.label, response.status_code)] += 1
            if isinstance(case.body, dict) and case.body.get("quiz_id") is not None:
                in_quiz[response.status_code] += 1

    PracticeWorkflow.run(
        settings=hypothesis.settings(
            max_examples=WORKFLOWS,
            stateful_step_count=WORKFLOW_STEPS,
            # The walk asserts which transitions it took: the same draws every run keep that
            # assertion from depending on luck.
            derandomize=True,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    missing = WALK - set(walked)
    assert not missing, f"never walked: {sorted(missing)}; walked: {dict(walked)}"
    assert in_quiz[201], f"no attempt counted in a quiz: {dict(in_quiz)}"
