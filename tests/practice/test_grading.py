"""api.practice.grading: free-text grading against key points, and exact choices.

Each tricky behaviour is pinned on its own: a paraphrase through an alternative phrasing,
a negation, an opposite, a neighbouring concept, typos, compounds, code names. How well
the grader agrees with people overall is measured by `make eval`, not asserted here.
"""

from __future__ import annotations

import dataclasses

import pytest

from api.practice.grading import (
    CONFIDENCES,
    GRADER_VERSION,
    MAX_ALTERNATIVES,
    MAX_ANSWER_CHARS,
    MAX_KEY_POINTS,
    PART_CREDIT,
    KeyPoint,
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


def point(grade, text):
    return next(p for p in grade.points if p.key_point == text)


def test_self_ratings() -> None:
    assert SELF_RATINGS == ("again", "hard", "good", "easy")


def test_paraphrase_with_word_order_inflection_and_typos_passes() -> None:
    answer = (
        "Under the hood it uses Jinja2 templates and Werkzueg. An @app.route decorater "
        "registers the routing, and Flask-Migrate runs the database migration scripts."
    )
    grade = grade_free_text(answer=answer, key_points=FLASK)
    assert grade.matched == FLASK[:3]
    assert grade.missed == [FLASK[3]]
    assert grade.passed is True
    assert grade.version == GRADER_VERSION
    # missed points are named as the editor wrote them, case kept
    assert grade.feedback == "You covered 3 of 4 key points. Add: Follows the WSGI standard."


def test_an_alternative_phrasing_covers_its_point() -> None:
    wsgi = KeyPoint(text="follows the WSGI standard", alternatives=("built on WSGI",))
    answer = "Flask apps are built on WSGI."
    assert not grade_free_text(answer=answer, key_points=[wsgi.text]).passed
    grade = grade_free_text(answer=answer, key_points=[wsgi])
    assert grade.passed and grade.matched == ["follows the WSGI standard"]
    # the bank's stored form works the same
    stored = {"text": wsgi.text, "alternatives": list(wsgi.alternatives)}
    assert grade_free_text(answer=answer, key_points=[stored]) == grade


def test_a_negation_contradicts_the_point_and_the_feedback_quotes_it() -> None:
    grade = grade_free_text(
        answer="Flask does not follow the WSGI standard, it has its own protocol.",
        key_points=["follows the WSGI standard"],
    )
    assert grade.score == 0.0 and not grade.passed
    result = grade.points[0]
    assert result.covered is False
    assert result.contradicted_by == "not follow the wsgi standard"
    assert 'Your answer says "not follow the wsgi standard"' in grade.feedback


@pytest.mark.parametrize(
    "answer",
    [
        "You should never run the development server behind a proxy.",
        "Run the app without the development server behind a proxy.",
        "Use gunicorn instead of the development server behind a proxy.",
        "It cannot run the development server behind a proxy.",
    ],
)
def test_negation_cues(answer: str) -> None:
    grade = grade_free_text(answer=answer, key_points=["development server behind a proxy"])
    assert not grade.passed
    assert grade.points[0].contradicted_by


def test_a_negation_ends_with_its_clause() -> None:
    grade = grade_free_text(
        answer="Flask doesn't include an ORM, so you choose your own components.",
        key_points=["choose your own components"],
    )
    assert grade.passed and grade.points[0].contradicted_by is None


@pytest.mark.parametrize(
    "answer",
    [
        "Not only does it follow the WSGI standard, it is also small.",
        "Don't forget: it follows the WSGI standard.",
    ],
)
def test_phrases_that_only_look_negative(answer: str) -> None:
    assert grade_free_text(answer=answer, key_points=["follows the WSGI standard"]).passed


def test_an_opposite_word_contradicts() -> None:
    grade = grade_free_text(
        answer="Flask-CORS blocks requests from other domains so browsers can never call you.",
        key_points=["allows requests from other domains"],
    )
    assert not grade.passed
    assert grade.points[0].contradicted_by == "blocks"


def test_a_negative_key_point_needs_the_negation() -> None:
    points = ["not for production"]
    assert grade_free_text(answer="Never use it in production.", key_points=points).passed
    assert not grade_free_text(answer="Use it in production.", key_points=points).passed


def test_the_denied_text_of_a_point_wins_over_an_alternative() -> None:
    both = KeyPoint(
        text="authentication and authorization", alternatives=("login and permissions",)
    )
    grade = grade_free_text(
        answer="It only does authorization; it doesn't handle authentication at all, "
        "for logging in you need another extension.",
        key_points=[both],
    )
    assert not grade.passed
    assert grade.points[0].contradicted_by.startswith("doesnt handle authentication")


def test_a_stated_misconception_contradicts_its_point() -> None:
    wsgi = KeyPoint(
        text="follows the WSGI standard",
        alternatives=("built on WSGI",),
        contradictions=("ASGI framework",),
    )
    wrong = grade_free_text(
        answer="Flask is an ASGI framework that follows the WSGI standard.", key_points=[wsgi]
    )
    assert not wrong.passed
    assert wrong.points[0].contradicted_by == "asgi framework"
    assert 'Your answer says "asgi framework", which contradicts' in wrong.feedback
    # denying the misconception is right, and so is naming only part of it
    for answer in (
        "It follows the WSGI standard; it is not an ASGI framework.",
        "Built on WSGI, unlike Quart which speaks ASGI.",
    ):
        assert grade_free_text(answer=answer, key_points=[wsgi]).passed, answer
    # ignoring negations and misconceptions would flip the verdict: uncertain
    assert wrong.confidence == "uncertain"


@pytest.mark.parametrize(
    ("key_point", "wrong", "right"),
    [
        ("CORS headers", "It adds CSRF headers.", "It adds CORS headers."),
        ("the session object", "use the db.session object", "use the session object"),
        ("url_for builds URLs", "redirect builds URLs", "url_for() builds the URLs"),
        ("authentication", "authorization", "authentication"),
        ("Flask", "flash", "Flask"),
    ],
)
def test_a_neighbouring_concept_does_not_cover(key_point: str, wrong: str, right: str) -> None:
    assert not grade_free_text(answer=wrong, key_points=[key_point]).passed
    assert grade_free_text(answer=right, key_points=[key_point]).passed


@pytest.mark.parametrize(
    ("answer", "key_point"),
    [
        ("a microframework", "micro framework"),
        ("it is light weight", "lightweight"),
        ("it is a micro-framework", "microframework"),
        ("Werkzueg", "Werkzeug"),
        ("render_templte('a.html')", "render_template"),
        ("requst.form['name']", "request.form"),
        ("request.form.get('name')", "request.form"),
        ("app.config['DEBUG']", "config"),
        ("SQLALCHEMY_DATABASE_URI", "database URI"),
        ("db.session.rolback() on errors", "rollback on errors"),
        ("the app's settings", "application configuration"),
    ],
)
def test_words_found_however_written(answer: str, key_point: str) -> None:
    assert grade_free_text(answer=answer, key_points=[key_point]).passed, (answer, key_point)


def test_short_words_and_numbers_need_an_exact_match() -> None:
    assert grade_free_text(answer="HTTP 404", key_points=["404"]).passed
    assert not grade_free_text(answer="HTTP 405", key_points=["404"]).passed
    assert not grade_free_text(answer="an app", key_points=["API"]).passed
    assert not grade_free_text(answer="python2", key_points=["python3"]).passed


def test_rare_words_weigh_more_than_common_ones() -> None:
    point = ["Alembic migration scripts for Flask apps"]
    assert grade_free_text(answer="alembic migration scripts", key_points=point).passed
    assert not grade_free_text(answer="flask apps and scripts", key_points=point).passed


def test_credit_full_and_in_part() -> None:
    points = ["Werkzeug and Jinja2", "Gunicorn server in production"]
    grade = grade_free_text(answer="Werkzeug and Jinja2; gunicorn in production", key_points=points)
    assert point(grade, points[0]).credit == 1.0
    assert point(grade, points[1]).credit == PART_CREDIT  # "server" is missing
    assert grade.score == round((1 + PART_CREDIT) / 2, 3)
    assert point(grade, points[1]).words == ("gunicorn", "production")


def test_per_key_point_results() -> None:
    grade = grade_free_text(
        answer="Flask is built on Werkzeug and Jinja2 but does not follow the WSGI standard.",
        key_points=FLASK,
    )
    assert [p.key_point for p in grade.points] == FLASK
    assert [p.covered for p in grade.points] == [True, False, False, False]
    assert grade.points[0].words == ("flask", "built", "werkzeug", "jinja2")
    assert grade.points[1].words == () and grade.points[1].contradicted_by is None
    assert grade.points[3].contradicted_by == "not follow the wsgi standard"
    assert grade.points[0].as_dict() == {
        "key_point": FLASK[0],
        "covered": True,
        "credit": 1.0,
        "words": ["flask", "built", "werkzeug", "jinja2"],
        "contradicted_by": None,
    }


def test_confidence() -> None:
    assert CONFIDENCES == ("clear_pass", "clear_fail", "uncertain")
    full = "built on werkzeug and jinja2, app.route decorators, flask-migrate, follows wsgi"
    assert grade_free_text(answer=full, key_points=FLASK).confidence == "clear_pass"
    assert grade_free_text(answer="no idea", key_points=FLASK).confidence == "clear_fail"
    assert grade_free_text(answer="", key_points=FLASK).confidence == "clear_fail"
    # passing only because one point is covered by most, not all, of its weight
    borderline = grade_free_text(
        answer="jinja2 and werkzeug", key_points=["Werkzeug and Jinja2 and Alembic"]
    )
    assert borderline.confidence == "uncertain"


def test_stemmer_joins_inflections() -> None:
    for a, b in [
        ("migrations", "migration"),
        ("migration", "migrate"),
        ("routing", "routes"),
        ("decorated", "decorator"),
        ("registered", "register"),
        ("libraries", "library"),
        ("builds", "create"),
    ]:
        assert stem(a) == stem(b), (a, b)


def test_content_words_drop_stop_words_and_repeats() -> None:
    assert content_words("The routes are routed by the router.") == ["rout", "router"]
    assert content_words("What is it?") == ["what", "is", "it"]


def test_pass_mark() -> None:
    answer = "flask is built on werkzeug and jinja2, follows the wsgi standard"
    assert grade_free_text(answer=answer, key_points=FLASK, pass_mark=0.5).passed
    assert not grade_free_text(answer=answer, key_points=FLASK, pass_mark=0.6).passed
    with pytest.raises(ValueError):
        grade_free_text(answer=answer, key_points=FLASK, pass_mark=1.5)


@pytest.mark.parametrize("answer", ["", "   \n\t "])
def test_empty_answer_scores_zero(answer: str) -> None:
    grade = grade_free_text(answer=answer, key_points=FLASK)
    assert (grade.score, grade.passed, grade.matched, grade.missed) == (0.0, False, [], FLASK)
    assert grade.feedback.startswith("No answer given.")
    assert "Follows the WSGI standard" in grade.feedback


@pytest.mark.parametrize("key_points", [[], ["", "   "], [{"text": " ", "alternatives": []}]])
def test_no_key_points_is_ungradeable(key_points: list) -> None:
    with pytest.raises(ValueError, match="no key points"):
        grade_free_text(answer="anything", key_points=key_points)


def test_long_answer_is_truncated() -> None:
    filler = "lorem ipsum dolor sit amet " * 2_000
    assert len(filler) > MAX_ANSWER_CHARS
    grade = grade_free_text(answer=filler + "follows the WSGI standard", key_points=FLASK)
    assert grade.score == 0.0  # the covering words were past the cut
    grade = grade_free_text(answer="follows the WSGI standard " + filler, key_points=FLASK)
    assert grade.matched == [FLASK[3]]


def test_only_the_first_key_points_and_alternatives_are_graded() -> None:
    points = [f"item{i}" for i in range(MAX_KEY_POINTS + 5)]
    grade = grade_free_text(answer="item0 item22", key_points=points)
    assert grade.matched == ["item0"]
    assert len(grade.points) == MAX_KEY_POINTS
    many = KeyPoint(text="zero", alternatives=tuple(f"alt{i}" for i in range(MAX_ALTERNATIVES + 2)))
    assert grade_free_text(answer=f"alt{MAX_ALTERNATIVES - 1}", key_points=[many]).passed
    assert not grade_free_text(answer=f"alt{MAX_ALTERNATIVES}", key_points=[many]).passed


def test_typo_look_ups_are_bounded_and_exact_words_still_count() -> None:
    """A long answer of unknown words against many long phrasings: the typo look-ups stop
    at a budget (so the work is bounded), exact words still count, and it is repeatable."""
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word(i: int, tail: str) -> str:
        return f"a{letters[i % 26]}{letters[i // 26 % 26]}{letters[i // 676 % 26]}{tail}"

    answer = " ".join(word(i, "zzqqxxv") for i in range(700))[: MAX_ANSWER_CHARS - 20]
    answer += " werkzeug"

    def phrase(first: int) -> str:  # far (7 edits) from every word of the answer
        return " ".join(word(i, "mmnnoop") for i in range(first, first + 12))

    points = [
        {"text": phrase(24 * i), "alternatives": [phrase(24 * i + 12)], "contradictions": []}
        for i in range(MAX_KEY_POINTS - 1)
    ] + ["Werkzeug"]
    grade = grade_free_text(answer=answer, key_points=points)
    assert grade.matched == ["Werkzeug"]
    assert grade_free_text(answer=answer, key_points=points) == grade


def test_grading_is_deterministic_and_frozen() -> None:
    answer = "Werkzueg, jinja2 and a decorater for routes, not wsgi"
    first = grade_free_text(answer=answer, key_points=FLASK)
    assert all(grade_free_text(answer=answer, key_points=FLASK) == first for _ in range(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.score = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("selected", "correct"),
    [([2], [2]), ([0, 3], [3, 0]), ([1, 1, 4], [4, 1])],
)
def test_choices_exact_match_passes(selected: list[int], correct: list[int]) -> None:
    grade = grade_choices(selected=selected, correct=correct)
    assert (grade.score, grade.passed, grade.feedback) == (1.0, True, "Correct.")
    assert (grade.matched, grade.missed, grade.points, grade.confidence) == (
        [],
        [],
        [],
        "clear_pass",
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
    grade = grade_choices(selected=selected, correct=correct)
    assert (grade.score, grade.passed, grade.feedback, grade.confidence) == (
        0.0,
        False,
        feedback,
        "clear_fail",
    )


def test_choices_need_a_correct_answer() -> None:
    with pytest.raises(ValueError):
        grade_choices(selected=[0], correct=[])


# Moodle-style partial credit: 50 + 50 for the two right ones, -100 for the trap.
WEIGHTS = [50.0, 50.0, -100.0, 0.0]


@pytest.mark.parametrize(
    ("selected", "score", "passed"),
    [
        ([0, 1], 1.0, True),
        ([1, 0, 3], 1.0, True),  # a choice worth nothing costs nothing, as in Moodle
        ([0], 0.5, False),
        ([0, 3], 0.5, False),
        ([0, 1, 2], 0.0, False),  # the trap takes back what the right ones gave
        ([2], 0.0, False),
        ([], 0.0, False),
    ],
)
def test_partial_credit_scores_the_sum_of_the_picked_weights(selected, score, passed) -> None:
    grade = grade_choices(selected=selected, correct=[0, 1], weights=WEIGHTS)
    assert (grade.score, grade.passed) == (score, passed)
    assert grade.confidence == ("clear_pass" if passed else "clear_fail")
    if 0 < score < 1:
        assert grade.feedback == "Partly right: your choices are worth 50% of the marks."
