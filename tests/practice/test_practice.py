"""Practice: graded attempts, review queue, quizzes, idempotent writes and progress statistics.

Every test runs on SQLite and on PostgreSQL, against a seeded bank of this module's own
(these tests write). Each test makes its own learners, so their histories never mix.
Times are compared with each other, never with the wall clock to a tolerance.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, func, null, select

from api.extensions import db
from api.practice import attempts as practice
from api.practice.models import Attempt, IdempotencyRecord, Quiz, ReviewState
from tests.support.accounts import login_headers, make_user
from tests.support.apps import QueryCounter, build_app, seed_bank_into

V1 = "/api/v1"
Q = f"{V1}/questions"
PROBLEM = "application/problem+json"
GRADE_FIELDS = {"score", "passed", "matched", "missed", "feedback"}
ATTEMPT_FIELDS = {
    "id",
    "question_id",
    "question_version",
    "quiz_id",
    "kind",
    "answer",
    "choices",
    "self_rating",
    "grade",
    "rating",
    "answered_at",
    "created_at",
    "next_review_at",
}
TEACHING_FIELDS = {"model_answer", "correct_choices", "note"}
ANSWER_FIELDS = {"answer", "key_points", "correct_choices", "note"}
WHAT_IS_FLASK_POINTS = [
    "micro web framework",
    "written in Python",
    "simple and lightweight",
    "follows WSGI standard",
]
# Far from UTC; at any instant one of them is between 01:00 and 23:00 locally.
FAR_ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo")


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_app(backend, database_factory):
    """A seeded bank of this module's own: these tests write to it."""
    app = build_app(database_factory(backend, "qbank_practice"))
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def limited_app(backend, database_factory):
    """Another seeded bank, offering only three new questions a day."""
    app = build_app(database_factory(backend, "qbank_practice_daily"), NEW_QUESTIONS_PER_DAY=3)
    seed_bank_into(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def client(bank_app):
    return bank_app.test_client()


@pytest.fixture(scope="module")
def editor(bank_app):
    return login_headers(bank_app, make_user(bank_app, "editor"))


@pytest.fixture(scope="module")
def admin(bank_app):
    return login_headers(bank_app, make_user(bank_app, "admin"))


@pytest.fixture()
def learner(bank_app):
    """A new learner's Authorization header, for this test alone."""
    return new_learner(bank_app)


@pytest.fixture(scope="module")
def slugs(bank_app) -> dict[str, int]:
    """Question ids by slug."""
    body = bank_app.test_client().get(Q, query_string={"per_page": 100}).get_json()
    return {q["slug"]: q["id"] for q in body["data"]}


@pytest.fixture(scope="module")
def choice_questions(bank_app, editor) -> dict[str, int]:
    """A multiple-choice (correct: 0 and 2) and a true/false (correct: False) question."""
    client = bank_app.test_client()
    mc = client.post(
        Q,
        json={
            "prompt": "Which of these are Flask extensions?",
            "answer": "Flask-WTF and Flask-Login are Flask extensions; Django REST is not.",
            "key_points": ["Flask-WTF", "Flask-Login"],
            "type": "multiple_choice",
            "choices": ["Flask-WTF", "Django REST framework", "Flask-Login", "Rails"],
            "correct_choices": [0, 2],
            "note": "Extensions are named Flask-Something by convention.",
            "difficulty": "easy",
            "topics": ["extensions"],
            "tags": ["practice-test"],
        },
        headers=editor,
    )
    assert mc.status_code == 201, mc.get_json()
    tf = client.post(
        Q,
        json={
            "prompt": "Flask ships with a built-in ORM.",
            "answer": "False: Flask leaves the database layer to extensions.",
            "key_points": ["no built-in ORM"],
            "type": "true_false",
            "correct_choices": [1],
            "difficulty": "easy",
            "topics": ["extensions"],
            "tags": ["practice-test"],
        },
        headers=editor,
    )
    assert tf.status_code == 201, tf.get_json()
    return {"multiple_choice": mc.get_json()["id"], "true_false": tf.get_json()["id"]}


def new_learner(app, timezone: str | None = None) -> dict[str, str]:
    headers = login_headers(app, make_user(app, "learner"))
    if timezone is not None:
        response = app.test_client().patch(f"{V1}/me", json={"timezone": timezone}, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["timezone"] == timezone
    return headers


def user_id(client, headers) -> int:
    return client.get(f"{V1}/me", headers=headers).get_json()["id"]


def attempt(client, headers, question_id: int, **body):
    return client.post(f"{Q}/{question_id}/attempts", json=body, headers=headers)


def created(response) -> dict:
    assert response.status_code == 201, response.get_json()
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def batch(client, headers, *items: dict):
    return client.post(f"{V1}/attempts/batch", json={"attempts": list(items)}, headers=headers)


def item(question_id: int, at: datetime, **mode) -> dict:
    return {"question_id": question_id, "answered_at": at.isoformat(), **mode}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def past(**delta) -> datetime:
    """An instant that far back, on whole seconds (every backend stores it exactly)."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


def attempts_total(client, headers, **filters) -> int:
    response = client.get(f"{V1}/attempts", query_string=filters, headers=headers)
    assert response.status_code == 200, response.get_json()
    total = int(response.headers["X-Total-Count"])
    assert response.get_json()["meta"]["total"] == total
    return total


def stored(app, model, uid: int) -> int:
    """Rows of `model` the user owns, read straight from the database."""
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(model).where(model.user_id == uid)
        )
        db.session.remove()
    return count


def review(client, headers, **args):
    response = client.get(f"{V1}/review", query_string=args, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["ETag"]
    return response.get_json()


def topic_ids(client, slug: str) -> list[int]:
    body = client.get(Q, query_string={"topic": slug, "per_page": 100, "sort": "id"}).get_json()
    return [q["id"] for q in body["data"]]


def far_zone() -> ZoneInfo:
    """A zone far from UTC whose local day has at least an hour left each side of now."""
    now = datetime.now(UTC)
    for name in FAR_ZONES:
        if 1 <= now.astimezone(ZoneInfo(name)).hour <= 22:
            return ZoneInfo(name)
    raise AssertionError("unreachable: the zones are hours apart")


def local(day, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def expected_summary(quiz: dict, results: dict[int, float]) -> dict:
    """The progress a quiz should show, from {question_id: score} of answered questions."""

    def summary(ids: list[int]) -> dict:
        done = [qid for qid in ids if qid in results]
        return {
            "questions": len(ids),
            "answered": len(done),
            "passed": sum(1 for qid in done if results[qid] >= 0.6),
            "score": round(sum(results[qid] for qid in done) / len(ids), 3),
        }

    by_topic: dict[str, list[int]] = {}
    for question in quiz["questions"]:
        for slug in question["topics"]:
            by_topic.setdefault(slug, []).append(question["id"])
    return {
        "overall": summary([q["id"] for q in quiz["questions"]]),
        "by_topic": {slug: summary(ids) for slug, ids in sorted(by_topic.items())},
        "answered_question_ids": sorted(results),
    }


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
        "score": 1.0,
        "passed": True,
        "matched": WHAT_IS_FLASK_POINTS,
        "missed": [],
        "feedback": "You covered all 4 key points.",
    }
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
    assert body["grade"] == {
        "score": 0.5,
        "passed": False,
        "matched": ["micro web framework", "written in Python"],
        "missed": ["simple and lightweight", "follows WSGI standard"],
        "feedback": "You covered 2 of 4 key points. Add: simple and lightweight; "
        "follows WSGI standard.",
    }
    assert body["rating"] == "hard"


def test_typos_and_inflections_still_count(client, learner, slugs):
    answer = "A mikro web framwork, writen in Pyhton; simply lightweight, following WSGI standards."
    body = created(attempt(client, learner, slugs["what-is-flask"], answer=answer))
    assert body["grade"]["passed"] is True
    assert body["grade"]["score"] == 1.0
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
        "score": 1.0,
        "passed": True,
        "matched": [],
        "missed": [],
        "feedback": "Correct.",
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
        "score": None,
        "passed": passed,
        "matched": [],
        "missed": [],
        "feedback": "",
    }
    assert body["model_answer"].startswith("You can install Flask using pip")


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


# --- scheduling and the review queue -------------------------------------------------------


def test_next_review_is_later_the_better_the_answer(client, learner, slugs):
    def wait(slug: str, rating: str) -> timedelta:
        body = created(attempt(client, learner, slugs[slug], self_rating=rating))
        return when(body["next_review_at"]) - when(body["answered_at"])

    again = wait("what-is-jinja2", "again")
    good = wait("render-html-template", "good")
    easy = wait("request-object", "easy")
    assert timedelta(0) < again < good < easy
    assert again <= timedelta(hours=1)  # due again within the session
    assert easy >= timedelta(days=1)


def test_after_again_the_question_is_due_soon_and_not_offered_as_new(client, learner, slugs):
    qid = slugs["what-is-jinja2"]
    now = created(attempt(client, learner, qid, self_rating="again"))
    assert when(now["next_review_at"]) - when(now["answered_at"]) <= timedelta(hours=1)
    # No longer new.
    queue = review(client, learner, topic="templates")
    assert queue["data"]
    assert ("new", qid) not in [(entry["kind"], entry["question"]["id"]) for entry in queue["data"]]
    # The same `again` an hour earlier: due by now.
    earlier = new_learner(client.application)
    assert batch(client, earlier, item(qid, past(hours=1), self_rating="again")).status_code == 201
    queue = review(client, earlier, topic="templates")
    assert queue["data"][0]["kind"] == "review"
    assert queue["data"][0]["question"]["id"] == qid
    assert queue["meta"]["due_total"] == 1


def test_review_lists_due_cards_most_overdue_first_mixed_with_new(client, learner):
    routing = topic_ids(client, "routing")
    assert len(routing) >= 6
    # Overdue by different amounts, in an order unlike the ids.
    first, second, third = routing[2], routing[0], routing[1]
    answered = batch(
        client,
        learner,
        item(second, past(days=2), self_rating="again"),
        item(first, past(days=3), self_rating="again"),
        item(third, past(days=1), self_rating="again"),
    )
    assert answered.status_code == 201, answered.get_json()
    queue = review(client, learner, topic="routing", limit=6)
    kinds = [entry["kind"] for entry in queue["data"]]
    assert kinds == ["review", "new", "review", "new", "review", "new"]
    due = [entry for entry in queue["data"] if entry["kind"] == "review"]
    assert [entry["question"]["id"] for entry in due] == [first, second, third]
    assert when(due[0]["due"]) < when(due[1]["due"]) < when(due[2]["due"])
    new = [entry for entry in queue["data"] if entry["kind"] == "new"]
    assert [entry["question"]["id"] for entry in new] == routing[3:6]
    assert all(entry["due"] is None for entry in new)
    for entry in queue["data"]:
        assert "routing" in entry["question"]["topics"]
        assert not ANSWER_FIELDS & set(entry["question"])
    assert queue["meta"] == {
        "due_total": 3,
        "new_today_remaining": 10,  # the batch was answered on earlier days
        "new_per_day": 10,
        "timezone": "UTC",
    }
    # A small limit keeps the most overdue.
    short = review(client, learner, topic="routing", limit=2)
    assert [entry["question"]["id"] for entry in short["data"]] == [first, second]
    assert short["meta"]["due_total"] == 3


@pytest.mark.parametrize(
    "args", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"topic": "Not A Slug"}, {"q": "x"}]
)
def test_review_query_validation(client, learner, args, assert_problem):
    detail = assert_problem(client.get(f"{V1}/review", query_string=args, headers=learner), 400)
    assert set(args) <= set(detail["errors"])


def test_new_questions_stop_after_the_daily_limit(limited_app):
    client = limited_app.test_client()
    learner = new_learner(limited_app)
    fresh = review(client, learner)
    assert [entry["kind"] for entry in fresh["data"]] == ["new"] * 3
    assert fresh["meta"]["new_today_remaining"] == 3
    assert fresh["meta"]["new_per_day"] == 3
    ids = [entry["question"]["id"] for entry in fresh["data"]]
    for qid in ids[:2]:
        created(attempt(client, learner, qid, self_rating="easy"))
    after_two = review(client, learner)
    assert [entry["kind"] for entry in after_two["data"]] == ["new"]
    assert after_two["data"][0]["question"]["id"] == ids[2]
    assert after_two["meta"]["new_today_remaining"] == 1
    created(attempt(client, learner, ids[2], self_rating="easy"))
    spent = review(client, learner)
    assert spent["data"] == []
    assert spent["meta"]["new_today_remaining"] == 0
    assert spent["meta"]["due_total"] == 0
    # Other learners have their own allowance.
    assert len(review(client, new_learner(limited_app))["data"]) == 3


def test_the_new_question_day_starts_at_the_learners_midnight(limited_app):
    client = limited_app.test_client()
    zone = far_zone()
    midnight = local(datetime.now(zone).date(), 0, 0, zone)
    ids = topic_ids(client, "extensions")[:3]
    items = [
        item(ids[0], midnight - timedelta(minutes=2), self_rating="easy"),
        item(ids[1], midnight - timedelta(minutes=1), self_rating="easy"),
        item(ids[2], midnight + timedelta(minutes=1), self_rating="easy"),
    ]
    learner = new_learner(limited_app, timezone=zone.key)
    assert batch(client, learner, *items).status_code == 201
    queue = review(client, learner)
    assert queue["meta"]["timezone"] == zone.key
    assert queue["meta"]["new_today_remaining"] == 2  # only the one after local midnight
    assert [entry["kind"] for entry in queue["data"]] == ["new", "new"]
    # In UTC the three fall on one day: all of them count today, or none does.
    utc_learner = new_learner(limited_app)
    assert batch(client, utc_learner, *items).status_code == 201
    assert review(client, utc_learner)["meta"]["new_today_remaining"] in (0, 3)


def test_a_first_attempt_that_lost_the_race_for_the_card_moves_the_winners_card_on(
    bank_app, client, learner, slugs, backend, monkeypatch
):
    """Two first attempts on one card in parallel: both read no card, one inserts it. The
    other's insert does nothing, so it locks the winner's card and reviews that instead.
    The race is staged: the second attempt reads the card as if it were not there yet."""
    qid = slugs["what-is-jinja2"]
    first = created(attempt(client, learner, qid, self_rating="good"))
    uid = user_id(client, learner)
    questions = practice._questions
    before_the_winner = select(
        *practice._QUESTION_COLUMNS,
        null().label("card"),
        null().label("reviews"),
        null().label("lapses"),
    ).where(questions.c.id == bindparam("card_question_id"))
    monkeypatch.setitem(practice._QUESTION_AND_CARD, backend, before_the_winner)
    second = created(attempt(client, learner, qid, self_rating="again"))
    monkeypatch.undo()
    assert second["grade"]["passed"] is False
    with bank_app.app_context():
        card = db.session.get(ReviewState, (uid, qid))
        assert (card.reviews, card.lapses, card.last_passed) == (2, 1, False)
        assert card.first_reviewed_at == when(first["answered_at"])
        assert card.last_reviewed_at == when(second["answered_at"])
        assert card.due == when(second["next_review_at"])
        db.session.remove()
    assert attempts_total(client, learner, question_id=qid) == 2


def test_an_attempt_takes_a_fixed_number_of_statements(bank_app, client, learner, slugs):
    """The session check with the user, the question with the card, the card's write and the
    attempt's insert; a keyed attempt also looks up and stores its replay record."""
    qid = slugs["what-is-flask"]

    def statements(**headers) -> list[str]:
        with bank_app.app_context():
            with QueryCounter(db.engine) as counter:
                created(attempt(client, {**learner, **headers}, qid, self_rating="good"))
        return counter.statements

    first, review = statements(), statements()
    assert len(first) == len(review) == 4, first + review
    assert not [s for s in first + review if "topics" in s or "tags" in s]
    assert len(statements(**{"Idempotency-Key": "counted"})) == 6


# --- idempotency ---------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response(bank_app, client, learner, slugs):
    qid = slugs["create-flask-application"]
    keyed = {**learner, "Idempotency-Key": "attempt-0001"}
    body = {"answer": "Create a Flask instance, define routes and run the development server."}
    first = client.post(f"{Q}/{qid}/attempts", json=body, headers=keyed)
    original = created(first)
    assert "Idempotent-Replayed" not in first.headers
    repeat = client.post(f"{Q}/{qid}/attempts", json=body, headers=keyed)
    assert created(repeat) == original
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.headers["Location"] == first.headers["Location"]
    assert attempts_total(client, learner, question_id=qid) == 1
    uid = user_id(client, learner)
    assert stored(bank_app, Attempt, uid) == 1
    assert stored(bank_app, IdempotencyRecord, uid) == 1


@pytest.mark.parametrize(
    "path, body",
    [
        ("create-flask-application", {"self_rating": "easy"}),  # another body
        ("what-is-flask", {"self_rating": "good"}),  # another question
    ],
)
def test_idempotency_key_reused_for_another_request_is_422(
    client, learner, slugs, path, body, assert_problem
):
    keyed = {**learner, "Idempotency-Key": "reused"}
    qid = slugs["create-flask-application"]
    created(client.post(f"{Q}/{qid}/attempts", json={"self_rating": "good"}, headers=keyed))
    detail = assert_problem(
        client.post(f"{Q}/{slugs[path]}/attempts", json=body, headers=keyed), 422
    )
    assert "Idempotency-Key" in detail["errors"]
    assert attempts_total(client, learner) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
def test_invalid_idempotency_key_is_422(client, learner, slugs, key, assert_problem):
    response = client.post(
        f"{Q}/{slugs['what-is-flask']}/attempts",
        json={"self_rating": "good"},
        headers={**learner, "Idempotency-Key": key},
    )
    assert assert_problem(response, 422)["errors"] == {"Idempotency-Key": ["Invalid key."]}
    assert attempts_total(client, learner) == 0


def test_idempotency_keys_are_per_user(client, slugs):
    app = client.application
    url = f"{Q}/{slugs['what-is-flask']}/attempts"
    mine, theirs = new_learner(app), new_learner(app)
    first = created(
        client.post(url, json={"self_rating": "good"}, headers={**mine, "Idempotency-Key": "k1"})
    )
    response = client.post(
        url, json={"self_rating": "good"}, headers={**theirs, "Idempotency-Key": "k1"}
    )
    other = created(response)
    assert "Idempotent-Replayed" not in response.headers
    assert other["id"] != first["id"]
    assert client.get(f"{V1}/attempts/{other['id']}", headers=theirs).status_code == 200
    assert attempts_total(client, mine) == attempts_total(client, theirs) == 1


def test_quiz_creation_is_idempotent(client, learner):
    keyed = {**learner, "Idempotency-Key": "quiz-1"}
    first = client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=keyed)
    quiz = created(first)
    repeat = client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=keyed)
    assert created(repeat) == quiz
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.headers["Location"] == first.headers["Location"]
    fresh = created(
        client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["routing"]}, headers=learner)
    )
    assert not {q["id"] for q in fresh["questions"]} & {q["id"] for q in quiz["questions"]}


