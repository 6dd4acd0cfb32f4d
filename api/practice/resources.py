"""Practice resources: attempts, the review queue, quizzes and progress."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_jwt_extended import verify_jwt_in_request
from flask_restful import Resource

from api.accounts.authentication import current_user
from api.accounts.models import ROLE_RANK
from api.accounts.roles import role_required
from api.bank import rows
from api.bank.reading import QuestionFilters
from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import InvalidBody, NotFound
from api.platform.parsing import existing_id, no_args, parse_args, parse_body
from api.platform.responses import paged
from api.practice import attempts, progress, quizzes, volume
from api.practice.idempotency import KEY_MAX, Outcome, request_fingerprint, run_once
from api.practice.schemas import (
    attempt_in_schema,
    attempt_list_args,
    attempt_override_schema,
    attempt_schema,
    attempts_schema,
    batch_in_schema,
    quiz_in_schema,
    review_args,
)

NO_STORE = {"Cache-Control": "no-store"}


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable() or not key.isascii():
        raise InvalidBody(
            "Idempotency-Key is 1 to 255 printable ASCII characters.",
            errors={"Idempotency-Key": ["Invalid key."]},
        )
    return key


def idempotent_reply(action, body) -> tuple:
    """Run a keyed POST at most once; a replay says so in `Idempotent-Replayed`."""
    user = current_user()
    key = _idempotency_key()
    # Only a keyed request is ever compared with another: only it needs the hash.
    fingerprint = "" if key is None else request_fingerprint(request.method, request.path, body)
    outcome = run_once(
        user_id=user.id,
        key=key,
        fingerprint=fingerprint,
        action=action,
        lifetime=current_app.config["IDEMPOTENCY_KEY_LIFETIME"],
    )
    headers = dict(NO_STORE)
    if outcome.location:
        headers["Location"] = outcome.location
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return outcome.body, outcome.status, headers


def _claim(user_id: int, adding: int) -> None:
    """Today's attempt quota (ATTEMPTS_PER_DAY), checked in the transaction that stores them."""
    volume.claim_attempts(
        user_id=user_id,
        adding=adding,
        per_day=current_app.config["ATTEMPTS_PER_DAY"],
        now=utcnow(),
    )


def _reply(attempt, question) -> dict:
    """A new attempt's reply also teaches: the model answer, the right choices, the note."""
    return {
        **attempt_schema.dump(attempt),
        "model_answer": question.answer,
        "correct_choices": question.correct_choices,
        "explanations": question.explanations,
        "note": question.note,
        "override_hint": _override_hint(attempt),
    }


def _override_hint(attempt) -> str | None:
    """An uncertain grade invites the learner to have the final word."""
    if attempt["confidence"] != "uncertain":
        return None
    return (
        "This grade is uncertain. Compare your answer with the model answer, then confirm "
        f"or change the rating with PATCH {url_for('attemptitem', attempt_id=attempt['id'])} "
        '{"self_rating": "again|hard|good|easy"}.'
    )


class QuestionAttempts(Resource):
    @role_required("learner")
    def post(self, question_id: int):
        """Answer a question: graded, with feedback and the next review time."""
        existing_id(question_id, "question")
        data = parse_body(attempt_in_schema)
        user = current_user()

        def action() -> Outcome:
            _claim(user.id, 1)
            attempt, question = attempts.record_attempt(
                user_id=user.id, question_id=question_id, data=data
            )
            return Outcome(
                201, _reply(attempt, question), url_for("attemptitem", attempt_id=attempt["id"])
            )

        return idempotent_reply(action, request.get_json())


class AttemptBatch(Resource):
    @role_required("learner")
    def post(self):
        """Upload attempts made offline, in answer order; all or nothing."""
        data = parse_body(batch_in_schema)
        user = current_user()
        now = utcnow()
        config = current_app.config
        items = data["attempts"]
        volume.check_batch_size(items, max_bytes=config["BATCH_ANSWER_MAX_BYTES"])
        volume.check_answered_at(
            items, account_created=user.created_at, now=now, skew=config["ANSWERED_AT_MAX_SKEW"]
        )
        # In answer order; a time within the allowed skew ahead of our clock is taken as now.
        order = sorted(range(len(items)), key=lambda i: items[i]["answered_at"])

        def action() -> Outcome:
            _claim(user.id, len(items))
            replies = []
            for i in order:
                attempt, question = attempts.record_attempt(
                    user_id=user.id,
                    question_id=items[i]["question_id"],
                    data=items[i],
                    answered_at=min(items[i]["answered_at"], now),
                    answered_at_field=f"attempts.{i}.answered_at",
                )
                replies.append(_reply(attempt, question))
            return Outcome(201, {"data": replies})

        return idempotent_reply(action, request.get_json())


