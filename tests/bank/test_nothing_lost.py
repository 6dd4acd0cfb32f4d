"""Nothing lost: seeding keeps editors' work, deletions leave tombstones, ids are not reused."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest
import yaml
from flask_migrate import upgrade
from sqlalchemy import func, select

from api import create_app
from api.bank.models import Question, QuestionTopic, SeedRecord
from api.cli import DEFAULT_BANK
from api.config import TestConfig
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import SEED_QUESTIONS, SEED_TOPICS, build_app, seed_bank_into, temporary_app
from tests.support.live import app_env, flask_cli

Q = "/api/v1/questions"
SEED = yaml.safe_load(DEFAULT_BANK.read_text())


@pytest.fixture()
def bank(backend, database_factory, request):
    """A freshly seeded bank of its own and an editor's headers."""
    app = build_app(database_factory(backend, f"qbank_lost_{request.node.name[:20]}"[:60]))
    seed_bank_into(app)
    yield app, login_headers(app, make_user(app, "editor"))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _etag(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"]


def _id_of(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Question.id).where(Question.slug == slug))


def _edit_and_delete(app, editor) -> tuple[int, int]:
    """An editor rewrites the first seed question's answer and deletes the second."""
    client = app.test_client()
    edited, deleted = (
        _id_of(app, SEED["questions"][0]["slug"]),
        _id_of(app, SEED["questions"][1]["slug"]),
    )
    response = client.patch(
        f"{Q}/{edited}",
        json={"answer": "An editor's own answer."},
        headers={**editor, "If-Match": _etag(client, f"{Q}/{edited}")},
    )
    assert response.status_code == 200, response.get_json()
    response = client.delete(
        f"{Q}/{deleted}", headers={**editor, "If-Match": _etag(client, f"{Q}/{deleted}")}
    )
    assert response.status_code == 204
    return edited, deleted