# --- offline batch -------------------------------------------------------------------------


def test_batch_is_processed_in_answer_order(client, learner, slugs):
    qid = slugs["what-is-a-view-function"]
    later, earlier = past(hours=1), past(hours=2)
    response = batch(
        client,
        learner,
        item(qid, later, self_rating="good"),
        item(qid, earlier, answer="It is a database."),
    )
    body = created(response)
    assert "Location" not in response.headers
    replies = body["data"]
    assert [when(r["answered_at"]) for r in replies] == [earlier, later]
    assert [r["kind"] for r in replies] == ["free_text", "self_rating"]
    assert [r["rating"] for r in replies] == ["again", "good"]
    assert set(replies[0]) == ATTEMPT_FIELDS | TEACHING_FIELDS
    assert when(replies[1]["next_review_at"]) > when(replies[0]["next_review_at"])
    # The card ends where the later answer left it (due by now: a learning step).
    queue = review(client, learner, topic="routing", limit=1)
    assert queue["data"][0]["question"]["id"] == qid
    assert when(queue["data"][0]["due"]) == when(replies[1]["next_review_at"])
    listed = client.get(f"{V1}/attempts", headers=learner).get_json()["data"]
    assert [a["id"] for a in listed] == [replies[1]["id"], replies[0]["id"]]


