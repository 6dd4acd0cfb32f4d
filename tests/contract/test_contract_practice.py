"""The practice operations keep the contract, as a learner uses them.

Two Schemathesis runs over the practice paths of openapi.yaml, on both backends, against
a seeded bank of this module's own (with TESTING/DEBUG off):

- every practice operation with valid and invalid requests, every check, authenticated as
  a learner (`tests/test_contract.py` runs them anonymously, where all but the public
  question statistics stop at 401);
- a stateful walk along the document's links: start a quiz, answer its questions in it,
  read the attempts and the quiz, finish it, and answer once more (a 409).

Whether an attempt is valid depends on the question it answers (free text for an open
question, choices within its choices) and on the quiz it names, and whether a quiz can be
drawn depends on the topics that exist: no JSON Schema can say so. Valid parts of a
generated request are aimed at the bank as it is, as `tests/test_contract.py` does for the
editors; invalid parts are sent as generated. A failure is an app bug or a wrong contract,
never a reason to weaken the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import jsonschema_rs
import pytest
import schemathesis
import yaml
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from sqlalchemy import select

from api.accounts.models import User
from api.bank.models import Question, Tag, Topic
from api.extensions import db
from api.practice.models import SELF_RATINGS, Attempt, Quiz
from tests.conftest import unmet_outcomes
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
V1 = "/api/v1"
# The practice paths: attempts, statistics, the review queue and quizzes.
PRACTICE_PATHS = (
    r"^/api/v1/(attempts|review|quizzes|me/stats)(/|$)"
    r"|^/api/v1/questions/\{question_id\}/(attempts|stats)$"
)
PRACTICE_OPERATIONS = {
    "POST /api/v1/questions/{question_id}/attempts",
    "GET /api/v1/questions/{question_id}/stats",
    "GET /api/v1/attempts",
    "POST /api/v1/attempts/batch",
    "GET /api/v1/attempts/{attempt_id}",
    "GET /api/v1/review",
    "POST /api/v1/quizzes",
    "GET /api/v1/quizzes/{quiz_id}",
    "POST /api/v1/quizzes/{quiz_id}/finish",
    "GET /api/v1/me/stats",
}
# Hypothesis examples per operation in the fuzzing phase (the examples and coverage phases
# add their own); QBANK_CONTRACT_EXAMPLES=300 makes a deeper hunt.
MAX_EXAMPLES = int(os.environ.get("QBANK_CONTRACT_EXAMPLES", "25"))
# Stateful scenarios, and steps in each.
WORKFLOWS = max(10, MAX_EXAMPLES)
WORKFLOW_STEPS = 10
# Generous: a slow response on a busy CI machine is not a contract breach.
MAX_RESPONSE_SECONDS = 10.0
ALL_PHASES = ("examples", "coverage", "fuzzing")


def _contract(phases: tuple[str, ...]):
    """The practice operations as Schemathesis runs them: valid and invalid data, all checks."""
    schema = schemathesis.openapi.from_path(SPEC_FILE, config=schemathesis.Config())
    schema = schema.include(path_regex=PRACTICE_PATHS)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        database="none",  # no .hypothesis/ directory in the working tree
    )
    schema.config.checks.update(
        included_check_names=["all"], max_response_time=MAX_RESPONSE_SECONDS
    )
    schema.config.phases.update(phases=list(phases))
    return schema


# Built at import, so that pytest collects one test per operation, named after it.
contract = _contract(ALL_PHASES)


# --------------------------------------------------------------------------- the bank


@dataclass(frozen=True)
class Item:
    id: int
    type: str
    choices: int  # how many choices it has (0 for an open question)
    gradeable: bool  # an open question with key points to grade free text against


@dataclass
class Bank:
    """What the module's bank holds, to aim generated requests at."""

    app: Any
    questions: dict[int, Item]
    topics: list[str]
    tags: list[str]
    outcomes: dict[str, Counter] = field(default_factory=dict)

    @classmethod
    def of(cls, app) -> Bank:
        with app.app_context():
            questions = {
                q.id: Item(q.id, q.type, len(q.choices or []), bool(q.key_points))
                for q in db.session.scalars(select(Question).order_by(Question.id))
            }
            topics = list(db.session.scalars(select(Topic.slug).order_by(Topic.slug)))
            tags = list(db.session.scalars(select(Tag.slug).order_by(Tag.slug)))
        return cls(app, questions, topics, tags)

    def quiz(self, quiz_id: Any) -> tuple[int, list[int], bool] | None:
        """(owner, question ids, finished) of a quiz, or None."""
        if isinstance(quiz_id, float) and quiz_id.is_integer():
            quiz_id = int(quiz_id)  # JSON's 1.0 is the integer 1, to the app as to the spec
        if isinstance(quiz_id, bool) or not isinstance(quiz_id, int) or not 0 < quiz_id < 2**31:
            return None
        with self.app.app_context():
            quiz = db.session.get(Quiz, quiz_id)
            if quiz is None:
                return None
            return quiz.user_id, [i.question_id for i in quiz.items], quiz.finished_at is not None

    def own(self, model, user_id: int) -> list[int]:
        """Ids of the learner's quizzes or attempts."""
        with self.app.app_context():
            stmt = select(model.id).where(model.user_id == user_id).order_by(model.id)
            return list(db.session.scalars(stmt))

    def pick(self, ids: list[int], seed: int) -> int | None:
        return ids[seed % len(ids)] if ids else None


