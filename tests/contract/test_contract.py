"""The contract: openapi.yaml is what the server serves, covers the route table, and holds.

Then Schemathesis runs the whole document against the WSGI app, on both database
backends and with TESTING/DEBUG off too, valid and invalid requests, every check: the
read-only operations anonymously on the shared seeded bank; the editors' operations
anonymously and as a learner (401s and 403s), then as an editor who really writes, on a
seeded bank of this module's own, with generated requests aimed at what exists so that
writes, 412s and 428s all happen. A failure there is an app bug or a wrong contract, never
a reason to weaken the run.
"""

from __future__ import annotations

import copy
import json
import os
import re
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
import yaml
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from api import create_app
from api.bank.models import Question, QuestionTopic, Topic
from api.config import TestConfig
from api.extensions import db
from tests.conftest import unmet_outcomes
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))

ROUTED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
SPEC_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Hypothesis examples per operation in the fuzzing phase; the examples and coverage
# phases add their own deterministic cases on top. Bounded so the module stays fast;
# QBANK_CONTRACT_EXAMPLES=300 makes a deeper hunt (about ten minutes).
MAX_EXAMPLES = int(os.environ.get("QBANK_CONTRACT_EXAMPLES", "25"))
# Generous: a slow response on a busy CI machine is not a contract breach.
MAX_RESPONSE_SECONDS = 10.0