def test_batch_with_an_unknown_question_stores_nothing(
    bank_app, client, learner, slugs, assert_problem
):
    response = batch(
        client,
        learner,
        item(slugs["what-is-flask"], past(hours=3), self_rating="good"),
        item(999_999, past(hours=2), self_rating="good"),
    )
    assert assert_problem(response, 404)["detail"] == "There is no question 999999."
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0
    assert review(client, learner)["meta"]["new_today_remaining"] == 10


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"answered_at": "2999-01-01T00:00:00Z", "self_rating": "good"}, "attempts.1.answered_at"),
        ({"answered_at": "2020-01-01T00:00:00", "self_rating": "good"}, "attempts.1.answered_at"),
        (
            {"answered_at": "0001-01-01T00:30:00+01:00", "self_rating": "good"},
            "attempts.1.answered_at",
        ),
        ({"answered_at": "yesterday", "self_rating": "good"}, "attempts.1.answered_at"),
        ({"self_rating": "good"}, "attempts.1.answered_at"),
        ({"answered_at": "2020-01-01T00:00:00Z"}, "attempts.1._schema"),
        ({"answered_at": "2020-01-01T00:00:00Z", "choices": [0]}, "choices"),
    ],
)
def test_batch_with_one_bad_item_is_422_and_stores_nothing(
    bank_app, client, learner, slugs, bad, field, assert_problem
):
    good = item(slugs["what-is-flask"], past(hours=3), self_rating="good")
    response = batch(client, learner, good, {"question_id": slugs["define-route"], **bad})
    detail = assert_problem(response, 422)
    assert field in detail["errors"], detail
    assert attempts_total(client, learner) == 0
    assert stored(bank_app, ReviewState, user_id(client, learner)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"attempts": []},
        {"attempts": {}},
        {"attempts": [item(1, past(hours=1), self_rating="good")] * 101},
    ],
)
def test_batch_envelope_validation(client, learner, body, assert_problem):
    response = client.post(f"{V1}/attempts/batch", json=body, headers=learner)
    assert "attempts" in assert_problem(response, 422)["errors"]


