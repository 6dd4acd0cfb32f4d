"""Where the server and the document disagreed on the practice operations, pinned so it
stays fixed whatever the random runs draw. The document's own schemas judge the bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema_rs
import pytest

from api.practice.models import Attempt, Quiz
from tests.support.contract import SPEC
from tests.support.practice_contract import V1, new_learner

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


def test_rfc_3339_date_times_may_say_t_and_z_in_lower_case(practice_app, bank):
    """Were a 422: RFC 3339 allows `t` and `z`, and so does the document's `date-time`."""
    learner = new_learner(practice_app, joined=datetime(2024, 1, 1, tzinfo=UTC))
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
