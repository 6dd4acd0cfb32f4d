"""What the practice contract tests share: the practice operations, the bank and learners
they run on, and how a generated request is aimed at what exists.

Whether an attempt is valid depends on the question it answers (free text for an open
question, choices within its choices) and on the quiz it names, and whether a quiz can be
drawn depends on the topics that exist: no JSON Schema can say so. Valid parts of a
generated request are aimed at the bank as it is, as tests/contract/test_editor.py does for
the editors; invalid parts are sent as generated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemathesis.core.parameters import ParameterLocation
from sqlalchemy import func, select, update

from api.accounts.models import User
from api.bank.models import Question, Tag, Topic
from api.extensions import db
from api.practice.models import SELF_RATINGS, Attempt, Quiz, ReviewState
from tests.support.accounts import login_headers, make_user
from tests.support.apps import build_app, seed_bank_into
from tests.support.contract import fingerprint

V1 = "/api/v1"
PRACTICE_OPERATIONS = {
    "POST /api/v1/questions/{question_id}/attempts",
    "GET /api/v1/questions/{question_id}/stats",
    "GET /api/v1/attempts",
    "POST /api/v1/attempts/batch",
    "GET /api/v1/attempts/{attempt_id}",
    "PATCH /api/v1/attempts/{attempt_id}",
    "GET /api/v1/review",
    "POST /api/v1/quizzes",
    "GET /api/v1/quizzes/{quiz_id}",
    "POST /api/v1/quizzes/{quiz_id}/finish",
    "GET /api/v1/me/stats",
}


@dataclass(frozen=True)
class Item:
    id: int
    type: str
    choices: int  # how many choices it has (0 for an open question)
    gradeable: bool  # an open question with key points to grade free text against


@dataclass
class Bank:
    """What the module's bank holds, to aim generated requests at."""

    app: Any
    questions: dict[int, Item]
    topics: list[str]
    tags: list[str]

    @classmethod
    def of(cls, app) -> Bank:
        with app.app_context():
            questions = {
                q.id: Item(q.id, q.type, len(q.choices or []), bool(q.key_points))
                for q in db.session.scalars(select(Question).order_by(Question.id))
            }
            topics = list(db.session.scalars(select(Topic.slug).order_by(Topic.slug)))
            tags = list(db.session.scalars(select(Tag.slug).order_by(Tag.slug)))
        return cls(app, questions, topics, tags)

    def quiz(self, quiz_id: Any) -> tuple[int, list[int], bool] | None:
        """(owner, question ids, finished) of a quiz, or None."""
        if isinstance(quiz_id, float) and quiz_id.is_integer():
            quiz_id = int(quiz_id)  # JSON's 1.0 is the integer 1, to the app as to the spec
        if isinstance(quiz_id, bool) or not isinstance(quiz_id, int) or not 0 < quiz_id < 2**31:
            return None
        with self.app.app_context():
            quiz = db.session.get(Quiz, quiz_id)
            if quiz is None:
                return None
            return quiz.user_id, [i.question_id for i in quiz.items], quiz.finished_at is not None

    def own(self, model, user_id: int) -> list[int]:
        """Ids of the learner's quizzes or attempts."""
        with self.app.app_context():
            stmt = select(model.id).where(model.user_id == user_id).order_by(model.id)
            return list(db.session.scalars(stmt))

    def latest_attempts(self, user_id: int) -> list[int]:
        """Ids of the learner's latest attempt at each question: the ones still re-ratable."""
        with self.app.app_context():
            newest = (
                select(func.max(Attempt.id))
                .where(Attempt.user_id == user_id)
                .group_by(Attempt.question_id)
            )
            return sorted(db.session.scalars(newest))

    def answerable_since(self, user_id: int) -> datetime:
        """The earliest `answered_at` an upload of the learner's may give for any question:
        not before the account (to the second) nor before their latest review."""
        with self.app.app_context():
            joined = db.session.scalar(select(User.created_at).where(User.id == user_id))
            reviewed = db.session.scalar(
                select(func.max(ReviewState.last_reviewed_at)).where(ReviewState.user_id == user_id)
            )
        return max(joined.replace(microsecond=0), reviewed or joined)

    def pick(self, ids: list[int], seed: int) -> int | None:
        return ids[seed % len(ids)] if ids else None


@dataclass(frozen=True)
class Learner:
    id: int
    headers: dict[str, str]


def new_learner(app, *, joined: datetime | None = None) -> Learner:
    """A new learner; `joined` dates the account's creation back (uploads of attempts
    answered before it are refused)."""
    email = make_user(app, "learner")
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == email))
        if joined is not None:
            db.session.execute(update(User).where(User.id == user_id).values(created_at=joined))
            db.session.commit()
        db.session.remove()
    return Learner(user_id, login_headers(app, email))


