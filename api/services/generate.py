"""Synthetic banks for scale tests and benchmarks, written in bulk through Core inserts."""

from __future__ import annotations

import random

from sqlalchemy import func, insert, select

from api.extensions import db
from api.models import Question, QuestionTag, QuestionTopic, Tag, Topic
from api.models.types import utcnow

WORDS = (
    "request response route view blueprint template jinja session cookie context "
    "application config extension database model query migration schema index cache "
    "token header middleware decorator signal logging testing fixture client server "
    "worker thread process deploy container proxy static upload form validation error "
    "handler json api rest resource endpoint serializer pagination filter sort search "
    "security password hash csrf cors auth login permission role admin user account "
    "redis queue task celery socket websocket stream async event hook plugin wsgi "
    "gunicorn nginx docker environment variable secret debug profile benchmark"
).split()
TOPICS = 20
TAGS = 200
BATCH = 5000


def generate_bank(*, count: int, seed: int = 1) -> int:
    """Insert `count` questions spread over synthetic topics and tags; returns the count."""
    rng = random.Random(seed)
    topics = _ensure(
        Topic,
        [f"gen-topic-{i}" for i in range(1, TOPICS + 1)],
        lambda s: Topic(slug=s, name=s.replace("-", " ").title(), description="Generated."),
    )
    tags = _ensure(Tag, [f"gen-tag-{i}" for i in range(1, TAGS + 1)], lambda s: Tag(slug=s))
    topic_ids, tag_ids = list(topics.values()), list(tags.values())
    start = (db.session.scalar(select(func.max(Question.id))) or 0) + 1
    now = utcnow()
    for offset in range(0, count, BATCH):
        rows, topic_links, tag_links = [], [], []
        for n in range(start + offset, start + min(offset + BATCH, count)):
            rows.append(_question_row(rng, n, now))
            topic_links.append({"question_id": n, "topic_id": rng.choice(topic_ids)})
            tag_links.extend(
                {"question_id": n, "tag_id": t} for t in rng.sample(tag_ids, rng.randint(1, 3))
            )
        db.session.execute(insert(Question), rows)
        db.session.execute(insert(QuestionTopic), topic_links)
        db.session.execute(insert(QuestionTag), tag_links)
    db.session.commit()
    return count


def _ensure(model, slugs: list[str], make) -> dict[str, int]:
    """Ids of the rows with these slugs, creating the missing ones with `make(slug)`."""

    def ids() -> dict[str, int]:
        rows = db.session.execute(select(model.slug, model.id).where(model.slug.in_(slugs)))
        return dict(rows.all())

    have = ids()
    missing = [s for s in slugs if s not in have]
    if missing:
        db.session.add_all(make(s) for s in missing)
        db.session.flush()
        have = ids()
    return have


def _question_row(rng: random.Random, n: int, now) -> dict:
    words = rng.sample(WORDS, 6)
    prompt = f"Question {n}: how does the {words[0]} {words[1]} relate to {words[2]}?"
    answer = (
        f"The {words[0]} {words[1]} works with the {words[2]} through {words[3]} and {words[4]}."
    )
    key_points = [f"{words[0]} {words[1]}", f"{words[3]} {words[5]}"]
    kind = rng.choices(("open", "multiple_choice", "true_false"), weights=(6, 3, 1))[0]
    choices = correct = None
    if kind == "multiple_choice":
        choices = [f"The {w}" for w in rng.sample(WORDS, 4)]
        correct = [rng.randrange(4)]
    elif kind == "true_false":
        choices, correct = ["True", "False"], [rng.randrange(2)]
    search_text = "\n".join([prompt, answer, *key_points])
    return {
        "id": n,
        "slug": f"generated-{n}",
        "prompt": prompt,
        "answer": answer,
        "key_points": key_points,
        "note": None,
        "difficulty": rng.randint(1, 3),
        "type": kind,
        "choices": choices,
        "correct_choices": correct,
        "alternate_prompts": [],
        "sources": [{"document": "generated", "position": n}],
        "search_text": search_text,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
