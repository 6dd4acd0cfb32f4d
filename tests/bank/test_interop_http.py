"""Other platforms' formats over HTTP and the CLI: GIFT, Aiken and Moodle XML imports (dry
run, all or nothing or `on_error=skip`), and GIFT, Aiken, Moodle XML, QTI and Anki exports
that stream; GIFT and Moodle XML exports of the whole bank import back unchanged."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select

from api.bank.models import Question, Topic
from api.bank.transfer.gift import parse_gift
from api.bank.transfer.moodle_xml import parse_moodle_xml
from api.extensions import db
from tests.support.accounts import login_headers, make_user
from tests.support.apps import SEED_QUESTIONS, build_app, editor_app, seed_bank_into

Q = "/api/v1/questions"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
GIFT = (FIXTURES / "everything.gift").read_bytes()
MOODLE = (FIXTURES / "moodle-export.xml").read_bytes()
TEXT = {"Content-Type": "text/plain; charset=utf-8"}
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def seeded(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_interop"))
    seed_bank_into(app)
    yield app, login_headers(app, make_user(app, "editor"))
    with app.app_context():
        db.engine.dispose()


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Question.id))),
            db.session.scalar(select(func.count(Topic.id))),
        )


def bank_json(app, editor) -> dict:
    exported = app.test_client().get(f"{Q}/export?format=json", headers=editor)
    assert exported.status_code == 200
    return json.loads(exported.get_data())


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("kind", "mimetype"), [("gift", "text/plain"), ("moodle-xml", "application/xml")]
)
def test_an_export_imports_back_unchanged(seeded, backend, database_factory, kind, mimetype):
    app, editor = seeded
    exported = app.test_client().get(f"{Q}/export?format={kind}", headers=editor)
    assert exported.status_code == 200 and exported.mimetype == mimetype
    assert exported.is_streamed and "ETag" not in exported.headers
    assert exported.headers["X-Total-Count"] == str(SEED_QUESTIONS)
    assert "attachment" in exported.headers["Content-Disposition"]
    body = exported.get_data()

    # Into the same bank: every question matched by slug, and none changed.
    again = app.test_client().post(
        f"{Q}/import?format={kind}&on_conflict=update&dry_run=true",
        data=body,
        headers={**editor, "Content-Type": mimetype},
    )
    assert again.status_code == 200, again.get_json()
    report = again.get_json()
    assert (report["unchanged"], report["updated"], report["created"]) == (SEED_QUESTIONS, 0, 0)
    assert report["rejected"] == [] and report["format"] == kind

    # Into an empty bank: the topics come along, and its JSON export reads as the seeded one.
    other, other_editor = editor_app(database_factory, backend, f"qbank_rt_{kind[:4]}")
    written = other.test_client().post(
        f"{Q}/import?format={kind}", data=body, headers={**other_editor, "Content-Type": mimetype}
    )
    assert written.status_code == 200, written.get_json()
    assert written.get_json()["created"] == SEED_QUESTIONS
    original, copy = bank_json(app, editor), bank_json(other, other_editor)
    assert copy["questions"] == original["questions"]
    assert copy["topics"] == original["topics"]
    with other.app_context():
        db.engine.dispose()


# --------------------------------------------------------------------------- imports


def test_a_gift_document_with_items_we_cannot_read_is_refused_whole(seeded):
    app, editor = seeded
    before = counts(app)
    response = app.test_client().post(
        f"{Q}/import?format=gift&document=everything.gift", data=GIFT, headers={**editor, **TEXT}
    )
    assert response.status_code == 422
    problem = response.get_json()
    parsed = parse_gift(GIFT.decode(), document="everything.gift")
    assert [r["position"] for r in problem["rejected"]] == sorted(
        r.position for r in parsed.rejected
    )
    assert all(r["reason"] for r in problem["rejected"])
    assert "on_error=skip" in problem["detail"]
    assert set(problem["errors"]) == {f"item {r.position}" for r in parsed.rejected}
    assert counts(app) == before


def test_on_error_skip_imports_the_valid_items_and_reports_the_rest(backend, database_factory):
    app, editor = editor_app(database_factory, backend, "qbank_gift_skip")
    client = app.test_client()
    url = f"{Q}/import?format=gift&document=everything.gift&on_error=skip"
    parsed = parse_gift(GIFT.decode(), document="everything.gift")
    dry = client.post(f"{url}&dry_run=true", data=GIFT, headers={**editor, **TEXT})
    assert dry.status_code == 200, dry.get_json()
    assert counts(app) == (0, 0)
    response = client.post(url, data=GIFT, headers={**editor, **TEXT})
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report == {**dry.get_json(), "dry_run": False}
    # Every question of the document is accounted for: imported or rejected, by position.
    imported = [r["position"] for r in report["results"]]
    rejected = [r["position"] for r in report["rejected"]]
    assert sorted(imported + rejected) == list(
        range(1, len(parsed.items) + len(parsed.rejected) + 1)
    )
    assert report["created"] == len(parsed.items) == len(imported)
    assert counts(app)[0] == len(parsed.items)
    # The document's categories are topics now, and its items their questions.
    with app.app_context():
        topics = set(db.session.scalars(select(Topic.slug)))
    assert topics == set(parsed.topics)
    # The same document again: matched by slug, nothing written twice.
    twice = client.post(f"{url}&on_conflict=skip", data=GIFT, headers={**editor, **TEXT})
    assert twice.status_code == 200 and twice.get_json()["created"] == 0
    assert counts(app)[0] == len(parsed.items)
    with app.app_context():
        db.engine.dispose()


def test_a_moodle_xml_export_imports_with_categories_html_and_partial_credit(
    backend, database_factory
):
    app, editor = editor_app(database_factory, backend, "qbank_moodle_http")
    client = app.test_client()
    parsed = parse_moodle_xml(MOODLE, document="moodle-export.xml")
    response = client.post(
        f"{Q}/import?on_error=skip&document=moodle-export.xml",
        data=MOODLE,
        headers={**editor, **XML},
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["format"] == "moodle-xml"  # from the media type
    assert report["created"] == len(parsed.items)
    assert [r["position"] for r in report["rejected"]] == [r.position for r in parsed.rejected]
    weighted = [i for i in parsed.items if i.question.get("choice_weights")]
    assert weighted, "the fixture has a partial-credit question"
    slug = next(r["slug"] for r in report["results"] if r["position"] == weighted[0].position)
    listed = client.get(f"{Q}?per_page=100&include=answer").get_json()["data"]
    stored = next(q for q in listed if q["slug"] == slug)
    assert stored["choice_weights"] == weighted[0].question["choice_weights"]
    assert (
        stored["correct_choices"] == [i for i, w in enumerate(stored["choice_weights"]) if w > 0]
        or max(stored["choice_weights"]) >= 99.99
    )
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("name", ["aiken-paren.txt", "aiken-dot.txt"])
def test_aiken_imports_in_both_option_styles(backend, database_factory, name):
    app, editor = editor_app(database_factory, backend, f"qbank_{name[:10].replace('-', '_')}")
    body = (FIXTURES / name).read_bytes()
    response = app.test_client().post(
        f"{Q}/import?format=aiken&on_error=skip&document={name}",
        data=body,
        headers={**editor, **TEXT},
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["created"] >= 2 and report["rejected"]
    assert all(r["reason"] for r in report["rejected"])
    with app.app_context():
        db.engine.dispose()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<quiz><question type="essay"><name><text>&b;</text></name></question></quiz>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<quiz><question type="essay"><name><text>&x;</text></name></question></quiz>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL], ids=["expansion", "external"])
def test_xml_entities_are_refused_and_nothing_is_written(seeded, body, assert_problem):
    app, editor = seeded
    before = counts(app)
    response = app.test_client().post(f"{Q}/import", data=body, headers={**editor, **XML})
    assert_problem(response, 400, "unsafe-xml")
    assert "passwd" not in response.get_data(as_text=True)
    assert counts(app) == before


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("format=moodle-xml", {"Content-Type": "application/json"}, 415),
        ("format=json", TEXT, 415),
        ("format=gift", {"Content-Type": "application/json"}, 415),
        ("format=gift", {"Content-Type": "application/pdf"}, 415),
        ("", {"Content-Type": "application/pdf"}, 415),
        ("format=moodle-xml", TEXT, 422),  # a document type will do, but this is no XML
        ("format=gift", TEXT, 422),  # not GIFT at all
        ("format=docx", TEXT, 400),
        ("on_error=maybe", TEXT, 400),
    ],
)
def test_a_body_that_is_not_the_format_is_refused(seeded, query, headers, status):
    app, editor = seeded
    before = counts(app)
    response = app.test_client().post(
        f"{Q}/import?{query}", data=b"just some words", headers={**editor, **headers}
    )
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert counts(app) == before


def test_json_and_text_imports_take_on_error_skip_too(seeded):
    app, editor = seeded
    body = {
        "version": 1,
        "questions": [
            {"prompt": "What does `flask shell` open?", "answer": "A Python shell in app context."},
            {"prompt": "?", "answer": "Too short a prompt."},
            {"prompt": "Unknown topic here?", "answer": "x", "topics": ["no-such-topic"]},
        ],
    }
    response = app.test_client().post(
        f"{Q}/import?on_error=skip&dry_run=true", json=body, headers=editor
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["created"] == 1 and [r["position"] for r in report["results"]] == [0]
    assert [r["position"] for r in report["rejected"]] == [1, 2]
    assert "prompt" in report["rejected"][0]["reason"]
    assert "no-such-topic" in report["rejected"][1]["reason"]
    text = (
        "1. What is a blueprint?\nA group of routes.\n\n2. What is `g`?\nRequest-scoped storage.\n"
    )
    response = app.test_client().post(
        f"{Q}/import?on_error=skip&dry_run=true&document=notes.txt",
        data=text.encode(),
        headers={**editor, **TEXT},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 2 and response.get_json()["format"] == "text"


# --------------------------------------------------------------------------- exports


def test_aiken_export_holds_the_single_answer_choice_questions_and_counts_the_rest(seeded):
    app, editor = seeded
    response = app.test_client().get(f"{Q}/export?format=aiken", headers=editor)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    exported, skipped = (
        int(response.headers["X-Total-Count"]),
        int(response.headers["X-Skipped-Count"]),
    )
    assert exported + skipped == SEED_QUESTIONS and exported > 0
    assert response.get_data(as_text=True).count("\nANSWER: ") == exported


def test_exports_take_the_json_exports_filters(seeded):
    app, editor = seeded
    client = app.test_client()
    routing = client.get(f"{Q}?topic=routing&per_page=1").headers["X-Total-Count"]
    for kind in ("gift", "moodle-xml", "qti", "anki"):
        response = client.get(f"{Q}/export?format={kind}&topic=routing", headers=editor)
        assert response.status_code == 200, kind
        assert response.headers["X-Total-Count"] == routing, kind
        response.close()  # as a server does when a client goes away mid-download
    gift = client.get(f"{Q}/export?format=gift&topic=routing", headers=editor).get_data()
    assert len(parse_gift(gift.decode()).items) == int(routing)


def test_qti_export_is_a_content_package(seeded):
    app, editor = seeded
    response = app.test_client().get(f"{Q}/export?format=qti", headers=editor)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    package = zipfile.ZipFile(io.BytesIO(response.get_data()))
    manifest = SafeET.fromstring(package.read("imsmanifest.xml"))
    resources = [r for r in manifest.iter() if r.tag.endswith("}resource")]
    items = [r for r in resources if r.get("type") == "imsqti_item_xmlv2p1"]
    assert len(items) == SEED_QUESTIONS
    for resource in items[:5]:
        SafeET.fromstring(package.read(resource.get("href")))


def test_anki_export_is_a_package_anki_opens(seeded, tmp_path):
    app, editor = seeded
    response = app.test_client().get(f"{Q}/export?format=anki", headers=editor)
    assert response.status_code == 200
    assert 'filename="questions.apkg"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as package:
        (tmp_path / "collection.anki2").write_bytes(package.read("collection.anki2"))
    connection = sqlite3.connect(tmp_path / "collection.anki2")
    assert connection.execute("SELECT count(*) FROM notes").fetchone()[0] == SEED_QUESTIONS
    decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
    with app.app_context():
        used = db.session.scalar(
            select(func.count(func.distinct(Topic.id))).where(Topic.questions.any())
        )
    assert len({d["name"] for d in decks.values()} - {"Default"}) <= used
    connection.close()


def test_learners_cannot_export_or_import_other_formats(seeded):
    app, _ = seeded
    learner = login_headers(app, make_user(app, "learner"))
    client = app.test_client()
    assert client.get(f"{Q}/export?format=anki", headers=learner).status_code == 403
    assert (
        client.post(f"{Q}/import?format=gift", data=GIFT, headers={**learner, **TEXT}).status_code
        == 403
    )


# --------------------------------------------------------------------------- the CLI


def test_the_cli_imports_a_document(backend, database_factory, tmp_path):
    app, _ = editor_app(database_factory, backend, "qbank_cli_doc")
    runner = app.test_cli_runner()
    path = tmp_path / "everything.gift"
    path.write_bytes(GIFT)
    refused = runner.invoke(args=["import-document", str(path)])
    assert refused.exit_code != 0 and "on_error=skip" in refused.output
    assert counts(app) == (0, 0)
    dry = runner.invoke(args=["import-document", str(path), "--on-error", "skip", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("would import everything.gift (gift): created ")
    assert counts(app) == (0, 0)
    done = runner.invoke(args=["import-document", str(path), "--on-error", "skip"])
    assert done.exit_code == 0, done.output
    parsed = parse_gift(GIFT.decode())
    assert counts(app)[0] == len(parsed.items)
    rejected = [line for line in done.output.splitlines() if line.startswith("rejected ")]
    assert [int(line.split()[1]) for line in rejected] == [r.position for r in parsed.rejected]
    with app.app_context():
        db.engine.dispose()
