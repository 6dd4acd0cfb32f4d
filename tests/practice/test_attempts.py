"""Answering a question: free text graded against key points, choices graded exactly,
self-ratings, the body's validation, and the question version an attempt records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.practice.grading import GRADER_VERSION
from api.practice.models import ReviewState
from tests.support.practice import (
    ATTEMPT_FIELDS,
    TEACHING_FIELDS,
    V1,
    WHAT_IS_FLASK_POINTS,
    Q,
    attempt,
    attempts_total,
    created,
    stored,
    user_id,
    when,
)

# --- free-text answers ---------------------------------------------------------------------


def test_good_free_text_answer_passes_and_teaches(client, learner, slugs):
    qid = slugs["what-is-flask"]
    answer = (
        "Flask is a micro web framework written in Python. It is simple and lightweight, "
        "and it follows the WSGI standard."
    )
    response = attempt(client, learner, qid, answer=answer)
    body = created(response)
    assert response.headers["Location"].endswith(f"{V1}/attempts/{body['id']}")
    assert "Idempotent-Replayed" not in response.headers
    assert set(body) == ATTEMPT_FIELDS | TEACHING_FIELDS
    assert body["question_id"] == qid
    assert body["kind"] == "free_text"
    assert body["answer"] == answer
    assert body["choices"] is None and body["self_rating"] is None and body["quiz_id"] is None
    assert body["grade"] == {
        "graded_by": "grader",
        "score": 1.0,
        "passed": True,
        "matched": WHAT_IS_FLASK_POINTS,
        "missed": [],
        "feedback": "You covered all 4 key points.",
        "confidence": "clear_pass",
        "key_points": [
            {
                "key_point": "micro web framework",
                "covered": True,
                "credit": 1.0,
                "words": ["micro", "web", "framework"],
                "contradicted_by": None,
            },
            {
                "key_point": "written in Python",
                "covered": True,
                "credit": 1.0,
                "words": ["written", "python"],
                "contradicted_by": None,
            },
            {
                "key_point": "simple and lightweight",
                "covered": True,
                "credit": 1.0,
                "words": ["simple", "lightweight"],
                "contradicted_by": None,
            },
            {
                "key_point": "follows WSGI standard",
                "covered": True,
                "credit": 1.0,
                "words": ["follows", "wsgi", "standard"],
                "contradicted_by": None,
            },
        ],
        "grader_version": GRADER_VERSION,
    }
    assert body["passed"] is True and body["override"] is None
    assert body["override_hint"] is None  # a clear grade
    assert when(body["override_until"]) == when(body["created_at"]) + timedelta(hours=24)
    assert body["rating"] == "easy"
    assert body["model_answer"].startswith("Flask is a micro web framework")
    assert body["correct_choices"] is None
    assert when(body["next_review_at"]) > when(body["answered_at"])
    # The attempt is stored as replied (without the teaching extras).
    stored_attempt = client.get(f"{V1}/attempts/{body['id']}", headers=learner)
    assert stored_attempt.status_code == 200
    assert stored_attempt.get_json() == {k: v for k, v in body.items() if k in ATTEMPT_FIELDS}


def test_poor_free_text_answer_fails_with_missed_points(client, learner, slugs):
    body = created(attempt(client, learner, slugs["what-is-flask"], answer="It is a database."))
    assert body["grade"]["score"] == 0.0
    assert body["grade"]["passed"] is False
    assert body["grade"]["matched"] == []
    assert body["grade"]["missed"] == WHAT_IS_FLASK_POINTS
    assert body["grade"]["feedback"] == (
        "You covered none of the 4 key points. Add: micro web framework; written in Python; "
        "simple and lightweight; follows WSGI standard."
    )
    assert body["rating"] == "again"
    assert body["model_answer"].startswith("Flask is a micro web framework")


def test_partial_answer_is_rated_hard_and_names_what_to_add(client, learner, slugs):
    body = created(
        attempt(
            client,
            learner,
            slugs["what-is-flask"],
            answer="A micro web framework written in Python.",
        )
    )
    grade = body["grade"]
    assert (grade["score"], grade["passed"]) == (0.5, True)  # two of four points in full
    assert grade["matched"] == ["micro web framework", "written in Python"]
    assert grade["missed"] == ["simple and lightweight", "follows WSGI standard"]
    assert grade["feedback"] == (
        "You covered 2 of 4 key points. Add: simple and lightweight; follows WSGI standard."
    )
    assert [p["covered"] for p in grade["key_points"]] == [True, True, False, False]
    assert body["rating"] == "hard"


def test_typos_and_inflections_still_count(client, learner, slugs):
    answer = "A mikro web framwork, writen in Pyhton; simply lightweight, following WSGI standards."
    body = created(attempt(client, learner, slugs["what-is-flask"], answer=answer))
    assert body["grade"]["passed"] is True
    assert body["grade"]["score"] >= 0.9
    assert body["grade"]["matched"] == WHAT_IS_FLASK_POINTS
    routes = created(
        attempt(
            client,
            learner,
            slugs["what-is-a-flask-route"],
            answer="Routes are URL patterns mapping requests to view functions",
        )
    )
    assert routes["grade"]["passed"] is True
    assert routes["grade"]["missed"] == []


# --- choice questions ----------------------------------------------------------------------


def test_multiple_choice_is_graded_exactly(client, learner, choice_questions):
    qid = choice_questions["multiple_choice"]
    right = created(attempt(client, learner, qid, choices=[2, 0]))
    assert right["kind"] == "choice"
    assert right["choices"] == [2, 0]
    assert right["grade"] == {
        "graded_by": "grader",
        "score": 1.0,
        "passed": True,
        "matched": [],
        "missed": [],
        "feedback": "Correct.",
        "confidence": "clear_pass",
        "key_points": None,
        "grader_version": None,
    }
    assert right["rating"] == "good"  # a right pick is never "easy"
    assert right["correct_choices"] == [0, 2]
    assert right["note"] == "Extensions are named Flask-Something by convention."
    half = created(attempt(client, learner, qid, choices=[0]))
    assert half["grade"]["passed"] is False
    assert half["grade"]["score"] == 0.0
    assert half["grade"]["feedback"] == "Not quite: you picked 1 of the 2 correct choices."
    assert half["rating"] == "again"
    extra = created(attempt(client, learner, qid, choices=[0, 1, 2]))
    assert extra["grade"]["passed"] is False
    assert extra["grade"]["feedback"] == (
        "Not quite: you picked 2 of the 2 correct choices and 1 wrong one."
    )


def test_a_choice_explains_every_option_after_answering_only(client, learner, slugs):
    qid = slugs["mc-default-dev-server-port"]
    before = client.get(f"{Q}/{qid}").get_json()
    assert "explanations" not in before and "correct_choices" not in before
    wrong = created(attempt(client, learner, qid, choices=[1]))
    assert wrong["grade"]["passed"] is False
    assert len(wrong["explanations"]) == len(before["choices"])
    assert wrong["explanations"][0].startswith("Right:")
    full = client.get(f"{Q}/{qid}", query_string={"include": "answer"}).get_json()
    assert full["explanations"] == wrong["explanations"]


def test_true_false_is_graded_exactly(client, learner, choice_questions):
    qid = choice_questions["true_false"]
    question = client.get(f"{Q}/{qid}").get_json()
    assert question["choices"] == ["True", "False"]
    right = created(attempt(client, learner, qid, choices=[1]))
    assert right["grade"]["passed"] is True
    assert right["correct_choices"] == [1]
    wrong = created(attempt(client, learner, qid, choices=[0]))
    assert wrong["grade"]["passed"] is False
    assert wrong["grade"]["feedback"] == "Not quite: that is not the correct choice."
    assert wrong["rating"] == "again"


@pytest.mark.parametrize(
    "kind, body, field",
    [
        ("multiple_choice", {"choices": [4]}, "choices"),
        ("multiple_choice", {"choices": [0, 9]}, "choices"),
        ("true_false", {"choices": [2]}, "choices"),
        ("multiple_choice", {"answer": "Flask-WTF and Flask-Login"}, "answer"),
        ("true_false", {"answer": "False"}, "answer"),
        ("open", {"choices": [0]}, "choices"),
    ],
)
def test_wrong_kind_of_answer_is_422_and_stores_nothing(
    bank_app, client, learner, choice_questions, slugs, kind, body, field, assert_problem
):
    qid = slugs["what-is-flask"] if kind == "open" else choice_questions[kind]
    detail = assert_problem(attempt(client, learner, qid, **body), 422)
    assert field in detail["errors"]
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0


# --- self-ratings and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    "rating, passed", [("again", False), ("hard", True), ("good", True), ("easy", True)]
)
def test_self_rating(client, learner, slugs, rating, passed):
    body = created(attempt(client, learner, slugs["how-to-install-flask"], self_rating=rating))
    assert body["kind"] == "self_rating"
    assert body["self_rating"] == rating
    assert body["rating"] == rating
    assert body["answer"] is None and body["choices"] is None
    assert body["grade"] == {
        "graded_by": "self",
        "score": 1.0 if passed else 0.0,  # consistent with passed, as quiz totals count it
        "passed": passed,
        "matched": [],
        "missed": [],
        "feedback": "",
        "confidence": None,
        "key_points": None,
        "grader_version": None,
    }
    assert body["passed"] is passed
    assert body["model_answer"].startswith("You install Flask with pip")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "_schema"),
        ({"quiz_id": 1}, "_schema"),
        ({"answer": "pip", "self_rating": "good"}, "_schema"),
        ({"answer": "pip", "choices": [0]}, "_schema"),
        ({"answer": "pip", "choices": [0], "self_rating": "easy"}, "_schema"),
        ({"self_rating": "meh"}, "self_rating"),
        ({"answer": ""}, "answer"),
        ({"answer": "a\x00b"}, "answer"),
        ({"answer": "x" * 5001}, "answer"),
        ({"choices": []}, "choices"),
        ({"choices": [10]}, "choices.0"),
        ({"choices": "0"}, "choices"),
        ({"self_rating": "good", "quiz_id": 0}, "quiz_id"),
        ({"self_rating": "good", "score": 1.0}, "score"),
    ],
)
def test_attempt_body_validation(bank_app, client, learner, slugs, body, field, assert_problem):
    detail = assert_problem(attempt(client, learner, slugs["how-to-install-flask"], **body), 422)
    assert field in detail["errors"], detail
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0


def test_attempt_body_must_be_a_json_object(client, learner, slugs, assert_problem):
    url = f"{Q}/{slugs['how-to-install-flask']}/attempts"
    assert_problem(client.post(url, json=["good"], headers=learner), 422)
    assert_problem(
        client.post(url, data="{", content_type="application/json", headers=learner), 400
    )
    assert_problem(client.post(url, data="self_rating=good", headers=learner), 415)


def test_unknown_question_is_404(client, learner, assert_problem):
    detail = assert_problem(attempt(client, learner, 999_999, self_rating="good"), 404)
    assert detail["detail"] == "There is no question 999999."
    assert attempts_total(client, learner) == 0


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", f"{Q}/{2**64}/attempts"),
        ("get", f"{V1}/attempts/{2**64}"),
        ("get", f"{V1}/quizzes/{2**64}"),
        ("post", f"{V1}/quizzes/{2**64}/finish"),
        ("get", f"{Q}/{2**64}/stats"),
    ],
)
def test_ids_beyond_32_bits_are_404(client, learner, method, path, assert_problem):
    response = getattr(client, method)(path, json={"self_rating": "good"}, headers=learner)
    assert_problem(response, 404)


def test_attempt_records_the_question_version(client, learner, editor):
    question = client.post(
        Q,
        json={
            "prompt": "What does `flask routes` print?",
            "answer": "Every URL rule with its endpoint and methods.",
            "key_points": ["URL rules", "endpoints", "methods"],
            "difficulty": "easy",
            "topics": ["deployment"],
            "tags": ["cli"],
        },
        headers=editor,
    )
    assert question.status_code == 201
    qid, etag = question.get_json()["id"], question.headers["ETag"]
    first = created(attempt(client, learner, qid, answer="URL rules, endpoints and methods"))
    assert first["question_version"] == 1
    patched = client.patch(
        f"{Q}/{qid}",
        json={"answer": "Each URL rule, its endpoint and its HTTP methods."},
        headers={**editor, "If-Match": etag},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["version"] == 2
    second = created(attempt(client, learner, qid, self_rating="good"))
    assert second["question_version"] == 2
    assert second["model_answer"] == "Each URL rule, its endpoint and its HTTP methods."
    again = client.get(f"{V1}/attempts/{first['id']}", headers=learner).get_json()
    assert again["question_version"] == 1


def test_partial_credit_scores_a_choice_attempt(client, learner, editor):
    question = client.post(
        Q,
        json={
            "prompt": "Which of these serve a Flask app in production?",
            "answer": "A WSGI server such as gunicorn or uWSGI, never the development server.",
            "type": "multiple_choice",
            "choices": ["gunicorn", "uWSGI", "flask run"],
            "correct_choices": [0, 1],
            "choice_weights": [50, 50, -100],
            "topics": ["deployment"],
        },
        headers=editor,
    )
    assert question.status_code == 201, question.get_json()
    qid = question.get_json()["id"]
    half = created(attempt(client, learner, qid, choices=[0]))
    assert (half["grade"]["score"], half["grade"]["passed"]) == (0.5, False)
    full = created(attempt(client, learner, qid, choices=[1, 0]))
    assert (full["grade"]["score"], full["grade"]["passed"]) == (1.0, True)
    trap = created(attempt(client, learner, qid, choices=[0, 1, 2]))
    assert (trap["grade"]["score"], trap["grade"]["passed"]) == (0.0, False)
