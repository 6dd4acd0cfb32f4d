"""The grader against the bank itself: the seed file's questions and key points.

Every model answer earns full marks against its own key points (an answer that fails
them teaches the learner that the bank contradicts itself), and the learner answers the
grading issue was filed with are graded as a person would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.practice.grading import grade_free_text

BANK = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "seeds" / "bank.yaml").read_text(encoding="utf-8")
)
QUESTIONS = {q["slug"]: q for q in BANK["questions"]}
OPEN = [q for q in BANK["questions"] if q["type"] == "open" and q["key_points"]]


def test_the_bank_has_open_questions_to_check() -> None:
    assert len(OPEN) >= 50


@pytest.mark.parametrize("question", OPEN, ids=[q["slug"] for q in OPEN])
def test_every_model_answer_gets_full_marks(question: dict) -> None:
    grade = grade_free_text(answer=question["answer"], key_points=question["key_points"])
    assert grade.score == 1.0, [p for p in grade.points if p.credit < 1]
    assert grade.confidence == "clear_pass"


@pytest.mark.parametrize(
    ("slug", "answer", "passed"),
    [
        (
            "what-is-flask",
            "Flask is a lightweight micro-framework for building web apps in Python. "
            "It's built on WSGI.",
            True,
        ),
        (
            "run-flask-in-production",
            "gunicorn -w 4 app:app behind nginx, which handles TLS",
            True,
        ),
        (
            "what-is-flask-cors",
            "Flask-CORS blocks every request coming from another domain so browsers can "
            "never call your API",
            False,
        ),
    ],
)
def test_the_answers_the_issue_was_filed_with(slug: str, answer: str, passed: bool) -> None:
    grade = grade_free_text(answer=answer, key_points=QUESTIONS[slug]["key_points"])
    assert grade.passed is passed, grade


def test_csrf_in_the_learners_words_covers_csrf_protection() -> None:
    grade = grade_free_text(
        answer="it protects forms against CSRF",
        key_points=QUESTIONS["what-is-flask-wtf"]["key_points"],
    )
    assert "CSRF protection" in grade.matched