def test_batch_is_idempotent(client, learner, slugs):
    keyed = {**learner, "Idempotency-Key": "offline-sync-7"}
    body = {"attempts": [item(slugs["what-is-flask"], past(hours=1), self_rating="hard")]}
    first = created(client.post(f"{V1}/attempts/batch", json=body, headers=keyed))
    repeat = client.post(f"{V1}/attempts/batch", json=body, headers=keyed)
    assert created(repeat) == first
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert attempts_total(client, learner) == 1


# --- quizzes -------------------------------------------------------------------------------


def test_quizzes_draw_without_repeats_until_the_pool_is_used(
    bank_app, client, learner, assert_problem
):
    pool = set(topic_ids(client, "error-handling"))
    assert len(pool) == 2
    drawn = []
    for count in (1, 5):
        response = client.post(
            f"{V1}/quizzes", json={"count": count, "topic": ["error-handling"]}, headers=learner
        )
        quiz = created(response)
        assert response.headers["Location"].endswith(f"{V1}/quizzes/{quiz['id']}")
        drawn.append([q["id"] for q in quiz["questions"]])
    assert len(drawn[0]) == 1 and len(drawn[1]) == 1
    assert set(drawn[0] + drawn[1]) == pool
    uid = user_id(client, learner)
    assert stored(bank_app, Quiz, uid) == 2
    used_up = client.post(f"{V1}/quizzes", json={"topic": ["error-handling"]}, headers=learner)
    detail = assert_problem(used_up, 409)
    assert detail["pool_size"] == 2
    assert detail["remaining"] == 0
    assert stored(bank_app, Quiz, uid) == 2
    # Wider filters still have questions; another learner still has the whole pool.
    assert (
        client.post(
            f"{V1}/quizzes", json={"topic": ["error-handling", "deployment"]}, headers=learner
        ).status_code
        == 201
    )
    other = client.post(
        f"{V1}/quizzes",
        json={"count": 5, "topic": ["error-handling"]},
        headers=new_learner(bank_app),
    )
    assert {q["id"] for q in created(other)["questions"]} == pool