def _flask_path(rule: str) -> str:
    """`/topics/<string:slug>` -> `/topics/{slug}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# The route table and the served document need no database.
BARE_APP = create_app(TestConfig("sqlite://"))


def _routes() -> set[tuple[str, str]]:
    return {
        (method, _flask_path(rule.rule))
        for rule in BARE_APP.url_map.iter_rules()
        for method in rule.methods & ROUTED_METHODS
    }


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in SPEC_METHODS
    }


ROUTES = _routes()
DOCUMENTED = _documented()


def _ids(pairs: set[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in sorted(pairs)]


def _every_operation(schema):
    """Select every operation by name.

    Schemathesis leaves out the operation that served the schema (`GET /openapi.yaml`)
    unless a filter names it; a filter matching every path keeps it in.
    """
    return schema.include(path_regex="^/")


# --------------------------------------------------------------------------- the document


def test_served_document_is_the_file():
    response = BARE_APP.test_client().get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == SPEC_FILE.read_bytes()


def test_document_is_valid_openapi_3_1():
    assert SPEC["openapi"] == "3.1.0"
    schema = _every_operation(schemathesis.openapi.from_wsgi("/openapi.yaml", BARE_APP))
    schema.validate()  # the OpenAPI 3.1 meta-schema
    # The meta-schema leaves Schema Objects open; check them against JSON Schema 2020-12.
    for name, component in SPEC["components"]["schemas"].items():
        try:
            jsonschema_rs.meta.validate(component)
        except jsonschema_rs.ValidationError as exc:
            pytest.fail(f"components/schemas/{name}: {exc}")
    operations = list(schema.get_all_operations())
    errors = [result.err() for result in operations if not isinstance(result, Ok)]
    assert not errors, errors  # every $ref resolves, every operation is usable
    assert len(operations) == len(DOCUMENTED)


def test_operations_are_named_and_summarised():
    ids = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in SPEC_METHODS:
                continue
            assert operation.get("operationId"), f"{method.upper()} {path}"
            assert operation.get("summary"), f"{method.upper()} {path}"
            ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_error_response_is_problem_json():
    resolve = SPEC["components"]["responses"]
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in SPEC_METHODS:
                continue
            responses = operation["responses"]
            # Conditional GETs can answer 304; writes never do, so they must not list it.
            needed = ("304", "405", "500") if method == "get" else ("405", "500")
            for must in needed:
                assert must in responses, f"{method.upper()} {path} lacks {must}"
            if method != "get":
                assert "304" not in responses, f"{method.upper()} {path} can never be 304"
            for status, response in responses.items():
                if "$ref" in response:
                    response = resolve[response["$ref"].rsplit("/", 1)[1]]
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        f"{method.upper()} {path} {status}"
                    )


# --------------------------------------------------------------------------- routes <-> paths


@pytest.mark.parametrize("route", sorted(ROUTES), ids=_ids(ROUTES))
def test_route_is_documented(route):
    method, path = route
    assert route in DOCUMENTED, f"{method} {path} is routed but missing from openapi.yaml"


@pytest.mark.parametrize("operation", sorted(DOCUMENTED), ids=_ids(DOCUMENTED))
def test_documented_operation_is_routed(operation):
    method, path = operation
    assert operation in ROUTES, f"{method} {path} is in openapi.yaml but not in api/routes.py"


# --------------------------------------------------------------------------- the app keeps it


# What only editors (and admins) may do: their own runs below, on a bank of their own.
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
ALL_PHASES = ("examples", "coverage", "fuzzing")


# Loaded from the file (the served document is the file, see above) and built at import,
# so that pytest collects one test per operation, named after it, for each app below.
# `schemathesis.pytest.from_fixture` would take the app from a fixture instead, but
# schemathesis 4.32 sets `Node._nodeid` there, which pytest 9.2 no longer has.
def _contract(
    max_examples: int,
    *,
    only: tuple[str, ...] = (),
    without: tuple[str, ...] = (),
    phases: tuple[str, ...] = ALL_PHASES,
):
    """The document as Schemathesis runs it: `only` or `without` these operation ids."""
    schema = schemathesis.openapi.from_path(SPEC_FILE, config=schemathesis.Config())
    # Two `include`s select what either matches: name the operations, or take them all.
    schema = schema.include(operation_id=list(only)) if only else _every_operation(schema)
    if without:
        schema = schema.exclude(operation_id=list(without))
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=max_examples,
        database="none",  # no .hypothesis/ directory in the working tree
    )
    checks = schema.config.checks
    checks.update(included_check_names=["all"], max_response_time=MAX_RESPONSE_SECONDS)
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
    # The phases a parametrized test runs (stateful runs need a state machine and links).
    schema.config.phases.update(phases=list(phases))
    return schema


contract = _contract(MAX_EXAMPLES, without=EDITOR_OPERATIONS)


@pytest.fixture(scope="session", params=["app", "prod_app"])
def app_under_test(request, backend):
    """The seeded app on each backend, as tests use it and with TESTING/DEBUG off."""
    return request.getfixturevalue(request.param)


@contract.parametrize()
def test_app_keeps_the_contract(case, app_under_test):
    case.call_and_validate(app=app_under_test)


# --------------------------------------------------------------------------- editors' writes

# Anonymous callers (401) and learners (403) are turned away before anything is read:
# a few generated requests show it, conforming. The coverage phase (hundreds of cases for
# an import body) runs for the editor, who gets past the door.
outsider_contract = _contract(
    max(3, MAX_EXAMPLES // 5), only=EDITOR_OPERATIONS, phases=("examples", "fuzzing")
)
editor_contract = _contract(MAX_EXAMPLES, only=EDITOR_OPERATIONS)


@pytest.fixture(scope="module")
def writable_app(backend, database_factory):
    """A seeded bank of this module's own, with TESTING/DEBUG off: the editor writes to it.

    Not the shared `app`, whose bank stays as seeded for every other test.
    """
    app = build_app(
        database_factory(backend, "qbank_contract"),
        TESTING=False,
        DEBUG=False,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(hours=2),  # a deep run outlasts 15 minutes
    )
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def role_headers(writable_app) -> dict[str, dict[str, str]]:
    headers = {
        role: login_headers(writable_app, make_user(writable_app, role))
        for role in ("learner", "editor")
    }
    return {"anonymous": {}, **headers}


def _credentials(case, headers: dict[str, str]) -> dict[str, str]:
    """The role's `Authorization`, unless the case leaves out or garbles it on purpose."""
    return {} if case.operation.schema.is_security_param_negated(case) else headers


def _send_to(case, app) -> None:
    """Requests go to `app`, and so do the probes checks send (`ignored_auth` re-sends a
    successful request without credentials): those take the schema's transport."""
    case.operation.schema.app = case.operation.app = app