@dataclass(frozen=True)
class Learner:
    id: int
    headers: dict[str, str]


def new_learner(app) -> Learner:
    email = make_user(app, "learner")
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == email))
    return Learner(user_id, login_headers(app, email))


CHOICE_QUESTIONS = [
    {
        "prompt": "Which of these are Flask extensions or parts of Flask's ecosystem?",
        "answer": "All but Rails, Django and Laravel.",
        "key_points": ["Flask-WTF", "Flask-Login"],
        "type": "multiple_choice",
        "choices": [
            "Flask-WTF",
            "Rails",
            "Flask-Login",
            "Django",
            "Flask-SQLAlchemy",
            "Laravel",
            "Jinja",
            "Werkzeug",
            "Click",
            "itsdangerous",
        ],
        "correct_choices": [0, 2, 4, 6, 7, 8, 9],
        "difficulty": "easy",
        "topics": ["extensions"],
    },
    {
        "prompt": "Flask ships with a built-in ORM.",
        "answer": "False: Flask leaves the database layer to extensions.",
        "type": "true_false",
        "correct_choices": [1],
        "note": "Flask-SQLAlchemy is the usual choice.",
        "difficulty": "easy",
        "topics": ["databases"],
    },
]


@pytest.fixture(scope="module")
def practice_app(backend, database_factory):
    """A seeded bank of this module's own, with choice questions, TESTING/DEBUG off."""
    app = build_app(
        database_factory(backend, "qbank_contract_practice"), TESTING=False, DEBUG=False
    )
    seed_bank_into(app)
    editor = login_headers(app, make_user(app, "editor"))
    for question in CHOICE_QUESTIONS:
        response = app.test_client().post(f"{V1}/questions", json=question, headers=editor)
        assert response.status_code == 201, response.get_json()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def bank(practice_app) -> Bank:
    return Bank.of(practice_app)


@pytest.fixture(scope="module")
def learner(practice_app) -> Learner:
    """The learner of the run, with quizzes (one finished) and attempts to read."""
    learner = new_learner(practice_app)
    client = practice_app.test_client()
    for _ in range(3):
        quiz = client.post(f"{V1}/quizzes", json={"count": 3}, headers=learner.headers)
        assert quiz.status_code == 201, quiz.get_json()
        body = quiz.get_json()
        for question in body["questions"]:
            answered = client.post(
                f"{V1}/questions/{question['id']}/attempts",
                json={"self_rating": "good", "quiz_id": body["id"]},
                headers=learner.headers,
            )
            assert answered.status_code == 201, answered.get_json()
    finished = client.post(f"{V1}/quizzes/{body['id']}/finish", headers=learner.headers)
    assert finished.status_code == 200, finished.get_json()
    return learner


# --------------------------------------------------------------------------- aiming


def _fingerprint(value: Any) -> int:
    return zlib.crc32(json.dumps(value, sort_keys=True, default=repr).encode())


def _mode(body: dict) -> str | None:
    return next((k for k in ("answer", "choices", "self_rating") if k in body), None)