CHOICE_QUESTIONS = [
    {
        "prompt": "Which of these are Flask extensions or parts of Flask's ecosystem?",
        "answer": "All but Rails, Django and Laravel.",
        "key_points": ["Flask-WTF", "Flask-Login"],
        "type": "multiple_choice",
        "choices": [
            "Flask-WTF",
            "Rails",
            "Flask-Login",
            "Django",
            "Flask-SQLAlchemy",
            "Laravel",
            "Jinja",
            "Werkzeug",
            "Click",
            "itsdangerous",
        ],
        "correct_choices": [0, 2, 4, 6, 7, 8, 9],
        "difficulty": "easy",
        "topics": ["extensions"],
    },
    {
        "prompt": "Flask ships with a built-in ORM.",
        "answer": "False: Flask leaves the database layer to extensions.",
        "type": "true_false",
        "correct_choices": [1],
        "note": "Flask-SQLAlchemy is the usual choice.",
        "difficulty": "easy",
        "topics": ["databases"],
    },
]


def _mode(body: dict) -> str | None:
    return next((k for k in ("answer", "choices", "self_rating") if k in body), None)


def _question_for(body: dict, bank: Bank, seed: int) -> int:
    """A question the body's way of answering fits: choices want a question with choices."""
    mode = _mode(body)
    if mode == "choices":
        wanted = max(body["choices"]) + 1
        fits = [q.id for q in bank.questions.values() if q.choices >= wanted]
    elif mode == "answer":
        fits = [q.id for q in bank.questions.values() if q.gradeable]
    else:
        fits = list(bank.questions)
    return bank.pick(fits, seed)


def _fit(body: dict, question_id: Any, bank: Bank, user_id: int, seed: int) -> tuple[Any, dict]:
    """A valid attempt made valid for its question and quiz, where both exist.

    A quiz of the learner's that lacks the question gets one of its own questions instead
    (a 422 otherwise); an answer the question cannot take (free text for a choice question,
    choices for an open one, an index past its choices) becomes one it can. Another's quiz
    (404) and a finished one (409) stay as they are.
    """
    quiz = bank.quiz(body.get("quiz_id"))
    if quiz is not None and quiz[0] == user_id and quiz[1] and question_id not in quiz[1]:
        question_id = quiz[1][seed % len(quiz[1])]
    question = bank.questions.get(question_id) if isinstance(question_id, int) else None
    if question is None:
        return question_id, body  # a 404
    body = dict(body)
    mode = _mode(body)
    if mode == "choices" and question.type == "open":
        del body["choices"]
        body["self_rating"] = SELF_RATINGS[seed % len(SELF_RATINGS)]
    elif mode == "choices":
        body["choices"] = [c % question.choices for c in body["choices"]]
    elif mode == "answer" and question.type != "open":
        del body["answer"]
        body["choices"] = [seed % question.choices]
    elif mode == "answer" and not question.gradeable:
        del body["answer"]
        body["self_rating"] = SELF_RATINGS[seed % len(SELF_RATINGS)]
    return question_id, body


def _past(value: Any, seed: int, since: datetime) -> Any:
    """A valid `answered_at`: with a UTC equivalent, not in the future, and not before
    `since` (the account's creation or the learner's latest review, which are refused)."""
    try:
        when = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (AttributeError, OverflowError, ValueError):
        when = None
    now = datetime.now(UTC)
    if when is None or not since <= when <= now - timedelta(seconds=1):
        return (since + (now - since) * (seed % 1000) / 1000).isoformat()
    return value


def _aim_attempt(case, bank: Bank, learner: Learner, seed: int, *, choose: bool) -> None:
    path = dict(case.path_parameters or {})
    body = case.body
    if _valid(case, ParameterLocation.BODY) and isinstance(body, dict):
        if choose and _valid(case, ParameterLocation.PATH):
            path["question_id"] = _question_for(body, bank, seed)
        if body.get("quiz_id") is not None and choose and seed % 2:
            body = {k: v for k, v in body.items() if k != "quiz_id"}
        path["question_id"], body = _fit(body, path.get("question_id"), bank, learner.id, seed)
    elif choose and _valid(case, ParameterLocation.PATH) and seed % 4:
        path["question_id"] = bank.pick(list(bank.questions), seed)
    # Containers are replaced, not edited, so Schemathesis re-derives which parts are valid;
    # parts left alone keep what they were generated as.
    if _valid(case, ParameterLocation.PATH) and path != case.path_parameters:
        case.path_parameters = path
    if body is not case.body:
        case.body = body


def _aim_batch(case, bank: Bank, learner: Learner, seed: int) -> None:
    body = case.body
    if not _valid(case, ParameterLocation.BODY) or not isinstance(body, dict):
        return
    items = []
    keep_quizzes = seed % 4 == 0  # most uploads are not in a quiz (random quiz ids are a 404)
    since = bank.answerable_since(learner.id)
    for i, item in enumerate(body["attempts"]):
        item_seed = fingerprint([seed, i])
        item = {**item, "answered_at": _past(item["answered_at"], item_seed, since)}
        if not keep_quizzes:
            item.pop("quiz_id", None)
        question_id = _question_for(item, bank, item_seed)
        question_id, item = _fit(item, question_id, bank, learner.id, item_seed)
        items.append({**item, "question_id": question_id})
    case.body = {**body, "attempts": items}