def _seed(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["seed", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_seeding_again_keeps_an_edit_and_a_deletion(bank):
    app, editor = bank
    edited, deleted = _edit_and_delete(app, editor)
    output = _seed(app)
    kept = SEED_QUESTIONS - 2
    assert f"created 0, updated 0, unchanged {kept}, kept (edited) 1, kept deleted 1" in output
    client = app.test_client()
    assert client.get(f"{Q}/{edited}?include=answer").get_json()["answer"] == (
        "An editor's own answer."
    )
    assert client.get(f"{Q}/{deleted}").status_code == 404
    assert client.get(Q).get_json()["meta"]["total"] == SEED_QUESTIONS - 1
    # A second run finds the same: nothing was resurrected by the first.
    assert "kept (edited) 1, kept deleted 1" in _seed(app)


def test_a_changed_seed_file_moves_untouched_rows_only(bank, tmp_path):
    app, editor = bank
    edited, _deleted = _edit_and_delete(app, editor)
    changed = copy.deepcopy(SEED)
    for item in changed["questions"][:3]:
        item["answer"] = item["answer"].rstrip() + " (revised seed)"
    changed["questions"].append(
        {**changed["questions"][5], "slug": "a-new-seed-question", "prompt": "New in the seed?"}
    )
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(changed))
    output = _seed(app, "--file", str(path))
    # [0] was edited, [1] deleted, [2] untouched: only [2] follows the file; one is new.
    rest = SEED_QUESTIONS - 3
    assert f"created 1, updated 1, unchanged {rest}, kept (edited) 1, kept deleted 1" in output
    client = app.test_client()
    untouched = _id_of(app, changed["questions"][2]["slug"])
    answer = client.get(f"{Q}/{untouched}?include=answer").get_json()["answer"]
    assert answer.endswith("(revised seed)")
    answer = client.get(f"{Q}/{edited}?include=answer").get_json()["answer"]
    assert answer == "An editor's own answer."
    assert _id_of(app, changed["questions"][1]["slug"]) is None


def test_reset_names_what_it_overwrites_and_restores_it(bank):
    app, editor = bank
    edited, deleted = _edit_and_delete(app, editor)
    first, second = SEED["questions"][0]["slug"], SEED["questions"][1]["slug"]
    dry = _seed(app, "--reset", first, "--reset", second, "--dry-run")
    assert f"overwrite {first} (kept (edited))" in dry and f"recreate {second}" in dry
    assert app.test_client().get(f"{Q}/{deleted}").status_code == 404  # dry run: unchanged
    output = _seed(app, "--reset", first, "--reset", second)
    assert "reset 2" in output
    client = app.test_client()
    answer = client.get(f"{Q}/{edited}?include=answer").get_json()["answer"]
    assert answer == SEED["questions"][0]["answer"]
    recreated = _id_of(app, second)
    assert recreated is not None and recreated != deleted  # a new row: ids are not reused
    assert f"created 0, updated 0, unchanged {SEED_QUESTIONS}" in _seed(app)


def test_deletions_are_tombstones_that_sync(bank):
    app, editor = bank
    client = app.test_client()
    since = client.get(f"{Q}?per_page=1").get_json()["data"][0]["updated_at"]
    _edited, deleted = _edit_and_delete(app, editor)
    slug = SEED["questions"][1]["slug"]
    feed = client.get("/api/v1/deletions", query_string={"since": since})
    assert feed.status_code == 200
    assert feed.headers["X-Total-Count"] == "1" and "ETag" in feed.headers
    (entry,) = feed.get_json()["data"]
    assert entry["kind"] == "question" and entry["id"] == deleted and entry["slug"] == slug
    assert client.get("/api/v1/deletions?kind=topic").get_json()["data"] == []
    later = client.get("/api/v1/deletions?since=2999-01-01T00:00:00Z").get_json()
    assert later["data"] == [] and later["meta"]["total"] == 0
    bad = client.get("/api/v1/deletions?since=yesterday")
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    # The slug is free for an editor to take again, under a new id.
    created = client.post(
        Q,
        json={"slug": slug, "prompt": "A new question on an old slug?", "answer": "Yes."},
        headers=editor,
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] > deleted
    # Seeding leaves the editor's new question alone: the seed item stays deleted.
    assert "kept deleted 1" in _seed(app)
    answer = client.get(f"{Q}/{created.get_json()['id']}?include=answer").get_json()["answer"]
    assert answer == "Yes."


def test_the_newest_questions_id_is_not_reused(bank):
    app, editor = bank
    client = app.test_client()
    made = client.post(Q, json={"prompt": "Newest?", "answer": "Yes."}, headers=editor)
    newest = made.get_json()["id"]
    response = client.delete(
        f"{Q}/{newest}", headers={**editor, "If-Match": _etag(client, f"{Q}/{newest}")}
    )
    assert response.status_code == 204
    again = client.post(Q, json={"prompt": "Newest again?", "answer": "Yes."}, headers=editor)
    assert again.get_json()["id"] > newest


def test_boot_seed_in_a_new_process_keeps_editors_work(tmp_path):
    """What boot.sh and `make serve` run on every start: migrate, then seed."""
    url = f"sqlite:///{tmp_path}/qbank.sqlite3"
    env = app_env(url, tmp_path)
    flask_cli(env, "db", "upgrade")
    assert f"created {SEED_QUESTIONS}" in flask_cli(env, "seed")
    with temporary_app(url) as app:
        editor = login_headers(app, make_user(app, "editor"))
        _edit_and_delete(app, editor)
    flask_cli(env, "db", "upgrade")
    output = flask_cli(env, "seed")
    kept = SEED_QUESTIONS - 2
    assert f"created 0, updated 0, unchanged {kept}, kept (edited) 1, kept deleted 1" in output


def test_migration_keeps_rows_and_links_and_stops_id_reuse(tmp_path):
    """A SQLite bank made at revision 0004 is rebuilt with AUTOINCREMENT, nothing lost."""
    url = f"sqlite:///{tmp_path}/old.sqlite3"
    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade(revision="0004")
        db.session.remove()
    _write_bank_at_0004(tmp_path / "old.sqlite3")
    with sqlite3.connect(tmp_path / "old.sqlite3") as conn:
        links = conn.execute("SELECT question_id, topic_id FROM question_topics").fetchall()
        rows = conn.execute("SELECT id, slug, version FROM questions ORDER BY id").fetchall()
    with app.app_context():
        upgrade()
        migrated = db.session.execute(select(Question.id, Question.slug, Question.version))
        assert sorted(migrated) == rows
        found = db.session.execute(select(QuestionTopic.question_id, QuestionTopic.topic_id))
        assert sorted(found) == sorted(links)
        hits = app.test_client().get(f"{Q}?q=blueprints").headers["X-Total-Count"]
        assert int(hits) >= 2  # the search triggers and index survived the rebuild
        newest = db.session.get(Question, rows[-1][0])
        db.session.delete(newest)
        db.session.commit()
        created = Question(slug="after-migration", prompt="After?", answer="Yes.")
        db.session.add(created)
        db.session.commit()
        assert created.id > rows[-1][0]
        # The next seed run adopts the rows the old one wrote (same content): no edits seen.
        # The row deleted here by hand (no tombstone) is a seed item missing: created again.
        # The next seed run never overwrites rows it has no record of writing (today's seed
        # file says more than the 0004 rows): it keeps them, and recreates only the row
        # deleted here by hand (no tombstone: a seed item missing).
        seeded = app.test_cli_runner().invoke(args=["seed"]).output
        assert "seeded bank.yaml: created 1, updated 0," in seeded
        assert "kept deleted 0" in seeded
        assert (
            db.session.scalar(select(func.count()).select_from(SeedRecord))
            == SEED_QUESTIONS + SEED_TOPICS
        )
        total = app.test_client().get(Q).get_json()["meta"]["total"]
        assert total == SEED_QUESTIONS + 1  # and the question created after the migration
        db.session.remove()
        db.engine.dispose()


def _write_bank_at_0004(path) -> None:
    """The seed file's topics and questions as rows of the 0004 schema (what it had then)."""
    now = "2026-11-01 00:00:00.000000"
    with sqlite3.connect(path) as conn:
        topic_ids = {}
        for topic in SEED["topics"]:
            cursor = conn.execute(
                "INSERT INTO topics (slug, name, description, version, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)",
                (topic["slug"], topic["name"], topic["description"], now, now),
            )
            topic_ids[topic["slug"]] = cursor.lastrowid
        for q in SEED["questions"]:
            cursor = conn.execute(
                "INSERT INTO questions (slug, prompt, answer, key_points, note, difficulty, "
                "type, choices, correct_choices, alternate_prompts, sources, search_text, "
                "version, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    q["slug"],
                    q["prompt"],
                    q["answer"],
                    json.dumps([p["text"] for p in q["key_points"]]),
                    q["note"],
                    ("easy", "medium", "hard").index(q["difficulty"]) + 1,
                    q["type"],
                    json.dumps(q.get("choices")),
                    json.dumps(q.get("correct_choices")),
                    json.dumps(q["alternate_prompts"]),
                    json.dumps(q["sources"]),
                    "\n".join([q["prompt"], q["answer"]]),
                    now,
                    now,
                ),
            )
            for slug in q["topics"]:
                conn.execute(
                    "INSERT INTO question_topics (question_id, topic_id) VALUES (?, ?)",
                    (cursor.lastrowid, topic_ids[slug]),
                )


def test_a_twin_of_an_existing_prompt_is_a_409_unless_allowed(bank):
    app, editor = bank
    client = app.test_client()
    first = SEED["questions"][0]
    twin = {"prompt": first["prompt"].lower().rstrip("?") + " ?", "answer": "Again."}
    refused = client.post(Q, json=twin, headers=editor)
    assert refused.status_code == 409
    problem = refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert first["slug"] in problem["detail"] and first["slug"] in problem["errors"]["prompt"][0]
    assert client.get(Q).get_json()["meta"]["total"] == SEED_QUESTIONS  # nothing was created
    allowed = client.post(Q, json=twin, headers=editor, query_string={"allow_duplicate": "true"})
    assert allowed.status_code == 201, allowed.get_json()
    again = client.post(
        Q, json={"prompt": "What is a unique new question?", "answer": "A."}, headers=editor
    )
    assert again.status_code == 201
    repeat = client.post(
        Q, json={"prompt": "What is a unique new question?", "answer": "A."}, headers=editor
    )
    assert repeat.status_code == 409  # running the same script twice makes no twin