@pytest.fixture(scope="module", params=["anonymous", "learner"])
def outsider(request) -> str:
    return request.param


@outsider_contract.parametrize()
def test_outsiders_cannot_edit(case, writable_app, role_headers, outsider):
    _send_to(case, writable_app)
    response = case.call_and_validate(headers=_credentials(case, role_headers[outsider]))
    if case.method.upper() == case.operation.method.upper():
        # Without the learner's token (anonymous, or a token Schemathesis made up) a 401,
        # with it a 403; a 404 when no route matches (a question id that is no number).
        token = response.request.headers.get("Authorization")
        learner = token is not None and token == role_headers["learner"].get("Authorization")
        assert response.status_code in ({403, 404} if learner else {401, 404}), response.status_code


class _Bank:
    """What the editor's bank holds right now, to aim generated requests at."""

    def __init__(self, app) -> None:
        self.app = app

    def question_ids(self) -> list[int]:
        with self.app.app_context():
            return list(db.session.scalars(select(Question.id).order_by(Question.id)))

    def topics(self) -> list[tuple[str, int]]:
        """(slug, question count) of every topic, in slug order."""
        query = (
            select(Topic.slug, func.count(QuestionTopic.question_id))
            .outerjoin(QuestionTopic, QuestionTopic.topic_id == Topic.id)
            .group_by(Topic.id, Topic.slug)
            .order_by(Topic.slug)
        )
        with self.app.app_context():
            return [(slug, count) for slug, count in db.session.execute(query)]

    def etag(self, path: str) -> str | None:
        response = self.app.test_client().get(path)
        return response.headers["ETag"] if response.status_code == 200 else None


def _fingerprint(value: Any) -> int:
    return zlib.crc32(json.dumps(value, sort_keys=True, default=repr).encode())


def _existing_topics(slugs: Any, pool: list[str]) -> Any:
    """Generated topic slugs, each swapped for one that exists (a question's topics must)."""
    if not isinstance(slugs, list) or not pool:
        return [] if isinstance(slugs, list) else slugs
    chosen = [pool[_fingerprint(s) % len(pool)] for s in slugs]
    return list(dict.fromkeys(chosen))  # no repeats: topics are a set


def _aimed_questions(items: list, pool: list[str]) -> list:
    """Import items with existing topics, and no explicit slug given twice (a 422)."""
    seen: set[str] = set()
    aimed = []
    for item in items:
        if isinstance(item, dict):
            item = dict(item)
            if "topics" in item:
                item["topics"] = _existing_topics(item["topics"], pool)
            if item.get("slug") in seen:
                del item["slug"]
            elif isinstance(item.get("slug"), str):
                seen.add(item["slug"])
        aimed.append(item)
    return aimed