def _question_for(body: dict, bank: Bank, seed: int) -> int:
    """A question the body's way of answering fits: choices want a question with choices."""
    mode = _mode(body)
    if mode == "choices":
        wanted = max(body["choices"]) + 1
        fits = [q.id for q in bank.questions.values() if q.choices >= wanted]
    elif mode == "answer":
        fits = [q.id for q in bank.questions.values() if q.gradeable]
    else:
        fits = list(bank.questions)
    return bank.pick(fits, seed)


def _fit(body: dict, question_id: Any, bank: Bank, user_id: int, seed: int) -> tuple[Any, dict]:
    """A valid attempt made valid for its question and quiz, where both exist.

    A quiz of the learner's that lacks the question gets one of its own questions instead
    (a 422 otherwise); an answer the question cannot take (free text for a choice question,
    choices for an open one, an index past its choices) becomes one it can. Another's quiz
    (404) and a finished one (409) stay as they are.
    """
    quiz = bank.quiz(body.get("quiz_id"))
    if quiz is not None and quiz[0] == user_id and quiz[1] and question_id not in quiz[1]:
        question_id = quiz[1][seed % len(quiz[1])]
    question = bank.questions.get(question_id) if isinstance(question_id, int) else None
    if question is None:
        return question_id, body  # a 404
    body = dict(body)
    mode = _mode(body)
    if mode == "choices" and question.type == "open":
        del body["choices"]
        body["self_rating"] = SELF_RATINGS[seed % len(SELF_RATINGS)]
    elif mode == "choices":
        body["choices"] = [c % question.choices for c in body["choices"]]
    elif mode == "answer" and question.type != "open":
        del body["answer"]
        body["choices"] = [seed % question.choices]
    elif mode == "answer" and not question.gradeable:
        del body["answer"]
        body["self_rating"] = SELF_RATINGS[seed % len(SELF_RATINGS)]
    return question_id, body


def _past(value: Any, seed: int) -> Any:
    """A valid `answered_at` that is not in the future and has a UTC equivalent."""
    try:
        when = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (AttributeError, OverflowError, ValueError):
        when = None
    if when is None or when > datetime.now(UTC) - timedelta(seconds=1):
        when = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=seed % 100_000)
        return when.isoformat()
    return value


def _aim_attempt(case, bank: Bank, learner: Learner, seed: int, *, choose: bool) -> None:
    path = dict(case.path_parameters or {})
    body = case.body
    if _valid(case, ParameterLocation.BODY) and isinstance(body, dict):
        if choose and _valid(case, ParameterLocation.PATH):
            path["question_id"] = _question_for(body, bank, seed)
        if body.get("quiz_id") is not None and choose and seed % 2:
            body = {k: v for k, v in body.items() if k != "quiz_id"}
        path["question_id"], body = _fit(body, path.get("question_id"), bank, learner.id, seed)
    elif choose and _valid(case, ParameterLocation.PATH) and seed % 4:
        path["question_id"] = bank.pick(list(bank.questions), seed)
    # Containers are replaced, not edited, so Schemathesis re-derives which parts are valid;
    # parts left alone keep what they were generated as.
    if _valid(case, ParameterLocation.PATH) and path != case.path_parameters:
        case.path_parameters = path
    if body is not case.body:
        case.body = body


def _aim_batch(case, bank: Bank, learner: Learner, seed: int) -> None:
    body = case.body
    if not _valid(case, ParameterLocation.BODY) or not isinstance(body, dict):
        return
    items = []
    keep_quizzes = seed % 4 == 0  # most uploads are not in a quiz (random quiz ids are a 404)
    for i, item in enumerate(body["attempts"]):
        item_seed = _fingerprint([seed, i])
        item = {**item, "answered_at": _past(item["answered_at"], item_seed)}
        if not keep_quizzes:
            item.pop("quiz_id", None)
        question_id = _question_for(item, bank, item_seed)
        question_id, item = _fit(item, question_id, bank, learner.id, item_seed)
        items.append({**item, "question_id": question_id})
    case.body = {**body, "attempts": items}


def _aim_quiz(case, bank: Bank, seed: int) -> None:
    """Topics and tags that exist: generated slugs name none, and every draw would be a 409."""
    body = case.body
    if not _valid(case, ParameterLocation.BODY) or not isinstance(body, dict):
        return
    body = dict(body)
    for name, pool in (("topic", bank.topics), ("tag", bank.tags)):
        if isinstance(body.get(name), list):
            chosen = [pool[_fingerprint([seed, s]) % len(pool)] for s in body[name]]
            body[name] = list(dict.fromkeys(chosen))
    case.body = body


