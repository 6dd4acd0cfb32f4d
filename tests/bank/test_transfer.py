"""Bulk import (JSON or plain text, all or nothing, dry run) and export (JSON, CSV, Markdown)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from api.bank.models import Question
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import SEED_DOCS, SEED_QUESTIONS, SEED_TOPICS, build_app, seed_bank_into

Q = "/api/v1/questions"


def fresh(database_factory, backend, name, **config):
    app = build_app(database_factory(backend, name), **config)
    return app, login_headers(app, make_user(app, "editor"))


@pytest.fixture(scope="module")
def seeded(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_transfer"))
    seed_bank_into(app)
    yield app, login_headers(app, make_user(app, "editor"))
    with app.app_context():
        db.engine.dispose()


def question_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Question.id)))


def test_export_import_round_trip(seeded, backend, database_factory):
    app, editor = seeded
    exported = app.test_client().get(f"{Q}/export?format=json", headers=editor)
    assert exported.status_code == 200
    assert exported.mimetype == "application/json"
    assert 'filename="questions.json"' in exported.headers["Content-Disposition"]
    assert exported.headers["X-Total-Count"] == str(SEED_QUESTIONS)
    bank = exported.get_json()
    assert len(bank["questions"]) == SEED_QUESTIONS and len(bank["topics"]) == SEED_TOPICS

    empty, empty_editor = fresh(database_factory, backend, "qbank_roundtrip")
    client = empty.test_client()
    response = client.post(f"{Q}/import", json=bank, headers=empty_editor)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == SEED_QUESTIONS
    again = client.get(f"{Q}/export?format=json", headers=empty_editor).get_json()
    assert again == bank
    with empty.app_context():
        db.engine.dispose()


def test_dry_run_reports_and_changes_nothing(seeded):
    app, editor = seeded
    client = app.test_client()
    before = question_count(app)
    existing = client.get(f"{Q}/1?include=answer").get_json()
    payload = [
        {
            "slug": existing["slug"],
            "prompt": existing["prompt"],
            "answer": "A new answer.",
            "topics": existing["topics"],
            "tags": existing["tags"],
            "difficulty": existing["difficulty"],
            "key_points": existing["key_points"],
            "sources": existing["sources"],
        },
        {"prompt": "What is a Flask blueprint, and why use one?", "answer": "A way to organise."},
        {"prompt": "What does the `teardown_appcontext` hook do?", "answer": "Cleans up."},
    ]
    response = client.post(f"{Q}/import?dry_run=true", json=payload, headers=editor)
    assert response.status_code == 200
    report = response.get_json()
    assert report["dry_run"] is True
    assert report["created"] == 2 and report["updated"] == 1 and report["unchanged"] == 0
    assert report["items"]["updated"] == [existing["slug"]]
    flagged = {d["slug"]: d for d in report["near_duplicates"]}
    assert list(flagged) == ["what-is-a-flask-blueprint-and-why-use-one"]
    assert "blueprint" in flagged["what-is-a-flask-blueprint-and-why-use-one"]["similar_to"]["slug"]
    assert question_count(app) == before
    assert client.get(f"{Q}/1?include=answer").get_json()["answer"] == existing["answer"]


def test_one_bad_item_imports_nothing(seeded):
    app, editor = seeded
    before = question_count(app)
    payload = [
        {"prompt": "A fine question?", "answer": "Fine."},
        {"prompt": "Another fine one?", "answer": "Fine."},
        {"prompt": "", "answer": "Broken."},
        {"prompt": "Unknown topic?", "answer": "x", "topics": ["no-such-topic"]},
    ]
    response = app.test_client().post(f"{Q}/import", json=payload, headers=editor)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "2.prompt" in response.get_json()["errors"]
    assert question_count(app) == before


def test_unknown_topic_or_repeated_slug_imports_nothing(seeded):
    app, editor = seeded
    client = app.test_client()
    before = question_count(app)
    unknown = [
        {"prompt": "Good?", "answer": "Yes."},
        {"prompt": "Unknown topic?", "answer": "x", "topics": ["no-such-topic"]},
    ]
    assert client.post(f"{Q}/import", json=unknown, headers=editor).status_code == 422
    twice = [
        {"slug": "same", "prompt": "One?", "answer": "x"},
        {"slug": "same", "prompt": "Two?", "answer": "y"},
    ]
    response = client.post(f"{Q}/import", json=twice, headers=editor)
    assert response.status_code == 422
    assert "slug" in response.get_json()["errors"]
    assert question_count(app) == before


def test_plain_text_import_flags_the_seed_twins(seeded):
    app, editor = seeded
    text = (SEED_DOCS / "003_ae11068e3ef71790.txt").read_text(encoding="utf-8")
    # The same questions from another document: new questions, each flagged as a twin.
    response = app.test_client().post(
        f"{Q}/import?dry_run=true&document=copy-of-003.txt",
        data=text.encode(),
        headers={**editor, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["created"] == 11
    # Every question of that document is already in the bank (as a question or a phrasing).
    assert len(report["near_duplicates"]) == 11
    assert all(d["score"] >= 80 for d in report["near_duplicates"])


def test_plain_text_import_of_a_seed_document_creates_nothing_twice(seeded):
    """The seed's questions record their document positions: importing it again is a no-op."""
    app, editor = seeded
    text = (SEED_DOCS / "003_ae11068e3ef71790.txt").read_text(encoding="utf-8")
    response = app.test_client().post(
        f"{Q}/import?dry_run=true&document=003_ae11068e3ef71790.txt",
        data=text.encode(),
        headers={**editor, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], report["unchanged"]) == (0, 11)
    assert report["near_duplicates"] == []