def _aim(case, bank: _Bank) -> None:
    """Point a generated request at the bank as it is, where its data is valid.

    Random ids and slugs name nothing (every PATCH a 404) and random topics do not exist
    (every new question a 422), so the writes would never succeed. Valid parts of a case
    are swapped for valid values that exist: a question or topic that is there (most of
    the time), topics that exist, and for If-Match, by turns, what was generated (a 412),
    `*`, or the current ETag. Invalid parts are left alone; a missing If-Match stays
    missing (428). Choices follow from the generated data (not a random draw), so a
    replayed case is aimed alike. Containers are replaced, not edited, so Schemathesis
    re-derives which parts are valid.
    """
    meta = case.meta
    label = case.operation.label
    if meta is None or case.method.upper() != case.operation.method.upper():
        return  # an undeclared method (405): sent as generated

    def valid(location: ParameterLocation) -> bool:
        return not meta.is_negative_at(location)

    body = case.body if isinstance(case.body, dict | list | str) else None
    seed = _fingerprint([case.path_parameters, dict(case.headers or {}), case.query, body])
    target = None
    path = dict(case.path_parameters or {})
    if "question_id" in path and valid(ParameterLocation.PATH):
        ids = bank.question_ids()
        if ids and seed % 4:
            path["question_id"] = ids[(seed >> 4) % len(ids)]
            case.path_parameters = path
        target = f"/api/v1/questions/{path['question_id']}"
    elif "slug" in path and valid(ParameterLocation.PATH):
        topics = bank.topics()
        if case.method.upper() == "DELETE":  # one with questions is a 409
            topics = [t for t in topics if not t[1]] or topics
        if topics and seed % 4:
            path["slug"] = topics[(seed >> 4) % len(topics)][0]
            case.path_parameters = path
        target = f"/api/v1/topics/{path['slug']}"

    headers = case.headers or {}
    if target and "If-Match" in headers and valid(ParameterLocation.HEADER):
        turn = (seed >> 2) % 3
        value = "*" if turn == 1 else bank.etag(target) if turn == 2 else None
        if value:
            case.headers = {**headers, "If-Match": value}

    if not isinstance(case.body, dict | list) or not valid(ParameterLocation.BODY):
        return
    body = copy.deepcopy(case.body)
    pool = [slug for slug, _ in bank.topics()]
    if label in ("POST /api/v1/questions", "PATCH /api/v1/questions/{question_id}"):
        if "topics" in body:
            body["topics"] = _existing_topics(body["topics"], pool)
    elif label == "POST /api/v1/questions/import":
        if isinstance(body, list):
            body = _aimed_questions(body, pool)
        elif isinstance(body.get("questions"), list):
            brought = [t["slug"] for t in body.get("topics") or [] if isinstance(t, dict)]
            body["questions"] = _aimed_questions(body["questions"], sorted({*pool, *brought}))
    case.body = body


# A PATCH is valid data when the question it makes is a valid QuestionIn: the body alone
# cannot say (choices that no longer fit the type). The merge, judged by the document's own
# QuestionIn, says which answer is right. A text import's grammar is no JSON Schema at all.
PATCH_QUESTION = "PATCH /api/v1/questions/{question_id}"
TEXT_IMPORT = "POST /api/v1/questions/import"
QUESTION_IN = jsonschema_rs.validator_for(
    {"$ref": "#/components/schemas/QuestionIn", "components": SPEC["components"]}
)
EDITABLE = tuple(SPEC["components"]["schemas"]["QuestionPatch"]["properties"])


def _merged(case, app) -> dict | None:
    """The question a positive PATCH would make, or None when there is none to change."""
    if case.operation.label != PATCH_QUESTION or not isinstance(case.body, dict):
        return None
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    current = app.test_client().get(
        f"/api/v1/questions/{case.path_parameters['question_id']}?include=answer"
    )
    if current.status_code != 200:
        return None
    return {**{k: current.get_json()[k] for k in EDITABLE}, **case.body}


# What the editor's run must have met, per backend, for If-Match and writes to be covered.
EXPECTED_OUTCOMES = {
    "POST /api/v1/questions": {201, 422},
    "PATCH /api/v1/questions/{question_id}": {200, 412, 422, 428},
    "DELETE /api/v1/questions/{question_id}": {204, 412, 428},
    "POST /api/v1/questions/import": {200, 422},
    "GET /api/v1/questions/export": {200},
    "POST /api/v1/topics": {201, 422},
    "PATCH /api/v1/topics/{slug}": {200, 412, 428},
    "DELETE /api/v1/topics/{slug}": {204, 412, 428},
}
OUTCOMES: dict[str, dict[str, set[int]]] = {}


@editor_contract.parametrize()
def test_editor_keeps_the_contract(case, writable_app, role_headers, backend):
    _aim(case, _Bank(writable_app))
    label = case.operation.label
    merged = _merged(case, writable_app)
    text = (
        label == TEXT_IMPORT
        and case.media_type == "text/plain"
        and case.meta is not None
        and case.meta.generation.mode.is_positive
    )
    _send_to(case, writable_app)
    response = case.call_and_validate(
        headers=_credentials(case, role_headers["editor"]),
        # Judged below instead, by what the schema cannot say.
        excluded_checks=[positive_data_acceptance] if merged is not None or text else [],
    )
    status = response.status_code
    if merged is not None:
        assert status in (200, 409, 412, 422, 429), status
        if status in (200, 422):
            valid = QUESTION_IN.is_valid(merged)
            assert valid == (status == 200), (status, merged, response.text)
    if text:
        assert status < 400 or status in (409, 422, 429), status
    if case.method.upper() == case.operation.method.upper():
        OUTCOMES.setdefault(backend, {}).setdefault(label, set()).add(status)


