"""Quizzes: drawn without repeats, answers withheld, filters honoured, progress kept,
finished once."""

from __future__ import annotations

import pytest

from api.practice.models import Quiz
from tests.support.apps import slugs
from tests.support.practice import (
    ANSWER_FIELDS,
    V1,
    Q,
    attempt,
    attempts_total,
    created,
    expected_summary,
    new_learner,
    stored,
    topic_ids,
    user_id,
    when,
)

# --- quizzes -------------------------------------------------------------------------------


def test_quizzes_draw_without_repeats_until_the_pool_is_used(
    bank_app, client, learner, assert_problem
):
    pool = set(topic_ids(client, "signals"))
    assert len(pool) == 3
    drawn = []
    for count in (1, 5):
        response = client.post(
            f"{V1}/quizzes", json={"count": count, "topic": ["signals"]}, headers=learner
        )
        quiz = created(response)
        assert response.headers["Location"].endswith(f"{V1}/quizzes/{quiz['id']}")
        drawn.append([q["id"] for q in quiz["questions"]])
    assert len(drawn[0]) == 1 and len(drawn[1]) == 2
    assert set(drawn[0] + drawn[1]) == pool
    uid = user_id(client, learner)
    assert stored(bank_app, Quiz, uid) == 2
    used_up = client.post(f"{V1}/quizzes", json={"topic": ["signals"]}, headers=learner)
    detail = assert_problem(used_up, 409)
    assert detail["pool_size"] == 3
    assert detail["remaining"] == 0
    assert stored(bank_app, Quiz, uid) == 2
    # Wider filters still have questions; another learner still has the whole pool.
    assert (
        client.post(
            f"{V1}/quizzes", json={"topic": ["signals", "deployment"]}, headers=learner
        ).status_code
        == 201
    )
    other = client.post(
        f"{V1}/quizzes",
        json={"count": 5, "topic": ["signals"]},
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
        assert "basics" in slugs(question["topics"])
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
        ({"topic": "routing,,templates"}, "topic"),  # a string is a comma list: none empty
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
        client.post(
            f"{V1}/quizzes",
            json={"count": 3, "topic": ["routing"], "type": ["open"]},
            headers=learner,
        )
    )
    first, second, third = (q["id"] for q in quiz["questions"])
    points = client.get(f"{Q}/{first}", query_string={"include": "answer"}).get_json()
    full = created(
        attempt(
            client,
            learner,
            first,
            answer=points["answer"],  # every model answer earns full marks
            quiz_id=quiz["id"],
        )
    )
    assert full["quiz_id"] == quiz["id"]
    assert full["grade"]["score"] == 1.0
    again = created(attempt(client, learner, second, self_rating="again", quiz_id=quiz["id"]))
    created(attempt(client, learner, third, self_rating="good"))  # outside the quiz
    progress = client.get(f"{V1}/quizzes/{quiz['id']}", headers=learner).get_json()["progress"]
    results = progress.pop("results")
    assert progress == expected_summary(quiz, {first: 1.0, second: 0.0})
    # Per question, in the quiz's order: how its latest attempt in this quiz went.
    assert results == [
        {
            "question_id": first,
            "answered": True,
            "attempt_id": full["id"],
            "passed": True,
            "score": 1.0,
        },
        {
            "question_id": second,
            "answered": True,
            "attempt_id": again["id"],
            "passed": False,
            "score": 0.0,  # a self-rating scores what it passes
        },
        {
            "question_id": third,
            "answered": False,
            "attempt_id": None,
            "passed": None,
            "score": None,
        },
    ]
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
    assert {k: v for k, v in summary["progress"].items() if k != "results"} == expected_summary(
        quiz, {first: 1.0}
    )
    assert [r["answered"] for r in summary["progress"]["results"]] == [True, False]
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


def test_a_quiz_draws_one_question_of_a_related_group(bank_app, client, learner):
    """The four questions on migrations ask one thing: a quiz never holds two of them."""
    migrations = {
        q["id"]
        for q in client.get(f"{Q}?topic=databases&per_page=100").get_json()["data"]
        if q["related_group"] == "migrations"
    }
    assert len(migrations) == 4
    quiz = created(
        client.post(f"{V1}/quizzes", json={"count": 50, "topic": ["databases"]}, headers=learner)
    )
    drawn = {q["id"] for q in quiz["questions"]}
    assert len(drawn & migrations) == 1
    pool = int(client.get(f"{Q}?topic=databases").headers["X-Total-Count"])
    assert len(drawn) == pool - 3  # everything else in the topic was drawn


def test_quiz_filters_take_the_query_strings_syntax_too(client, learner, assert_problem):
    """One filter syntax: a quiz body takes a filter as a list or as the query string writes
    it, one comma-separated string; both start the same quiz."""
    as_list = {"count": 1, "topic": ["routing", "templates"], "difficulty": ["easy"]}
    as_text = {"count": 1, "topic": "routing, templates", "difficulty": "easy"}
    listed = created(client.post(f"{V1}/quizzes", json=as_list, headers=learner))
    written = created(client.post(f"{V1}/quizzes", json=as_text, headers=learner))
    assert listed["filters"] == written["filters"]
    assert written["filters"]["topic"] == ["routing", "templates"]
    empty = client.post(f"{V1}/quizzes", json={"topic": "routing,,templates"}, headers=learner)
    assert "topic" in assert_problem(empty, 422)["errors"]
