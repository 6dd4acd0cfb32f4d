"""api.practice.grading: free-text grading against key points, and exact choices."""

from __future__ import annotations

import dataclasses

import pytest

from api.practice.grading import (
    MAX_ANSWER_CHARS,
    MAX_KEY_POINTS,
    Grade,
    content_words,
    grade_choices,
    grade_free_text,
    stem,
)
from api.practice.models import SELF_RATINGS

FLASK = [
    "Flask is built on Werkzeug and Jinja2.",
    "Routes are registered with the app.route decorator.",
    "Database migrations are handled by Flask-Migrate.",
    "Follows the WSGI standard.",
]


def test_self_ratings() -> None:
    assert SELF_RATINGS == ("again", "hard", "good", "easy")


def test_paraphrase_with_word_order_inflection_and_typos_passes() -> None:
    answer = (
        "Under the hood it uses Jinja2 templates and Werkzueg. A decorater on the app "
        "registers the routing, and Flask-Migrate runs the database migration scripts."
    )
    grade = grade_free_text(answer=answer, key_points=FLASK)
    assert grade.matched == FLASK[:3]
    assert grade.missed == [FLASK[3]]
    assert grade.score == 0.75
    assert grade.passed is True
    assert grade.feedback == "You covered 3 of 4 key points. Add: follows the WSGI standard."


def test_unrelated_answer_fails_with_everything_missed() -> None:
    grade = grade_free_text(
        answer="Photosynthesis turns light into chemical energy inside chloroplasts.",
        key_points=FLASK,
    )
    assert grade == Grade(
        score=0.0,
        passed=False,
        matched=[],
        missed=FLASK,
        feedback=grade.feedback,
    )
    assert grade.feedback.startswith("You covered none of the 4 key points. Add: ")
    for point in ("built on Werkzeug and Jinja2", "follows the WSGI standard"):
        assert point in grade.feedback


def test_feedback_names_only_the_missing_points() -> None:
    grade = grade_free_text(
        answer="It follows WSGI and is built on werkzeug and jinja2.", key_points=FLASK
    )
    assert grade.matched == [FLASK[0], FLASK[3]]
    assert grade.score == 0.5
    assert grade.passed is False
    assert "2 of 4" in grade.feedback
    assert "app.route decorator" in grade.feedback
    assert "Flask-Migrate" in grade.feedback
    assert "Werkzeug" not in grade.feedback


def test_everything_covered() -> None:
    answer = (
        "flask: built on werkzeug + jinja2; routes registered via @app.route decorators; "
        "database migrations handled by flask-migrate; follows the wsgi standard"
    )
    grade = grade_free_text(answer=answer, key_points=FLASK)
    assert (grade.score, grade.passed, grade.missed) == (1.0, True, [])
    assert grade.feedback == "You covered all 4 key points."


@pytest.mark.parametrize(
    "answer",
    [
        "FOLLOWS THE WSGI STANDARD!!!",
        "follows... the W.S.G.I? no: the WSGI -- standard",
        "the standard it follows: (WSGI)",
        "  wsgi,standard,follows  ",
    ],
)
def test_case_punctuation_and_order_do_not_matter(answer: str) -> None:
    grade = grade_free_text(answer=answer, key_points=["Follows the WSGI standard."])
    assert grade.matched == ["Follows the WSGI standard."]
    assert grade.score == 1.0
    assert grade.feedback == "You covered the key point."


def test_feedback_for_a_single_missed_point() -> None:
    grade = grade_free_text(answer="no idea", key_points=["Follows the WSGI standard."])
    assert grade.feedback == "You did not cover the key point. Add: follows the WSGI standard."


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("migrations", "migration"),
        ("migration", "migrate"),
        ("routing", "routes"),
        ("decorated", "decorator"),
        ("decorater", "decorator"),
        ("registered", "register"),
        ("libraries", "library"),
        ("mapping", "mapped"),
        ("classes", "class"),
        ("using", "use"),
    ],
)
def test_stemmer_joins_inflections(a: str, b: str) -> None:
    assert stem(a) == stem(b)


def test_stemmer_leaves_short_and_vowelless_words() -> None:
    assert [stem(w) for w in ("string", "status", "api", "404", "process")] == [
        "string",
        "status",
        "api",
        "404",
        "process",
    ]


def test_content_words_drop_stop_words_and_repeats() -> None:
    assert content_words("The routes are routed by the router.") == ["rout"]
    assert content_words("What is it?") == ["what", "is", "it"]


