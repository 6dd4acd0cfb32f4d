"""Benchmark data: a generated bank plus learners, attempts and review states, in bulk.

Run by bench/run.py in a subprocess whose environment names the database
(DATABASE_URL, QBANK_INSTANCE_DIR, QBANK_ENV=development), after `flask db upgrade`:

    python -m bench.data populate --questions 100000 --learners 1000 --attempts 200000
    python -m bench.data token --user-id 1
    python -m bench.data learners --learners 200 --questions 2000 --out learners.json

`populate` prints one JSON line describing what it wrote; `token` prints a learner's
access token (minted in the same way as a login, signed with the instance's secret);
`learners` writes the access tokens of that many learners (spread over the bench's
learners) and that many open questions with their key points, for the rows that post
graded answers and read what a learner reads (bench/endpoints.py). Its tokens live as long
as the minting environment's JWT_ACCESS_TOKEN_SECONDS says (the harness sets it to outlast
the run: they are minted once per bank).

Questions come from api.bank.synthetic.generate_bank. Learners, attempts and review
states are written directly with Core inserts (COPY on PostgreSQL): going through the API
would take far longer than the benchmark itself. Their values are plausible rather than
replayed: every learner shares one argon2 hash (hashed once), attempts are spread over the
last 60 days with a kind that fits the question, and each (learner, question) pair that
has attempts gets the FSRS card of its last rating, so that a new attempt on it moves a
real card on.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, select

from api.bank.synthetic import write_rows

BATCH = 5000
RATINGS = ("again", "hard", "good", "easy")
# Rough next intervals, only to make `next_due_at` of the generated attempts plausible.
INTERVALS = {
    1: timedelta(minutes=10),
    2: timedelta(days=1),
    3: timedelta(days=3),
    4: timedelta(days=8),
}
PASSWORD = "bench-password-not-secret"


def _batched(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    written = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            write_rows(connection, table, batch)
            written += len(batch)
            batch = []
    write_rows(connection, table, batch)
    return written + len(batch)


def _card_templates(now) -> dict[int, Any]:
    """One reviewed FSRS card per rating at `now`, to be shifted to each pair's last review."""
    from api.practice import scheduling

    templates = {}
    for value, name in enumerate(RATINGS, start=1):
        review = scheduling.schedule(
            card=None, rating=scheduling.rating_for(self_rating=name), reviewed_at=now
        )
        templates[value] = review
    return templates


def _shifted_card(review, at, now) -> dict[str, Any]:
    card = dict(review.state)
    delta = at - now
    card["due"] = (review.due + delta).isoformat()
    card["last_review"] = at.isoformat()
    card["card_id"] = int(at.timestamp() * 1000)
    return card