def test_editor_run_met_every_outcome(backend):
    """Successful writes, 412s and 428s all happened (and conformed) in the run above."""
    seen = OUTCOMES.get(backend, {})
    missing = unmet_outcomes(seen, EXPECTED_OUTCOMES, "editor's")
    assert not missing, f"never met: {missing}; met: {seen}"


# --------------------------------------------------------------------------- found on the way
# What the runs above (and reading the schemas against the document) found in the editors'
# operations, pinned so that it stays fixed whatever the random runs draw.


def _write(app, headers, method: str, path: str, **kwargs):
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


def test_import_of_a_slugless_question_never_overwrites(writable_app, role_headers):
    """Was a 500 (unique slug violation) when the slug made from the prompt was taken."""
    editor = role_headers["editor"]
    item = {"prompt": "What does a pinned regression pin?", "answer": "Its fix."}
    first = _write(writable_app, editor, "POST", "/api/v1/questions/import", json=[item])
    dry = _write(writable_app, editor, "POST", "/api/v1/questions/import?dry_run=1", json=[item])
    second = _write(writable_app, editor, "POST", "/api/v1/questions/import", json=[item])
    assert first.status_code == dry.status_code == second.status_code == 200
    slug = first.get_json()["items"]["created"][0]
    assert second.get_json()["items"]["created"] == [f"{slug}-2"]
    assert dry.get_json()["items"]["created"] == [f"{slug}-2"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "trailing-newline\n"}, "slug"),  # `$` matched before a final newline
        ({"topics": ["pinned", "pinned"]}, "topics"),  # a 409 naming a slug (a duplicate row)
        ({"tags": ["cli", "cli"]}, "tags"),
        ({"sources": [{"document": "doc", "position": "7"}]}, "sources.0.position"),  # cast
        ({"sources": [{"document": "doc", "position": 7.5}]}, "sources.0.position"),  # truncated
    ],
    ids=["slug-newline", "topics-twice", "tags-twice", "int-string", "int-fraction"],
)
def test_schema_and_server_agree_on_what_is_invalid(writable_app, role_headers, change, field):
    editor = role_headers["editor"]
    topic = {"slug": "pinned", "name": "Pinned"}
    assert _write(writable_app, editor, "POST", "/api/v1/topics", json=topic).status_code in (
        201,
        409,  # made by an earlier case
    )
    body = {"prompt": "Is this question valid?", "answer": "No.", **change}
    response = _write(writable_app, editor, "POST", "/api/v1/questions", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == [field]


def test_patch_of_choices_alone_is_checked_against_the_question(writable_app, role_headers):
    """A partial body was checked as if it were a whole open question."""
    editor = role_headers["editor"]
    created = _write(
        writable_app,
        editor,
        "POST",
        "/api/v1/questions",
        json={
            "prompt": "Which of these are HTTP methods?",
            "answer": "GET and POST.",
            "type": "multiple_choice",
            "choices": ["GET", "FETCH", "POST"],
            "correct_choices": [0, 2],
        },
    )
    assert created.status_code == 201, created.get_json()
    path = created.headers["Location"]
    headers = {**editor, "If-Match": created.headers["ETag"]}
    patched = _write(writable_app, headers, "PATCH", path, json={"correct_choices": [0]})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["correct_choices"] == [0]
    headers = {**editor, "If-Match": patched.headers["ETag"]}
    broken = _write(writable_app, headers, "PATCH", path, json={"correct_choices": [5]})
    assert broken.status_code == 422
    assert set(broken.get_json()["errors"]) == {"correct_choices"}