def test_plain_text_import_creates(backend, database_factory):
    app, editor = fresh(database_factory, backend, "qbank_textimport")
    text = (SEED_DOCS / "000_becfa4df0abd7808.txt").read_bytes()
    response = app.test_client().post(
        f"{Q}/import?document=000.txt", data=text, headers={**editor, "Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert response.get_json()["created"] == 50
    assert response.get_json()["near_duplicates"] == []
    assert question_count(app) == 50
    broken = app.test_client().post(
        f"{Q}/import",
        data=b"1. Question without answer?\n",
        headers={**editor, "Content-Type": "text/plain"},
    )
    assert broken.status_code == 422
    assert question_count(app) == 50
    with app.app_context():
        db.engine.dispose()


def test_body_over_the_limit_is_413(backend, database_factory):
    app, editor = fresh(database_factory, backend, "qbank_413", IMPORT_MAX_BYTES=1000)
    response = app.test_client().post(
        f"{Q}/import", data=b"x" * 5000, headers={**editor, "Content-Type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert question_count(app) == 0
    with app.app_context():
        db.engine.dispose()


def test_export_csv_and_markdown_with_filters(seeded):
    app, editor = seeded
    client = app.test_client()
    routing = client.get(f"{Q}?topic=routing").headers["X-Total-Count"]
    response = client.get(f"{Q}/export?format=csv&topic=routing", headers=editor)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == int(routing)
    assert all("routing" in r["topics"].split() for r in rows)
    assert isinstance(json.loads(rows[0]["key_points"]), list)
    md = client.get(f"{Q}/export?format=markdown&difficulty=hard", headers=editor)
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    text = md.get_data(as_text=True)
    assert text.startswith("# Question bank")
    assert text.count("\n## ") == int(client.get(f"{Q}?difficulty=hard").headers["X-Total-Count"])
    assert client.get(f"{Q}/export?format=xml", headers=editor).status_code == 400


# --------------------------------------------------------------------------- streamed import


def _bank_file(path, questions, *, topics=None) -> None:
    bank = {"version": 1, "topics": topics or [], "questions": questions}
    path.write_text(json.dumps(bank), encoding="utf-8")


def _generated(count: int, topic: str = "routing") -> list[dict]:
    return [
        {
            "slug": f"generated-{n}",
            "prompt": f"Generated question number {n}: what does it ask?",
            "answer": f"Answer {n}, long enough to be an answer.",
            "topics": [topic],
            "tags": [f"tag-{n % 7}"],
            "difficulty": "easy",
        }
        for n in range(count)
    ]


def test_import_bank_command_round_trips_an_export(seeded, backend, database_factory, tmp_path):
    app, editor = seeded
    bank = app.test_client().get(f"{Q}/export?format=json", headers=editor).get_json()
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bank), encoding="utf-8")
    empty, empty_editor = fresh(database_factory, backend, "qbank_stream")
    runner = empty.test_cli_runner()
    result = runner.invoke(args=["import-bank", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"imported bank.json: created {SEED_QUESTIONS}, updated 0, unchanged 0"
    )
    again = empty.test_client().get(f"{Q}/export?format=json", headers=empty_editor).get_json()
    assert again == bank
    result = runner.invoke(args=["import-bank", str(path)])
    assert result.output.strip() == (
        f"imported bank.json: created 0, updated 0, unchanged {SEED_QUESTIONS}"
    )
    with empty.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda qs: qs[700].update(prompt=""), "questions.700.prompt"),
        (lambda qs: qs[900].update(topics=["no-such-topic"]), "No topic 'no-such-topic'"),
        (lambda qs: qs[650].update(slug="generated-3"), "questions.650.slug"),
    ],
    ids=["invalid item", "unknown topic", "slug twice"],
)
def test_import_bank_command_is_all_or_nothing(seeded, tmp_path, change, message):
    """A bad item after several written batches: nothing of the file is kept."""
    app, _ = seeded
    before = question_count(app)
    questions = _generated(1000)
    change(questions)
    path = tmp_path / "bad.json"
    _bank_file(path, questions)
    result = app.test_cli_runner().invoke(args=["import-bank", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert question_count(app) == before


def test_import_bank_command_refuses_what_is_not_a_bank_file(seeded, tmp_path):
    app, _ = seeded
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "questions": [{"prompt": ', encoding="utf-8")
    unversioned = tmp_path / "unversioned.json"
    unversioned.write_text('{"questions": []}', encoding="utf-8")
    for path, message in ((broken, "not valid JSON"), (unversioned, "version")):
        result = app.test_cli_runner().invoke(args=["import-bank", str(path)])
        assert result.exit_code == 1 and message in result.output, result.output


def test_import_bank_dry_run_changes_nothing(seeded, tmp_path):
    app, _ = seeded
    before = question_count(app)
    path = tmp_path / "dry.json"
    _bank_file(path, _generated(30))
    result = app.test_cli_runner().invoke(args=["import-bank", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "would import dry.json: created 30, updated 0, unchanged 0"
    assert question_count(app) == before


def test_import_bank_streams_in_batches(backend, database_factory, tmp_path):
    """Peak memory of an import does not grow with the file: four times the questions,
    far less than four times the memory (a whole-file load would be proportional)."""
    import tracemalloc

    from api.bank.transfer.exchange import stream_bank_file

    peaks = {}
    for count in (800, 3200):
        app = build_app(database_factory(backend, f"qbank_stream_{count}"))
        seed_bank_into(app)
        path = tmp_path / f"bank-{count}.json"
        _bank_file(path, _generated(count))
        with app.app_context():
            tracemalloc.start()
            report = stream_bank_file(path, batch=200)
            peaks[count] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert report.as_dict() == {"created": count, "updated": 0, "unchanged": 0}
            assert report.created == []  # counts only
            db.engine.dispose()
        assert question_count(app) == SEED_QUESTIONS + count
    assert peaks[3200] < 2 * peaks[800], peaks


@pytest.mark.parametrize("kind", ["json", "csv", "markdown"])
def test_every_export_carries_the_bank_licence(seeded, kind):
    app, editor = seeded
    response = app.test_client().get(f"{Q}/export?format={kind}", headers=editor)
    assert response.status_code == 200
    assert response.headers["Link"] == (
        '<https://creativecommons.org/licenses/by-sa/4.0/>; rel="license"'
    )
    text = response.get_data(as_text=True)
    if kind == "json":
        assert response.get_json()["licence"]["spdx"] == "CC-BY-SA-4.0"
    elif kind == "markdown":
        assert "CC-BY-SA-4.0" in text.splitlines()[2]
    else:
        header = text.splitlines()[0].split(",")
        assert {"explanations", "related_group", "original_answer"} <= set(header)
