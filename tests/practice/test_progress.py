"""Statistics (mine, a question's), listing my attempts, and who may see attempts and quizzes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from tests.support.practice import (
    V1,
    Q,
    attempt,
    attempts_total,
    batch,
    created,
    far_zone,
    item,
    local,
    new_learner,
    past,
    user_id,
)

# --- statistics ----------------------------------------------------------------------------


def test_my_stats(client, learner, slugs):
    empty = client.get(f"{V1}/me/stats", headers=learner)
    assert empty.status_code == 200
    assert empty.headers["Cache-Control"] == "private, no-cache"
    assert empty.get_json() == {
        "attempts": 0,
        "passed": 0,
        "accuracy": None,
        "overrides": {"total": 0, "raised": 0, "lowered": 0},
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


def test_my_stats_follow_the_bank(client, learner, editor, slugs):
    """Topic sizes are counted once per bank version: a question added to a topic
    counts in the next stats at once."""
    created(attempt(client, learner, slugs["hello-world-app"], self_rating="easy"))
    before = client.get(f"{V1}/me/stats", headers=learner).get_json()["topics"]
    basics = next(t for t in before if t["topic"] == "basics")
    added = client.post(
        f"{Q}?allow_duplicate=true",
        json={
            "prompt": f"Which question is number {uuid.uuid4().hex} of basics?",
            "answer": "The versions.",
            "topics": ["basics"],
        },
        headers=editor,
    )
    assert added.status_code == 201, added.get_json()
    after = client.get(f"{V1}/me/stats", headers=learner).get_json()["topics"]
    grown = next(t for t in after if t["topic"] == "basics")
    assert grown["questions"] == basics["questions"] + 1
    assert grown["mastery"] == round(grown["mastered"] / grown["questions"], 3)


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


def test_question_stats_are_public_from_five_learners(client, editor, assert_problem):
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
    hidden = {
        "question_id": qid,
        "available": False,
        "min_learners": 5,
        "attempts": None,
        "learners": None,
        "passed": None,
        "pass_rate": None,
        "average_score": None,
        "empirical_difficulty": None,
        "editor_difficulty": "medium",
        "message": "Figures appear once at least 5 learners have answered this question.",
    }
    empty = client.get(url)
    assert empty.status_code == 200
    assert empty.headers["Cache-Control"] == "public, max-age=60"
    assert empty.headers["ETag"]
    assert empty.get_json() == hidden
    app = client.application
    learners = [new_learner(app) for _ in range(5)]
    created(attempt(client, learners[0], qid, answer="A test client; no server needed."))
    created(attempt(client, learners[0], qid, self_rating="again"))
    created(attempt(client, learners[1], qid, self_rating="good"))
    created(attempt(client, learners[2], qid, self_rating="hard"))
    # Three learners: one learner's score must not be readable from the figures.
    assert client.get(url).get_json() == hidden
    # Editors see them all along, with the item analysis.
    early = client.get(url, headers=editor)
    assert early.headers["Cache-Control"] == "private, no-cache"
    early = early.get_json()
    assert (early["attempts"], early["learners"], early["passed"]) == (4, 3, 3)
    assert early["facility_index"] == 1.0  # first attempts: a full answer, good, hard
    assert early["discrimination_index"] is None  # fewer than 5 learners
    created(attempt(client, learners[3], qid, self_rating="again"))
    created(attempt(client, learners[4], qid, self_rating="again"))
    five = client.get(url).get_json()
    assert five["available"] is True and "message" not in five
    assert (five["attempts"], five["learners"], five["passed"]) == (6, 5, 3)
    assert five["pass_rate"] == 0.5
    assert five["average_score"] == 1.0  # only the graded answer has a score
    assert five["empirical_difficulty"] == "medium"
    assert "facility_index" not in five  # an editor's figure
    analysed = client.get(url, headers=editor).get_json()
    assert analysed["facility_index"] == 0.6  # 1, 1, 1, 0, 0
    assert -1 <= analysed["discrimination_index"] <= 1
    assert_problem(client.get(f"{Q}/999999/stats"), 404)


def test_discrimination_sets_the_upper_third_against_the_lower(bank_app, client, editor):
    """Six learners: the two best overall got the question right, the two worst did not."""

    def question(prompt: str) -> int:
        body = {"prompt": prompt, "answer": "Yes.", "topics": ["basics"], "tags": ["stats"]}
        response = client.post(Q, json=body, headers=editor)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    target = question("Is the facility index the mean item score?")
    other = question("Does the discrimination index compare thirds of the class?")
    learners = [new_learner(bank_app) for _ in range(6)]
    for i, who in enumerate(learners):  # standing: 0-1 strong, 2-3 middling, 4-5 weak
        created(attempt(client, who, other, self_rating="good" if i in (0, 1, 2) else "again"))
        created(attempt(client, who, target, self_rating="good" if i in (0, 1, 3) else "again"))
    stats = client.get(f"{Q}/{target}/stats", headers=editor).get_json()
    assert stats["facility_index"] == 0.5
    # upper third (0, 1): 1 and 1; lower third (4, 5): 0 and 0
    assert stats["discrimination_index"] == 1.0


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