def populate(*, questions: int, learners: int, attempts: int, seed: int = 7) -> dict[str, Any]:
    from api import create_app
    from api.accounts.models import User, new_token_key
    from api.accounts.users import hash_password
    from api.bank.models import Question
    from api.bank.synthetic import generate_bank, refresh_statistics
    from api.extensions import db
    from api.platform.db_types import utcnow
    from api.practice.models import Attempt, ReviewState

    timings: dict[str, float] = {}
    app = create_app()
    with app.app_context():
        started = time.monotonic()
        generate_bank(count=questions)
        timings["questions_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        rng = random.Random(seed)
        now = utcnow()
        password_hash = hash_password(PASSWORD)  # once: argon2 is slow by design
        connection = db.session.connection()
        _batched(
            connection,
            User.__table__,
            (
                {
                    "email": f"learner{i}@bench.example",
                    "password_hash": password_hash,
                    "role": "learner",
                    "display_name": f"Learner {i}",
                    "timezone": "UTC",
                    # COPY (PostgreSQL) skips the model's Python-side default.
                    "token_key": new_token_key(),
                    "created_at": now - timedelta(days=90),
                    "updated_at": now - timedelta(days=90),
                }
                for i in range(1, learners + 1)
            ),
        )
        user_ids = list(
            db.session.scalars(
                select(User.id).where(User.email.like("learner%@bench.example")).order_by(User.id)
            )
        )
        question_rows = db.session.execute(
            select(Question.id, Question.type, Question.key_points, Question.choices)
        ).all()
        kinds = {
            row.id: (row.type, row.key_points or [], row.choices or []) for row in question_rows
        }
        question_ids = list(kinds)

        # Attempts in time order, so that each pair's last attempt decides its card.
        times = sorted(
            now - timedelta(seconds=rng.uniform(60, 60 * 86400)) for _ in range(attempts)
        )
        attempt_rows = []
        pairs: dict[tuple[int, int], dict[str, Any]] = {}
        for at in times:
            user_id = rng.choice(user_ids)
            question_id = rng.choice(question_ids)
            qtype, key_points, choices = kinds[question_id]
            rating = rng.choices((1, 2, 3, 4), weights=(2, 2, 5, 1))[0]
            row = {
                "user_id": user_id,
                "question_id": question_id,
                "question_version": 1,
                "quiz_id": None,
                "kind": "self_rating",
                "answer_text": None,
                "selected_choices": None,
                "self_rating": RATINGS[rating - 1],
                "score": None,
                "passed": rating > 1,
                "matched": [],
                "missed": [],
                "feedback": "",
                "rating": rating,
                "answered_at": at,
                "created_at": at,
                "next_due_at": at + INTERVALS[rating],
            }
            roll = rng.random()
            if qtype != "open" and choices and roll < 0.7:
                rating = rng.choice((1, 3))
                row.update(
                    kind="choice",
                    self_rating=None,
                    selected_choices=[rng.randrange(len(choices))],
                    score=1.0 if rating == 3 else 0.0,
                    passed=rating == 3,
                    rating=rating,
                    next_due_at=at + INTERVALS[rating],
                )
            elif qtype == "open" and key_points and roll < 0.5:
                key_points = [point["text"] for point in key_points]
                hit = rng.randint(0, len(key_points))
                score = hit / len(key_points)
                rating = 1 if score < 0.4 else 2 if score < 0.6 else 3 if score < 0.9 else 4
                row.update(
                    kind="free_text",
                    self_rating=None,
                    answer_text="It is about " + " and ".join(key_points[:hit] or ["nothing"]),
                    score=score,
                    passed=score >= 0.6,
                    matched=key_points[:hit],
                    missed=key_points[hit:],
                    feedback=f"You covered {hit} of {len(key_points)} key points.",
                    rating=rating,
                    next_due_at=at + INTERVALS[rating],
                )
            attempt_rows.append(row)
            pair = pairs.get((user_id, question_id))
            if pair is None:
                pairs[(user_id, question_id)] = pair = {
                    "first": at,
                    "reviews": 0,
                    "lapses": 0,
                }
            pair["reviews"] += 1
            pair["lapses"] += 0 if row["passed"] else 1
            pair["last"] = at
            pair["rating"] = row["rating"]
            pair["passed"] = row["passed"]
        _batched(connection, Attempt.__table__, attempt_rows)

        templates = _card_templates(now)
        states = []
        for (user_id, question_id), pair in pairs.items():
            review = templates[pair["rating"]]
            card = _shifted_card(review, pair["last"], now)
            states.append(
                {
                    "user_id": user_id,
                    "question_id": question_id,
                    "card": card,
                    "due": review.due + (pair["last"] - now),
                    "stability": review.stability,
                    "reviews": pair["reviews"],
                    "lapses": pair["lapses"],
                    "last_passed": pair["passed"],
                    "first_reviewed_at": pair["first"],
                    "last_reviewed_at": pair["last"],
                }
            )
        _batched(connection, ReviewState.__table__, states)
        db.session.commit()
        refresh_statistics(("users", "attempts", "review_states"))
        timings["practice_s"] = round(time.monotonic() - started, 1)
        return {
            "questions": questions,
            "max_question_id": max(question_ids),
            "learners": len(user_ids),
            "learner_ids": [user_ids[0], user_ids[-1]],
            "attempts": len(attempt_rows),
            "review_states": len(states),
            **timings,
        }


def token(*, user_id: int) -> str:
    from api import create_app
    from api.accounts.models import User
    from api.accounts.users import open_session
    from api.extensions import db

    app = create_app()
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is None:
            raise SystemExit(f"no user {user_id}")
        return open_session(user=user).access_token


def learners(*, learners: int, questions: int, seed: int = 13) -> dict[str, Any]:
    """Tokens of `learners` bench learners and `questions` open questions with key points."""
    from api import create_app
    from api.accounts.models import User
    from api.accounts.users import open_session
    from api.bank.models import Question
    from api.extensions import db

    app = create_app()
    with app.app_context():
        users = list(
            db.session.scalars(
                select(User).where(User.email.like("learner%@bench.example")).order_by(User.id)
            )
        )
        if not users:
            raise SystemExit("no bench learners: run populate first")
        step = max(1, len(users) // learners)
        chosen = users[::step][:learners]
        tokens = [open_session(user=user).access_token for user in chosen]
        open_rows = db.session.execute(
            select(Question.id, Question.key_points)
            .where(Question.type == "open")
            .order_by(Question.id)
        ).all()
        graded = [
            {"id": row.id, "key_points": [point["text"] for point in row.key_points]}
            for row in open_rows
            if row.key_points
        ]
        if not graded:
            raise SystemExit("no open question with key points: nothing to grade")
        rng = random.Random(seed)
        sample = rng.sample(graded, min(questions, len(graded)))
        return {
            "user_ids": [user.id for user in chosen],
            "tokens": tokens,
            "open_questions": sample,
            "open_with_key_points": len(graded),
            "open_total": len(open_rows),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("populate")
    fill.add_argument("--questions", type=int, required=True)
    fill.add_argument("--learners", type=int, default=1000)
    fill.add_argument("--attempts", type=int, default=200_000)
    mint = sub.add_parser("token")
    mint.add_argument("--user-id", type=int, required=True)
    many = sub.add_parser("learners")
    many.add_argument("--learners", type=int, default=200)
    many.add_argument("--questions", type=int, default=2000)
    many.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "populate":
        result = populate(questions=args.questions, learners=args.learners, attempts=args.attempts)
        sys.stdout.write(json.dumps(result) + "\n")
    elif args.command == "learners":
        result = learners(learners=args.learners, questions=args.questions)
        with open(args.out, "w") as out:
            json.dump(result, out)
        counts = {k: result[k] for k in ("open_total", "open_with_key_points")}
        counts.update(learners=len(result["tokens"]), questions=len(result["open_questions"]))
        sys.stdout.write(json.dumps(counts) + "\n")
    else:
        sys.stdout.write(token(user_id=args.user_id) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
