"""The editors' operations keep the contract.

Schemathesis runs them anonymously and as a learner (401s and 403s), then as an editor who
really writes, on both backends with TESTING/DEBUG off, on a seeded bank of this module's
own, with generated requests aimed at what exists so that writes, 412s and 428s all
happen; then what the runs found, pinned. A failure is an app bug or a wrong contract,
never a reason to weaken the run.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import jsonschema_rs
import pytest
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from api.bank.models import Question, QuestionTopic, Topic
from api.bank.payloads import weights_fit
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into, slugs
from tests.support.contract import (
    EDITOR_OPERATIONS,
    MAX_EXAMPLES,
    SPEC,
    bank_contract,
    credentials,
    fingerprint,
    run_every_case,
    send_to,
    unmet_outcomes,
)

# --------------------------------------------------------------------------- editors' writes

# Anonymous callers (401) and learners (403) are turned away before anything is read:
# a few generated requests show it, conforming. The coverage phase (hundreds of cases for
# an import body) runs for the editor, who gets past the door.
outsider_contract = bank_contract(
    max(3, MAX_EXAMPLES // 5), only=EDITOR_OPERATIONS, phases=("examples", "fuzzing")
)
editor_contract = bank_contract(MAX_EXAMPLES, only=EDITOR_OPERATIONS)


def _writable_app(database_url: str):
    app = build_app(
        database_url,
        TESTING=False,
        DEBUG=False,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(hours=2),  # a deep run outlasts 15 minutes
    )
    seed_bank_into(app)
    return app


@pytest.fixture(scope="module")
def writable_app(backend, database_factory):
    """A seeded bank of this module's own, with TESTING/DEBUG off: the editor writes to it.

    Not the shared `app`, whose bank stays as seeded for every other test.
    """
    app = _writable_app(database_factory(backend, "qbank_contract"))
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


@pytest.fixture(scope="module", params=["anonymous", "learner"])
def outsider(request) -> str:
    return request.param


@outsider_contract.parametrize()
def test_outsiders_cannot_edit(case, writable_app, role_headers, outsider):
    send_to(case, writable_app)
    response = case.call_and_validate(headers=credentials(case, role_headers[outsider]))
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


def _existing_topics(slugs: Any, pool: list[str]) -> Any:
    """Generated topic slugs, each swapped for one that exists (a question's topics must)."""
    if not isinstance(slugs, list) or not pool:
        return [] if isinstance(slugs, list) else slugs
    chosen = [pool[fingerprint(s) % len(pool)] for s in slugs]
    return list(dict.fromkeys(chosen))  # no repeats: topics are a set


def _explained(item: dict) -> dict:
    """One explanation per choice, as the app requires and a JSON Schema cannot say:
    generated explanations are cycled or cut to the number of choices. Generated choice
    weights are made to fit the correct choices (each an equal share of 100)."""
    item = _weighted(item)
    given, choices = item.get("explanations"), item.get("choices")
    if not isinstance(given, list) or not given:
        return item
    if choices is None and item.get("type") == "true_false":
        choices = ["True", "False"]
    if isinstance(choices, list) and len(choices) >= 2:
        return {**item, "explanations": [given[i % len(given)] for i in range(len(choices))]}
    return {**item, "explanations": None}


def _weighted(item: dict) -> dict:
    weights, correct = item.get("choice_weights"), item.get("correct_choices")
    if not isinstance(weights, list) or not isinstance(correct, list) or not correct:
        return item
    whole = [i for i in correct if isinstance(i, int | float) and float(i).is_integer()]
    if len(whole) != len(correct) or not all(0 <= i < len(weights) for i in whole):
        return item
    correct = [int(i) for i in whole]
    share = 100 / len(set(correct))
    fitted = [
        share if i in correct else min(0, w) if isinstance(w, int | float) else w
        for i, w in enumerate(weights)
    ]
    return {**item, "choice_weights": fitted}


def _explanations_fit(question: dict) -> bool:
    """What QuestionIn's schema cannot say: one explanation per choice, and partial credit
    in which the correct choices weigh together 100 (api/bank/payloads.py `weights_fit`)."""
    given, choices = question.get("explanations"), question.get("choices")
    if choices is None and question.get("type") == "true_false":
        choices = ["True", "False"]
    weights = question.get("choice_weights")
    if weights is not None and not weights_fit(weights, question.get("correct_choices") or []):
        return False
    return given is None or len(given) == len(choices or [])


def _aimed_questions(items: list, pool: list[str]) -> list:
    """Import items with existing topics, and no explicit slug given twice (a 422)."""
    seen: set[str] = set()
    aimed = []
    for item in items:
        if isinstance(item, dict):
            item = dict(item)
            if "topics" in item:
                item["topics"] = _existing_topics(item["topics"], pool)
            item = _explained(item)
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
    seed = fingerprint([case.path_parameters, dict(case.headers or {}), case.query, body])
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

    if label == "POST /api/v1/questions/import" and valid(ParameterLocation.QUERY):
        # A JSON body for a document format (or a document for `json`) is a 415 the schema
        # cannot say: the format is made to fit the body's media type.
        query = dict(case.query or {})
        asked, json_body = query.get("format"), case.media_type == "application/json"
        if asked is not None and (asked == "json") != json_body:
            query["format"] = "json" if json_body else "text"
            case.query = query

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
        body = _explained(body)
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
    shown = current.get_json()
    # What a PATCH is merged onto: the question as written, topics and tags by slug.
    written = {k: shown[k] for k in EDITABLE}
    written["topics"], written["tags"] = slugs(shown["topics"]), slugs(shown["tags"])
    return {**written, **case.body}


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


def _editor_case(case, app, headers: dict[str, str]) -> tuple[str, int] | None:
    """Send one case as the editor and judge it; the operation and status it met, unless
    the case changed the method on purpose."""
    _aim(case, _Bank(app))
    label = case.operation.label
    merged = _merged(case, app)
    text = (
        label == TEXT_IMPORT
        and case.media_type in ("text/plain", "application/xml", "text/xml")
        and case.meta is not None
        and case.meta.generation.mode.is_positive
    )
    send_to(case, app)
    response = case.call_and_validate(
        headers=credentials(case, headers),
        # Judged below instead, by what the schema cannot say.
        excluded_checks=[positive_data_acceptance] if merged is not None or text else [],
    )
    status = response.status_code
    if merged is not None:
        assert status in (200, 409, 412, 422, 429), status
        if status in (200, 422):
            valid = QUESTION_IN.is_valid(merged) and _explanations_fit(merged)
            assert valid == (status == 200), (status, merged, response.text)
    if text:
        assert status < 400 or status in (409, 422, 429), status
    if case.method.upper() == case.operation.method.upper():
        return label, status
    return None


@editor_contract.parametrize()
def test_editor_keeps_the_contract(case, writable_app, role_headers):
    _editor_case(case, writable_app, role_headers["editor"])


@pytest.fixture(scope="module")
def editor_outcomes(backend, database_factory) -> dict[str, set[int]]:
    """Per operation, the statuses a whole editor's run met: a run of its own, on a bank of
    its own as seeded, so what it checks never depends on which tests ran before."""
    app = _writable_app(database_factory(backend, "qbank_contract_outcomes"))
    editor = login_headers(app, make_user(app, "editor"))
    seen: dict[str, set[int]] = {}

    def record(case) -> None:
        met = _editor_case(case, app, editor)
        if met is not None:
            seen.setdefault(met[0], set()).add(met[1])

    try:
        run_every_case(editor_contract, record)
    finally:
        with app.app_context():
            db.engine.dispose()
    return seen


def test_editor_run_met_every_outcome(editor_outcomes):
    """Successful writes, 412s and 428s all happen (and conform) in an editor's run."""
    missing = unmet_outcomes(editor_outcomes, EXPECTED_OUTCOMES)
    assert not missing, f"never met: {missing}; met: {editor_outcomes}"


# --------------------------------------------------------------------------- found on the way
# What the runs above (and reading the schemas against the document) found in the editors'
# operations, pinned so that it stays fixed whatever the random runs draw.


def _write(app, headers, method: str, path: str, **kwargs):
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


def test_import_of_a_slugless_question_never_overwrites(writable_app, role_headers):
    """Was a 500 (unique slug violation) when the slug made from the prompt was taken."""
    editor = role_headers["editor"]
    item = {"prompt": "What does a pinned regression pin?", "answer": "Its fix."}
    bank = {"version": 1, "questions": [item]}
    first = _write(
        writable_app,
        editor,
        "POST",
        "/api/v1/questions/import",
        json=bank,
    )
    dry = _write(
        writable_app,
        editor,
        "POST",
        "/api/v1/questions/import?dry_run=1",
        json=bank,
    )
    second = _write(
        writable_app,
        editor,
        "POST",
        "/api/v1/questions/import",
        json=bank,
    )
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