def test_a_key_point_needs_most_of_its_words() -> None:
    point = ["Sessions are signed cookies stored client-side"]
    # session, sign, cooki, stor, client, side: 4 of 6 is enough, 3 of 6 is not
    assert grade_free_text(answer="signed session cookies on the client", key_points=point).passed
    assert not grade_free_text(answer="session cookies on the client", key_points=point).passed


def test_short_words_and_numbers_need_an_exact_match() -> None:
    assert grade_free_text(answer="HTTP 404", key_points=["404"]).passed
    assert not grade_free_text(answer="HTTP 405", key_points=["404"]).passed
    assert not grade_free_text(answer="an app", key_points=["API"]).passed
    assert not grade_free_text(answer="python2", key_points=["python3"]).passed
    assert grade_free_text(answer="python", key_points=["python3"]).passed


def test_pass_mark() -> None:
    answer = "built on werkzeug and jinja2, follows wsgi"
    assert grade_free_text(answer=answer, key_points=FLASK, pass_mark=0.5).passed
    assert not grade_free_text(answer=answer, key_points=FLASK, pass_mark=0.6).passed
    with pytest.raises(ValueError):
        grade_free_text(answer=answer, key_points=FLASK, pass_mark=1.5)


def test_score_is_rounded_to_three_places() -> None:
    grade = grade_free_text(answer="built on werkzeug and jinja2", key_points=FLASK[:3])
    assert grade.score == 0.333


@pytest.mark.parametrize("answer", ["", "   \n\t "])
def test_empty_answer_scores_zero(answer: str) -> None:
    grade = grade_free_text(answer=answer, key_points=FLASK)
    assert (grade.score, grade.passed, grade.matched, grade.missed) == (0.0, False, [], FLASK)
    assert grade.feedback.startswith("No answer given.")
    assert "follows the WSGI standard" in grade.feedback


@pytest.mark.parametrize("key_points", [[], ["", "   "]])
def test_no_key_points_is_ungradeable(key_points: list[str]) -> None:
    with pytest.raises(ValueError, match="no key points"):
        grade_free_text(answer="anything", key_points=key_points)


def test_long_answer_is_truncated() -> None:
    filler = "lorem ipsum dolor sit amet " * 2_000
    assert len(filler) > MAX_ANSWER_CHARS
    grade = grade_free_text(answer=filler + "follows the WSGI standard", key_points=FLASK)
    assert grade.score == 0.0  # the covering words were past the cut
    grade = grade_free_text(answer="follows the WSGI standard " + filler, key_points=FLASK)
    assert grade.matched == [FLASK[3]]


def test_only_the_first_key_points_are_graded() -> None:
    points = [f"item{i}" for i in range(MAX_KEY_POINTS + 5)]
    grade = grade_free_text(answer="item0 item22", key_points=points)
    assert grade.matched == ["item0"]
    assert len(grade.matched) + len(grade.missed) == MAX_KEY_POINTS
    assert grade.score == round(1 / MAX_KEY_POINTS, 3)


def test_grading_is_deterministic_and_frozen() -> None:
    answer = "Werkzueg, jinja2 and a decorater for routes"
    first = grade_free_text(answer=answer, key_points=FLASK)
    assert all(grade_free_text(answer=answer, key_points=FLASK) == first for _ in range(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.score = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("selected", "correct"),
    [([2], [2]), ([0, 3], [3, 0]), ([1, 1, 4], [4, 1])],
)
def test_choices_exact_match_passes(selected: list[int], correct: list[int]) -> None:
    assert grade_choices(selected=selected, correct=correct) == Grade(
        score=1.0, passed=True, matched=[], missed=[], feedback="Correct."
    )


@pytest.mark.parametrize(
    ("selected", "correct", "feedback"),
    [
        ([1], [2], "Not quite: that is not the correct choice."),
        ([1, 2], [2], "Not quite: you picked the correct choice but also a wrong one."),
        ([0], [0, 3], "Not quite: you picked 1 of the 2 correct choices."),
        ([0, 1, 2], [0, 3], "Not quite: you picked 1 of the 2 correct choices and 2 wrong ones."),
        ([], [0], "No choice selected."),
    ],
)
def test_choices_anything_else_fails(
    selected: list[int], correct: list[int], feedback: str
) -> None:
    assert grade_choices(selected=selected, correct=correct) == Grade(
        score=0.0, passed=False, matched=[], missed=[], feedback=feedback
    )


def test_choices_need_a_correct_answer() -> None:
    with pytest.raises(ValueError):
        grade_choices(selected=[0], correct=[])