def _aim_key(case) -> None:
    """An Idempotency-Key made unique to the request it comes with.

    Hypothesis draws the same few keys again and again, and a key used before for another
    request is a 422 (tests/test_practice.py checks that); a repeat of the same request with
    the same key still replays.
    """
    headers = dict(case.headers or {})
    key = headers.get("Idempotency-Key")
    if key is None or not _valid(case, ParameterLocation.HEADER):
        return
    request = [key, case.method, case.formatted_path, case.body]
    headers["Idempotency-Key"] = hashlib.sha256(
        json.dumps(request, sort_keys=True, default=repr).encode()
    ).hexdigest()
    case.headers = headers


def _valid(case, location: ParameterLocation) -> bool:
    return case.meta is not None and not case.meta.is_negative_at(location)


def _aim(case, bank: Bank, learner: Learner, *, choose: bool = True) -> None:
    """Point a generated request at the bank as it is, where its data is valid.

    `choose` picks ids that exist for the path (the run without links); the stateful walk
    keeps the ids its links gave and only fits the body to them.
    """
    if case.meta is None or case.method.upper() != case.operation.method.upper():
        return  # an undeclared method (405): sent as generated
    label = case.operation.label
    seed = _fingerprint([case.path_parameters, case.query, case.body])
    if label == "POST /api/v1/questions/{question_id}/attempts":
        _aim_attempt(case, bank, learner, seed, choose=choose)
    elif label == "POST /api/v1/attempts/batch":
        _aim_batch(case, bank, learner, seed)
    elif label == "POST /api/v1/quizzes":
        _aim_quiz(case, bank, seed)
    elif choose and _valid(case, ParameterLocation.PATH) and case.path_parameters and seed % 4:
        name, ids = {
            "GET /api/v1/attempts/{attempt_id}": ("attempt_id", bank.own(Attempt, learner.id)),
            "GET /api/v1/quizzes/{quiz_id}": ("quiz_id", bank.own(Quiz, learner.id)),
            "POST /api/v1/quizzes/{quiz_id}/finish": ("quiz_id", bank.own(Quiz, learner.id)),
            "GET /api/v1/questions/{question_id}/stats": ("question_id", list(bank.questions)),
        }[label]
        case.path_parameters = {**case.path_parameters, name: bank.pick(ids, seed)}
    elif (
        choose
        and label == "GET /api/v1/attempts"
        and _valid(case, ParameterLocation.QUERY)
        and (case.query or {}).get("user_id") is not None
        and seed % 2
    ):
        case.query = {**case.query, "user_id": learner.id}  # your own; another's is a 404
    _aim_key(case)


def _credentials(case, headers: dict[str, str]) -> dict[str, str]:
    """The learner's `Authorization`, unless the case leaves out or garbles it on purpose."""
    return {} if case.operation.schema.is_security_param_negated(case) else headers


def _send_to(case, app) -> None:
    """Requests go to `app`, and so do the probes checks send (`ignored_auth` re-sends a
    successful request without credentials): those take the schema's transport."""
    case.operation.schema.app = case.operation.app = app


def _record(bank: Bank, label: str, status: int) -> None:
    bank.outcomes.setdefault(label, Counter())[status] += 1


# --------------------------------------------------------------------------- the runs


def test_the_run_covers_every_practice_operation():
    selected = {r.ok().label for r in contract.get_all_operations() if isinstance(r, Ok)}
    assert selected == PRACTICE_OPERATIONS


@contract.parametrize()
def test_learner_keeps_the_contract(case, practice_app, bank, learner):
    who = learner
    if case.operation.label == "POST /api/v1/quizzes":
        # Each quiz draws questions not had before: one learner would soon have had them all.
        who = new_learner(practice_app)
    _aim(case, bank, who)
    _send_to(case, practice_app)
    response = case.call_and_validate(headers=_credentials(case, who.headers))
    if case.method.upper() == case.operation.method.upper():
        _record(bank, case.operation.label, response.status_code)


