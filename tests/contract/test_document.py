"""The contract: openapi.yaml is what the server serves, covers the route table, and holds.

Then Schemathesis runs the document's read-only operations (the editors' own are in
test_editor.py) against the WSGI app, on both database backends and with TESTING/DEBUG off
too, anonymously on the shared seeded bank: valid and invalid requests, every check. A
failure there is an app bug or a wrong contract, never a reason to weaken the run.
"""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from api import create_app
from api.config import TestConfig
from tests.support.contract import (
    EDITOR_OPERATIONS,
    MAX_EXAMPLES,
    SPEC,
    SPEC_FILE,
    bank_contract,
    every_operation,
)

ROUTED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
SPEC_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


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


# --------------------------------------------------------------------------- the document


def test_served_document_is_the_file():
    response = BARE_APP.test_client().get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == SPEC_FILE.read_bytes()


def test_document_is_valid_openapi_3_1():
    assert SPEC["openapi"] == "3.1.0"
    schema = every_operation(schemathesis.openapi.from_wsgi("/openapi.yaml", BARE_APP))
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


# Loaded from the file (the served document is the file, see above) and built at import,
# so that pytest collects one test per operation, named after it, for each app below.
contract = bank_contract(MAX_EXAMPLES, without=EDITOR_OPERATIONS)


@pytest.fixture(scope="session", params=["app", "prod_app"])
def app_under_test(request, backend):
    """The seeded app on each backend, as tests use it and with TESTING/DEBUG off."""
    return request.getfixturevalue(request.param)


# How guessable a password is cannot be said in JSON Schema (zxcvbn judges it): a
# schema-valid password may be refused as weak, with this problem type and only it.
WEAK_PASSWORD = "/problems/weak-password"
SETS_A_PASSWORD = {"POST /api/v1/auth/register", "PATCH /api/v1/me"}


def _refused_as_weak(case, response) -> bool:
    if case.operation.label not in SETS_A_PASSWORD or response.status_code != 422:
        return False
    body = response.json()
    return body.get("type") == WEAK_PASSWORD and set(body.get("errors", {})) == {"password"}


@contract.parametrize()
def test_app_keeps_the_contract(case, app_under_test):
    response = case.call(app=app_under_test)
    # Every other check still runs on a weak-password refusal (its body is a documented
    # 422 problem); only "valid data is accepted" cannot hold for it.
    excluded = [positive_data_acceptance] if _refused_as_weak(case, response) else []
    case.validate_response(
        response, excluded_checks=excluded, transport_kwargs={"app": app_under_test}
    )