def test_quiz_withholds_answers_and_honours_filters(client, learner):
    response = client.post(
        f"{V1}/quizzes",
        json={"count": 3, "topic": ["basics"], "difficulty": ["easy"], "type": ["open"]},
        headers=learner,
    )
    quiz = created(response)
    assert set(quiz) == {"id", "filters", "created_at", "finished_at", "questions", "progress"}
    assert quiz["filters"] == {
        "topic": ["basics"],
        "tag": [],
        "difficulty": ["easy"],
        "type": ["open"],
    }
    assert quiz["finished_at"] is None
    assert len(quiz["questions"]) == 3
    assert len({q["id"] for q in quiz["questions"]}) == 3
    for question in quiz["questions"]:
        assert not ANSWER_FIELDS & set(question)
        assert "basics" in question["topics"]
        assert question["difficulty"] == "easy" and question["type"] == "open"
    assert quiz["progress"]["overall"] == {
        "questions": 3,
        "answered": 0,
        "passed": 0,
        "score": 0.0,
    }
    fetched = client.get(f"{V1}/quizzes/{quiz['id']}", headers=learner)
    assert fetched.status_code == 200
    assert fetched.headers["Cache-Control"] == "private, no-cache"
    assert fetched.headers["ETag"]
    assert fetched.get_json() == quiz
    cached = client.get(
        f"{V1}/quizzes/{quiz['id']}",
        headers={**learner, "If-None-Match": fetched.headers["ETag"]},
    )
    assert cached.status_code == 304


