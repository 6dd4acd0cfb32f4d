"""What the practice tests share: the fields an attempt shows, requests a learner sends,
what the database holds, time zones and quiz summaries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from api.accounts.models import User
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import slugs

V1 = "/api/v1"
Q = f"{V1}/questions"
GRADE_FIELDS = {
    "graded_by",
    "score",
    "passed",
    "matched",
    "missed",
    "feedback",
    "confidence",
    "key_points",
    "grader_version",
}
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
    "passed",
    "override",
    "override_until",
}
TEACHING_FIELDS = {"model_answer", "correct_choices", "explanations", "note", "override_hint"}
ANSWER_FIELDS = {"answer", "key_points", "correct_choices", "note"}
WHAT_IS_FLASK_POINTS = [
    "micro web framework",
    "written in Python",
    "simple and lightweight",
    "follows WSGI standard",
]
# Far from UTC; at any instant one of them is between 01:00 and 23:00 locally.
FAR_ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo")


# How long ago a test's learner registered: their offline batches answer within it (an
# attempt answered before the account existed is refused).
JOINED = timedelta(days=30)


def joined(app, email: str, ago: timedelta = JOINED) -> None:
    """Date the account's creation `ago` back, as if the learner had registered then."""
    with app.app_context():
        db.session.execute(
            update(User).where(User.email == email).values(created_at=datetime.now(UTC) - ago)
        )
        db.session.commit()
        db.session.remove()


def new_learner(app, timezone: str | None = None) -> dict[str, str]:
    """A learner who registered JOINED ago."""
    email = make_user(app, "learner")
    joined(app, email)
    headers = login_headers(app, email)
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
        for slug in slugs(question["topics"]):
            by_topic.setdefault(slug, []).append(question["id"])
    return {
        "overall": summary([q["id"] for q in quiz["questions"]]),
        "by_topic": {slug: summary(ids) for slug, ids in sorted(by_topic.items())},
        "answered_question_ids": sorted(results),
    }