class AttemptList(Resource):
    @role_required("learner")
    def get(self):
        """Your attempts, newest first (admins may name a user_id)."""
        args = parse_args(attempt_list_args)
        user = current_user()
        owner = user.id
        if args["user_id"] is not None:
            if user.role != "admin" and args["user_id"] != user.id:
                raise NotFound(f"There is no user {args['user_id']} you can read.")
            owner = args["user_id"]
        items, total = attempts.list_attempts(
            user_id=owner,
            question_id=args["question_id"],
            quiz_id=args["quiz_id"],
            passed=args["passed"],
            page=args["page"],
            per_page=args["per_page"],
        )
        body, status, headers = paged(
            attempts_schema.dump(items), page=args["page"], per_page=args["per_page"], total=total
        )
        return body, status, {**headers, "Cache-Control": "private, no-cache"}


class AttemptItem(Resource):
    @role_required("learner")
    def get(self, attempt_id: int):
        """One of your attempts."""
        parse_args(no_args)
        existing_id(attempt_id, "attempt")
        user = current_user()
        attempt = attempts.own_attempt(
            user_id=user.id, attempt_id=attempt_id, admin=user.role == "admin"
        )
        return attempt_schema.dump(attempt)

    @role_required("learner")
    def patch(self, attempt_id: int):
        """Confirm or override your attempt's rating; your card is rescheduled by it."""
        parse_args(no_args)
        existing_id(attempt_id, "attempt")
        data = parse_body(attempt_override_schema)
        attempt, changed = attempts.override_attempt(
            user_id=current_user().id,
            attempt_id=attempt_id,
            self_rating=data["self_rating"],
            now=utcnow(),
            window=current_app.config["ATTEMPT_OVERRIDE_WINDOW"],
        )
        body = attempt_schema.dump(attempt)
        if changed:
            db.session.commit()
        return body, 200, NO_STORE


class Review(Resource):
    @role_required("learner")
    def get(self):
        """What to review now: due cards most overdue first, mixed with new questions."""
        args = parse_args(review_args)
        user = current_user()
        queue = progress.review_queue(
            user=user,
            now=utcnow(),
            limit=args["limit"],
            new_per_day=current_app.config["NEW_QUESTIONS_PER_DAY"],
            filters=QuestionFilters.from_args(
                {key: args[key] for key in ("topic", "tag", "difficulty", "type")}
            ),
        )
        return (
            queue,
            200,
            NO_STORE,
        )


def _quiz_view(quiz) -> dict:
    return {
        "id": quiz.id,
        "filters": quizzes.stored_filters(quiz.filters),
        "created_at": quiz.created_at.isoformat(),
        "finished_at": quiz.finished_at.isoformat() if quiz.finished_at else None,
        # Rendered from Core rows in two statements (bank/rows.py), in the quiz's order.
        "questions": rows.rendered_questions(
            [item.question_id for item in quiz.items], with_answer=False
        ),
        "progress": quizzes.quiz_progress(quiz),
    }


class QuizList(Resource):
    @role_required("learner")
    def post(self):
        """Start a quiz: questions you have not had in earlier quizzes, answers withheld."""
        data = parse_body(quiz_in_schema)
        user = current_user()
        filters = QuestionFilters.from_args(
            {key: data[key] for key in ("topic", "tag", "difficulty", "type")}
        )

        def action() -> Outcome:
            quiz = quizzes.create_quiz(user_id=user.id, filters=filters, count=data["count"])
            return Outcome(201, _quiz_view(quiz), url_for("quizitem", quiz_id=quiz.id))

        return idempotent_reply(action, request.get_json())


class QuizItem(Resource):
    @role_required("learner")
    def get(self, quiz_id: int):
        """A quiz and your progress through it."""
        parse_args(no_args)
        existing_id(quiz_id, "quiz")
        user = current_user()
        quiz = quizzes.get_quiz(user_id=user.id, quiz_id=quiz_id, admin=user.role == "admin")
        return _quiz_view(quiz), 200, {"Cache-Control": "private, no-cache"}


class QuizFinish(Resource):
    @role_required("learner")
    def post(self, quiz_id: int):
        """Finish a quiz: the score overall and per topic."""
        existing_id(quiz_id, "quiz")
        quiz = quizzes.finish_quiz(user_id=current_user().id, quiz_id=quiz_id)
        return _quiz_view(quiz), 200, NO_STORE


class MyStats(Resource):
    @role_required("learner")
    def get(self):
        """Your progress: attempts, accuracy and mastery per topic, streak, number due."""
        parse_args(no_args)
        stats = progress.learner_stats(user=current_user(), now=utcnow())
        return stats, 200, {"Cache-Control": "private, no-cache"}


class QuestionStats(Resource):
    def get(self, question_id: int):
        """Aggregates for a question: attempts, pass rate, empirical difficulty (public, from
        5 learners); editors (with a token) also get facility and discrimination indexes."""
        parse_args(no_args)
        existing_id(question_id, "question")
        editor = False
        if "Authorization" in request.headers:
            verify_jwt_in_request()
            editor = ROLE_RANK[current_user().role] >= ROLE_RANK["editor"]
        stats = progress.question_stats(question_id=question_id, editor=editor)
        if editor:
            return stats, 200, {"Cache-Control": "private, no-cache"}
        return stats, 200, {"Cache-Control": "public, max-age=60"}