@pytest.mark.parametrize(
    "body, field",
    [
        ({"count": 0}, "count"),
        ({"count": 51}, "count"),
        ({"topic": ["Not A Slug"]}, "topic.0"),
        ({"topic": "routing"}, "topic"),
        ({"difficulty": ["trivial"]}, "difficulty.0"),
        ({"type": ["essay"]}, "type.0"),
        ({"shuffle": True}, "shuffle"),
    ],
)
def test_quiz_body_validation(bank_app, client, learner, body, field, assert_problem):
    detail = assert_problem(client.post(f"{V1}/quizzes", json=body, headers=learner), 422)
    assert field in detail["errors"]
    assert stored(bank_app, Quiz, user_id(client, learner)) == 0


def test_quiz_attempts_update_progress(client, learner):
    quiz = created(
        client.post(f"{V1}/quizzes", json={"count": 3, "topic": ["routing"]}, headers=learner)
    )
    first, second, third = (q["id"] for q in quiz["questions"])
    points = client.get(f"{Q}/{first}", query_string={"include": "answer"}).get_json()
    full = created(
        attempt(client, learner, first, answer=". ".join(points["key_points"]), quiz_id=quiz["id"])
    )
    assert full["quiz_id"] == quiz["id"]
    assert full["grade"]["score"] == 1.0
    created(attempt(client, learner, second, self_rating="again", quiz_id=quiz["id"]))
    created(attempt(client, learner, third, self_rating="good"))  # outside the quiz
    progress = client.get(f"{V1}/quizzes/{quiz['id']}", headers=learner).get_json()["progress"]
    assert progress == expected_summary(quiz, {first: 1.0, second: 0.0})
    assert progress["overall"] == {"questions": 3, "answered": 2, "passed": 1, "score": 0.333}
    # The latest attempt in the quiz counts.
    created(attempt(client, learner, second, self_rating="hard", quiz_id=quiz["id"]))
    progress = client.get(f"{V1}/quizzes/{quiz['id']}", headers=learner).get_json()["progress"]
    assert progress["overall"] == {"questions": 3, "answered": 2, "passed": 2, "score": 0.667}
    assert attempts_total(client, learner, quiz_id=quiz["id"]) == 3
    assert attempts_total(client, learner) == 4


def test_quiz_attempt_must_name_a_question_of_that_quiz(
    bank_app, client, learner, slugs, assert_problem
):
    quiz = created(
        client.post(f"{V1}/quizzes", json={"count": 1, "topic": ["templates"]}, headers=learner)
    )
    outside = slugs["what-is-flask"]
    response = attempt(client, learner, outside, self_rating="good", quiz_id=quiz["id"])
    assert "quiz_id" in assert_problem(response, 422)["errors"]
    inside = quiz["questions"][0]["id"]
    assert_problem(attempt(client, learner, inside, self_rating="good", quiz_id=999_999), 404)
    someone_else = new_learner(bank_app)
    assert_problem(
        attempt(client, someone_else, inside, self_rating="good", quiz_id=quiz["id"]), 404
    )
    assert attempts_total(client, learner) == attempts_total(client, someone_else) == 0


def test_finishing_a_quiz_scores_it_once(client, learner, assert_problem):
    quiz = created(
        client.post(f"{V1}/quizzes", json={"count": 2, "topic": ["templates"]}, headers=learner)
    )
    first, second = (q["id"] for q in quiz["questions"])
    created(attempt(client, learner, first, self_rating="easy", quiz_id=quiz["id"]))
    finished = client.post(f"{V1}/quizzes/{quiz['id']}/finish", headers=learner)
    assert finished.status_code == 200
    assert finished.headers["Cache-Control"] == "no-store"
    summary = finished.get_json()
    assert summary["finished_at"] is not None
    assert when(summary["finished_at"]) >= when(summary["created_at"])
    assert summary["progress"] == expected_summary(quiz, {first: 1.0})
    assert summary["progress"]["overall"] == {
        "questions": 2,
        "answered": 1,
        "passed": 1,
        "score": 0.5,
    }
    assert summary["progress"]["by_topic"]["templates"]["questions"] == 2
    again = client.post(f"{V1}/quizzes/{quiz['id']}/finish", headers=learner)
    assert again.status_code == 200
    assert again.get_json() == summary
    late = attempt(client, learner, second, self_rating="good", quiz_id=quiz["id"])
    assert "finished" in assert_problem(late, 409)["detail"]
    assert client.get(f"{V1}/quizzes/{quiz['id']}", headers=learner).get_json() == summary
    assert attempts_total(client, learner) == 1