def _aim_quiz(case, bank: Bank, seed: int) -> None:
    """Topics and tags that exist: generated slugs name none, and every draw would be a 409."""
    body = case.body
    if not _valid(case, ParameterLocation.BODY) or not isinstance(body, dict):
        return
    body = dict(body)
    for name, pool in (("topic", bank.topics), ("tag", bank.tags)):
        if isinstance(body.get(name), list):
            chosen = [pool[fingerprint([seed, s]) % len(pool)] for s in body[name]]
            body[name] = list(dict.fromkeys(chosen))
    case.body = body


def _aim_key(case) -> None:
    """An Idempotency-Key made unique to the request it comes with.

    Hypothesis draws the same few keys again and again, and a key used before for another
    request is a 422 (tests/practice/test_idempotency.py checks that); a repeat of the same
    request with the same key still replays.
    """
    headers = dict(case.headers or {})
    key = headers.get("Idempotency-Key")
    if key is None or not _valid(case, ParameterLocation.HEADER):
        return
    request = [key, case.method, case.formatted_path, case.body]
    headers["Idempotency-Key"] = hashlib.sha256(
        json.dumps(request, sort_keys=True, default=repr).encode()
    ).hexdigest()
    case.headers = headers


def _valid(case, location: ParameterLocation) -> bool:
    return case.meta is not None and not case.meta.is_negative_at(location)


def aim(case, bank: Bank, learner: Learner, *, choose: bool = True) -> None:
    """Point a generated request at the bank as it is, where its data is valid.

    `choose` picks ids that exist for the path (the run without links); the stateful walk
    keeps the ids its links gave and only fits the body to them, and a listing's `user_id`
    (which no link gives) to the learner: the walk must list its own attempts.
    """
    if case.meta is None or case.method.upper() != case.operation.method.upper():
        return  # an undeclared method (405): sent as generated
    label = case.operation.label
    seed = fingerprint([case.path_parameters, case.query, case.body])
    if label == "POST /api/v1/questions/{question_id}/attempts":
        _aim_attempt(case, bank, learner, seed, choose=choose)
    elif label == "POST /api/v1/attempts/batch":
        _aim_batch(case, bank, learner, seed)
    elif label == "POST /api/v1/quizzes":
        _aim_quiz(case, bank, seed)
    elif choose and _valid(case, ParameterLocation.PATH) and case.path_parameters and seed % 4:
        name, ids = {
            "GET /api/v1/attempts/{attempt_id}": ("attempt_id", bank.own(Attempt, learner.id)),
            "PATCH /api/v1/attempts/{attempt_id}": (
                "attempt_id",
                bank.latest_attempts(learner.id) if seed % 2 else bank.own(Attempt, learner.id),
            ),
            "GET /api/v1/quizzes/{quiz_id}": ("quiz_id", bank.own(Quiz, learner.id)),
            "POST /api/v1/quizzes/{quiz_id}/finish": ("quiz_id", bank.own(Quiz, learner.id)),
            "GET /api/v1/questions/{question_id}/stats": ("question_id", list(bank.questions)),
        }[label]
        case.path_parameters = {**case.path_parameters, name: bank.pick(ids, seed)}
    elif (
        label == "GET /api/v1/attempts"
        and _valid(case, ParameterLocation.QUERY)
        and (case.query or {}).get("user_id") is not None
        and (seed % 2 or not choose)
    ):
        case.query = {**case.query, "user_id": learner.id}  # your own; another's is a 404
    _aim_key(case)


def build_practice_app(database_url: str):
    """A seeded bank with the choice questions, TESTING/DEBUG off."""
    app = build_app(database_url, TESTING=False, DEBUG=False)
    seed_bank_into(app)
    editor = login_headers(app, make_user(app, "editor"))
    for question in CHOICE_QUESTIONS:
        response = app.test_client().post(f"{V1}/questions", json=question, headers=editor)
        assert response.status_code == 201, response.get_json()
    return app


def prepared_learner(app) -> Learner:
    """The learner of a run, with quizzes (one finished) and attempts to read."""
    learner = new_learner(app)
    client = app.test_client()
    for _ in range(3):
        quiz = client.post(f"{V1}/quizzes", json={"count": 3}, headers=learner.headers)
        assert quiz.status_code == 201, quiz.get_json()
        body = quiz.get_json()
        for question in body["questions"]:
            answered = client.post(
                f"{V1}/questions/{question['id']}/attempts",
                json={"self_rating": "good", "quiz_id": body["id"]},
                headers=learner.headers,
            )
            assert answered.status_code == 201, answered.get_json()
    finished = client.post(f"{V1}/quizzes/{body['id']}/finish", headers=learner.headers)
    assert finished.status_code == 200, finished.get_json()
    return learner