# What the run must have met, per backend, for the aiming to be doing its job.
EXPECTED_OUTCOMES = {
    "POST /api/v1/questions/{question_id}/attempts": {201, 404, 422},
    "GET /api/v1/questions/{question_id}/stats": {200, 404},
    "GET /api/v1/attempts": {200, 400},
    "POST /api/v1/attempts/batch": {201, 422},
    "GET /api/v1/attempts/{attempt_id}": {200, 404},
    "GET /api/v1/review": {200, 400},
    "POST /api/v1/quizzes": {201, 422},
    "GET /api/v1/quizzes/{quiz_id}": {200, 404},
    "POST /api/v1/quizzes/{quiz_id}/finish": {200, 404},
    "GET /api/v1/me/stats": {200},
}


def test_learner_run_met_every_outcome(bank):
    """Successes and refusals of every operation happened (and conformed) in the run above."""
    seen = {label: set(statuses) for label, statuses in bank.outcomes.items()}
    missing = unmet_outcomes(seen, EXPECTED_OUTCOMES, "learner's")
    assert not missing, f"never met: {missing}; met: {bank.outcomes}"


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
    schema = _contract(("stateful",))
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


# --------------------------------------------------------------------------- pinned
# Where the server and the document disagreed, pinned so it stays fixed whatever the random
# runs draw. The document's own schemas judge the bodies.


def _judged_by(name: str) -> jsonschema_rs.Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


ANSWERED_AT = "2024-02-29T12:00:00Z"


@pytest.mark.parametrize(
    ("path", "schema", "body", "field"),
    [
        ("quizzes", "QuizIn", {"count": "3"}, "count"),  # was cast
        ("quizzes", "QuizIn", {"count": 2.5}, "count"),  # was truncated to 2
        ("quizzes", "QuizIn", {"topic": ["routing\n"]}, "topic.0"),  # `$` before a final newline
        ("quizzes", "QuizIn", {"tag": ["wsgi\n"]}, "tag.0"),
        ("answer", "AttemptIn", {"choices": [0.5]}, "choices.0"),  # was truncated to choice 0
        ("answer", "AttemptIn", {"choices": ["1"]}, "choices.0"),
        ("answer", "AttemptIn", {"self_rating": "good", "quiz_id": "2147483647"}, "quiz_id"),
        (
            "attempts/batch",
            "BatchIn",
            {"attempts": [{"question_id": "1", "answered_at": ANSWERED_AT, "self_rating": "hard"}]},
            "attempts.0.question_id",
        ),
    ],
    ids=[
        "count-string",
        "count-fraction",
        "topic-newline",
        "tag-newline",
        "choice-fraction",
        "choice-string",
        "quiz-id-string",
        "question-id-string",
    ],
)
def test_schema_and_server_agree_on_what_is_invalid(
    practice_app, bank, learner, path, schema, body, field
):
    assert not _judged_by(schema).is_valid(body)
    if path == "answer":
        multiple_choice = max(bank.questions.values(), key=lambda q: q.choices)
        path = f"questions/{multiple_choice.id}/attempts"
    response = practice_app.test_client().post(f"{V1}/{path}", json=body, headers=learner.headers)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == [field]


def test_rfc_3339_date_times_may_say_t_and_z_in_lower_case(practice_app, bank, learner):
    """Were a 422: RFC 3339 allows `t` and `z`, and so does the document's `date-time`."""
    question = min(bank.questions)
    item = {"question_id": question, "answered_at": ANSWERED_AT.lower(), "self_rating": "good"}
    assert _judged_by("BatchIn").is_valid({"attempts": [item]})
    response = practice_app.test_client().post(
        f"{V1}/attempts/batch", json={"attempts": [item]}, headers=learner.headers
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"][0]["answered_at"] == "2024-02-29T12:00:00+00:00"


@pytest.mark.parametrize(
    "path",
    [
        "attempts/{attempt}",
        "quizzes/{quiz}",
        "me/stats",
        "questions/{question}/stats",
    ],
)
def test_unknown_query_parameters_are_refused(practice_app, bank, learner, path):
    """Were ignored (200): every /api/v1 endpoint refuses an unknown parameter with a 400."""
    path = path.format(
        attempt=bank.own(Attempt, learner.id)[0],
        quiz=bank.own(Quiz, learner.id)[0],
        question=min(bank.questions),
    )
    client = practice_app.test_client()
    assert client.get(f"{V1}/{path}", headers=learner.headers).status_code == 200
    response = client.get(f"{V1}/{path}?include=answer", headers=learner.headers)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"] == {"include": ["Unknown field."]}