# --- statistics ----------------------------------------------------------------------------


def test_my_stats(client, learner, slugs):
    empty = client.get(f"{V1}/me/stats", headers=learner)
    assert empty.status_code == 200
    assert empty.headers["Cache-Control"] == "private, no-cache"
    assert empty.get_json() == {
        "attempts": 0,
        "passed": 0,
        "accuracy": None,
        "streak_days": 0,
        "due_now": 0,
        "topics": [],
    }
    good = "A micro web framework written in Python, simple and lightweight, following WSGI."
    created(attempt(client, learner, slugs["what-is-flask"], answer=good))  # easy: due in days
    created(attempt(client, learner, slugs["hello-world-app"], self_rating="easy"))
    failed = batch(client, learner, item(slugs["what-is-a-flask-route"], past(days=1), answer="?!"))
    assert created(failed)["data"][0]["grade"]["passed"] is False
    response = client.get(f"{V1}/me/stats", headers=learner)
    assert response.status_code == 200
    assert response.headers["ETag"]
    stats = response.get_json()
    sizes = {
        slug: client.get(f"{V1}/topics/{slug}").get_json()["question_count"]
        for slug in ("basics", "routing")
    }
    assert stats["attempts"] == 3
    assert stats["passed"] == 2
    assert stats["accuracy"] == 0.667
    assert stats["due_now"] == 1  # the card failed yesterday
    assert stats["streak_days"] == 2  # yesterday and today, in UTC
    assert stats["topics"] == [
        {
            "topic": "basics",
            "name": "Flask basics",
            "attempts": 2,
            "passed": 2,
            "accuracy": 1.0,
            "questions": sizes["basics"],
            "mastered": 2,
            "mastery": round(2 / sizes["basics"], 3),
        },
        {
            "topic": "routing",
            "name": "Routing and views",
            "attempts": 2,
            "passed": 1,
            "accuracy": 0.5,
            "questions": sizes["routing"],
            "mastered": 1,
            "mastery": round(1 / sizes["routing"], 3),
        },
    ]
    # Relearning the failed card masters it.
    created(attempt(client, learner, slugs["what-is-a-flask-route"], self_rating="good"))
    after = client.get(f"{V1}/me/stats", headers=learner).get_json()
    assert after["topics"][1]["mastered"] == 2
    assert after["topics"][1]["mastery"] == round(2 / sizes["routing"], 3)
    assert (after["attempts"], after["passed"], after["accuracy"]) == (4, 3, 0.75)


def test_streak_counts_days_in_the_learners_time_zone(client, slugs):
    app = client.application
    zone = far_zone()
    today = datetime.now(zone).date()
    qid = slugs["what-is-flask"]
    items = [
        item(qid, local(today - timedelta(days=1), 0, 30, zone), self_rating="good"),
        item(qid, local(today - timedelta(days=2), 23, 30, zone), self_rating="good"),
        item(qid, local(today - timedelta(days=3), 12, 0, zone), self_rating="good"),
        item(qid, local(today - timedelta(days=5), 12, 0, zone), self_rating="good"),  # a gap
    ]
    learner = new_learner(app, timezone=zone.key)
    assert batch(client, learner, *items).status_code == 201
    assert client.get(f"{V1}/me/stats", headers=learner).get_json()["streak_days"] == 3
    created(attempt(client, learner, qid, self_rating="good"))  # today extends it
    assert client.get(f"{V1}/me/stats", headers=learner).get_json()["streak_days"] == 4
    # In UTC two of those days are one day, so the streak is shorter.
    utc_learner = new_learner(app)
    assert batch(client, utc_learner, *items).status_code == 201
    assert client.get(f"{V1}/me/stats", headers=utc_learner).get_json()["streak_days"] < 3


def test_question_stats_are_public_and_need_five_attempts_for_a_difficulty(
    client, editor, assert_problem
):
    made = client.post(
        Q,
        json={
            "prompt": "What does `app.test_client()` return?",
            "answer": "A client that sends requests to the app without a server.",
            "key_points": ["test client", "no server"],
            "difficulty": "medium",
            "topics": ["deployment"],
            "tags": ["testing"],
        },
        headers=editor,
    )
    assert made.status_code == 201
    qid = made.get_json()["id"]
    url = f"{Q}/{qid}/stats"
    empty = client.get(url)
    assert empty.status_code == 200
    assert empty.headers["Cache-Control"] == "public, max-age=60"
    assert empty.headers["ETag"]
    assert empty.get_json() == {
        "question_id": qid,
        "attempts": 0,
        "learners": 0,
        "passed": 0,
        "pass_rate": None,
        "average_score": None,
        "empirical_difficulty": None,
        "editor_difficulty": "medium",
    }
    app = client.application
    one, two, three = new_learner(app), new_learner(app), new_learner(app)
    created(attempt(client, one, qid, answer="A test client; no server needed."))
    created(attempt(client, one, qid, self_rating="again"))
    created(attempt(client, two, qid, self_rating="good"))
    created(attempt(client, three, qid, self_rating="hard"))
    four = client.get(url).get_json()
    assert (four["attempts"], four["learners"], four["passed"]) == (4, 3, 3)
    assert four["pass_rate"] == 0.75
    assert four["average_score"] == 1.0  # only the graded answer has a score
    assert four["empirical_difficulty"] is None
    created(attempt(client, three, qid, self_rating="again"))
    five = client.get(url).get_json()
    assert (five["attempts"], five["learners"], five["passed"]) == (5, 3, 3)
    assert five["pass_rate"] == 0.6
    assert five["empirical_difficulty"] == "medium"
    assert five["editor_difficulty"] == "medium"
    assert_problem(client.get(f"{Q}/999999/stats"), 404)


# --- listing, ownership and authentication -------------------------------------------------


def test_listing_my_attempts_with_filters_and_paging(client, learner, slugs, assert_problem):
    ids = [
        created(attempt(client, learner, slugs["what-is-flask"], self_rating=r))["id"]
        for r in ("again", "good", "easy")
    ]
    other = created(attempt(client, learner, slugs["define-route"], self_rating="hard"))["id"]
    response = client.get(f"{V1}/attempts", query_string={"per_page": 2}, headers=learner)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["X-Total-Count"] == "4"
    assert response.headers["ETag"]
    assert 'rel="next"' in response.headers["Link"]
    body = response.get_json()
    assert [a["id"] for a in body["data"]] == [other, ids[2]]  # newest first
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 4, "pages": 2}
    second = client.get(
        f"{V1}/attempts", query_string={"per_page": 2, "page": 2}, headers=learner
    ).get_json()
    assert [a["id"] for a in second["data"]] == [ids[1], ids[0]]
    mine = {"question_id": slugs["what-is-flask"]}
    assert attempts_total(client, learner, **mine) == 3
    failed = client.get(f"{V1}/attempts", query_string={"passed": "false"}, headers=learner)
    assert [a["id"] for a in failed.get_json()["data"]] == [ids[0]]
    assert attempts_total(client, learner, passed="true", **mine) == 2
    bad = client.get(f"{V1}/attempts", query_string={"passed": "maybe"}, headers=learner)
    assert "passed" in assert_problem(bad, 400)["errors"]


def test_attempts_and_quizzes_are_private(bank_app, client, admin, slugs, assert_problem):
    owner, stranger = new_learner(bank_app), new_learner(bank_app)
    owner_id = user_id(client, owner)
    mine = created(attempt(client, owner, slugs["what-is-flask"], self_rating="good"))
    quiz = created(
        client.post(f"{V1}/quizzes", json={"count": 1, "topic": ["basics"]}, headers=owner)
    )
    own_view = client.get(f"{V1}/attempts/{mine['id']}", headers=owner).get_json()
    own_quiz = client.get(f"{V1}/quizzes/{quiz['id']}", headers=owner).get_json()

    assert_problem(client.get(f"{V1}/attempts/{mine['id']}", headers=stranger), 404)
    assert_problem(client.get(f"{V1}/quizzes/{quiz['id']}", headers=stranger), 404)
    assert_problem(client.post(f"{V1}/quizzes/{quiz['id']}/finish", headers=stranger), 404)
    listed = client.get(f"{V1}/attempts", query_string={"user_id": owner_id}, headers=stranger)
    assert_problem(listed, 404)
    assert attempts_total(client, stranger) == 0
    assert client.get(f"{V1}/quizzes/{quiz['id']}", headers=owner).get_json()["finished_at"] is None

    as_admin = client.get(f"{V1}/attempts/{mine['id']}", headers=admin)
    assert as_admin.status_code == 200
    assert as_admin.get_json() == own_view
    assert client.get(f"{V1}/quizzes/{quiz['id']}", headers=admin).get_json() == own_quiz
    everything = client.get(f"{V1}/attempts", query_string={"user_id": owner_id}, headers=admin)
    assert everything.status_code == 200
    assert [a["id"] for a in everything.get_json()["data"]] == [mine["id"]]
    assert everything.headers["X-Total-Count"] == "1"
    assert attempts_total(client, owner, user_id=owner_id) == 1  # naming oneself is fine


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", f"{Q}/1/attempts", {"self_rating": "good"}),
        ("post", f"{V1}/attempts/batch", {"attempts": []}),
        ("get", f"{V1}/attempts", None),
        ("get", f"{V1}/attempts/1", None),
        ("get", f"{V1}/review", None),
        ("post", f"{V1}/quizzes", {"count": 1}),
        ("get", f"{V1}/quizzes/1", None),
        ("post", f"{V1}/quizzes/1/finish", None),
        ("get", f"{V1}/me/stats", None),
        ("patch", f"{V1}/me", {"timezone": "Europe/Paris"}),
    ],
)
def test_anonymous_callers_get_401(client, method, path, body, assert_problem):
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(path, **kwargs)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    forged = getattr(client, method)(path, headers={"Authorization": "Bearer not.a.jwt"}, **kwargs)
    assert_problem(forged, 401)
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
