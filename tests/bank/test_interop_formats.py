"""Aiken (import and export), QTI 2.1 content packages and Anki packages: pure functions,
no app and no database. The bank is seeds/bank.yaml, read as the seed loader reads it."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import defusedxml.ElementTree as SafeET
import genanki
import pytest
import yaml

from api.bank.payloads import bank_file_schema, question_in_schema
from api.bank.transfer.aiken import export_aiken, parse_aiken
from api.bank.transfer.anki import export_anki, markdown_html, stable_id
from api.bank.transfer.interchange import DocumentError, Item, TooManyItems
from api.bank.transfer.qti import ITEM_TYPE, QTI_NS, export_qti

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
QTI = f"{{{QTI_NS}}}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"
MD = "{http://www.imsglobal.org/xsd/imsmd_v1p2}"
NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")


@pytest.fixture(scope="module")
def bank() -> dict:
    with open(ROOT / "seeds" / "bank.yaml", encoding="utf-8") as f:
        return bank_file_schema.load(yaml.safe_load(f))


@pytest.fixture(scope="module")
def questions(bank) -> list[dict]:
    return bank["questions"]


@pytest.fixture(scope="module")
def topics(bank) -> dict[str, dict]:
    return {topic["slug"]: topic for topic in bank["topics"]}


def read_fixture(name: str) -> str:
    # newline="" keeps the CRLF line ends: the parser must handle them itself.
    with open(FIXTURES / "interop" / name, encoding="utf-8", newline="") as f:
        return f.read()


def mc(prompt, choices, correct, answer, document, position, kind="multiple_choice"):
    return Item(
        position=position,
        question={
            "prompt": prompt,
            "type": kind,
            "choices": choices,
            "correct_choices": [correct],
            "answer": answer,
            "sources": [{"document": document, "position": position}],
        },
    )


# --- Aiken import ---------------------------------------------------------------------


def test_aiken_paren_fixture_with_bom_crlf_and_trailing_spaces():
    text = read_fixture("aiken-paren.txt")
    assert text.startswith("\ufeff") and "\r\n" in text and "  \r\n" in text

    parsed = parse_aiken(text, document="quiz.txt")

    doc = "quiz.txt"
    assert parsed.items == [
        mc(
            "Which command starts the Flask development server?",
            ["flask run", "python -m http.server", "gunicorn app:app --reload", "flask serve"],
            0,
            "The answer is A: flask run.",
            doc,
            1,
        ),
        mc(
            "What does `url_for()` take as its first argument?",
            ["A URL path such as '/users/ana'", "An endpoint name", "A template name"],
            1,
            "The answer is B: An endpoint name.",
            doc,
            2,
        ),
        mc(
            "Flask's debug mode is safe to enable in production.",
            ["True", "False"],
            1,
            "The answer is False.",
            doc,
            3,
            kind="true_false",
        ),
        mc(
            "Which object holds the query-string parameters\n"
            "of the current request in a Flask view?",
            ["request.args", "request.form", "session"],
            0,
            "The answer is A: request.args.",
            doc,
            4,
        ),
        mc(
            "What status code does abort(404) send?",
            ["200", "301", "404", "500"],
            2,
            "The answer is C: 404.",
            doc,
            8,
        ),
    ]
    assert [r.as_dict() for r in parsed.rejected] == [
        {"position": 5, "reason": "No ANSWER line after the options."},
        {"position": 6, "reason": "ANSWER: C names no option (A to B)."},
        {"position": 7, "reason": "Only 1 option: give at least 2 (A, B)."},
    ]
    assert parsed.topics == {}
    assert all("slug" not in item.question for item in parsed.items)


def test_aiken_dot_fixture_tabs_no_blank_lines_and_recovery():
    parsed = parse_aiken(read_fixture("aiken-dot.txt"))

    assert [(i.position, i.question["prompt"]) for i in parsed.items] == [
        (1, "What is the default port of `flask run`?"),
        (4, "Which decorator registers a view function for a URL?"),
        (5, "Jinja2 templates are compiled to Python code before they are rendered."),
        (7, "Where does Flask look for templates by default?"),
    ]
    by_position = {item.position: item.question for item in parsed.items}
    assert by_position[1]["choices"] == ["5000", "8000", "8080"]
    assert by_position[1]["correct_choices"] == [0]
    # A tab after the letter, `ANSWER:B` without a space: both read.
    assert by_position[4]["choices"] == ["@app.route", "@app.view"]
    assert by_position[4]["correct_choices"] == [0]
    assert by_position[4]["sources"] == [{"document": "import", "position": 4}]
    # `A. False / B. True`, lower-case `answer: b`: true_false with the bank's choice order.
    assert by_position[5]["type"] == "true_false"
    assert by_position[5]["choices"] == ["True", "False"]
    assert by_position[5]["correct_choices"] == [0]
    # A blank line between the options and the ANSWER line is tolerated.
    assert by_position[7]["correct_choices"] == [0]
    assert [r.as_dict() for r in parsed.rejected] == [
        {"position": 2, "reason": "11 options: the bank takes at most 10."},
        {"position": 3, "reason": "Option C where B was expected."},
        {"position": 6, "reason": "Option A comes before any question text."},
    ]


@pytest.mark.parametrize("name", ["aiken-paren.txt", "aiken-dot.txt"])
def test_aiken_items_are_valid_bank_questions(name):
    for item in parse_aiken(read_fixture(name), document=name).items:
        loaded = question_in_schema.load(item.question)
        assert loaded["answer"]
        assert loaded["type"] in ("multiple_choice", "true_false")


@pytest.mark.parametrize("text", ["", "  \r\n\n\t\n", "\ufeff"])
def test_aiken_empty_document(text):
    with pytest.raises(DocumentError, match="empty"):
        parse_aiken(text)


def test_aiken_not_an_aiken_document():
    with pytest.raises(DocumentError, match="Not an Aiken document"):
        parse_aiken("What is Flask?\nA micro web framework for Python.\n")


def test_aiken_every_question_rejected_is_not_a_document_error():
    parsed = parse_aiken("Q one?\nA) x\nANSWER: A\n")
    assert parsed.items == []
    assert [r.position for r in parsed.rejected] == [1]


def test_aiken_too_many_items():
    text = "".join(f"Question {n}?\nA) yes\nB) no\nANSWER: A\n\n" for n in range(1, 5))
    assert len(parse_aiken(text, max_items=4).items) == 4
    with pytest.raises(TooManyItems) as raised:
        parse_aiken(text, max_items=3)
    assert raised.value.limit == 3
    assert str(raised.value) == "More than 3 questions."
    assert isinstance(raised.value, DocumentError)


# --- Aiken export ---------------------------------------------------------------------


def test_aiken_export_of_the_bank_parses_back(questions):
    skipped: list[dict] = []
    text = "".join(export_aiken(questions, skipped=skipped))

    expected_skips = {
        q["slug"]
        for q in questions
        if q["type"] == "open" or len(q.get("correct_choices") or []) > 1
    }
    assert {s["slug"] for s in skipped} == expected_skips
    assert len(skipped) == len(expected_skips)
    assert all(s["reason"] for s in skipped)

    exported = [q for q in questions if q["slug"] not in expected_skips]
    parsed = parse_aiken(text, document="bank.txt")
    assert parsed.rejected == []
    assert len(parsed.items) == len(exported)
    for item, original in zip(parsed.items, exported, strict=True):
        back = item.question
        if "\n" not in original["prompt"].strip():
            assert back["prompt"] == original["prompt"].strip()
        assert back["type"] == original["type"]
        assert back["choices"] == original["choices"]
        assert back["correct_choices"] == original["correct_choices"]
        question_in_schema.load(back)


def test_aiken_export_skips_what_aiken_cannot_say():
    questions = [
        {"slug": "open-one", "prompt": "Why?", "answer": "Because.", "type": "open"},
        {
            "slug": "two-right",
            "prompt": "Pick two",
            "answer": "x",
            "type": "multiple_choice",
            "choices": ["a", "b", "c"],
            "correct_choices": [0, 2],
        },
        {
            "slug": "multiline-choice",
            "prompt": "Pick",
            "answer": "x",
            "type": "multiple_choice",
            "choices": ["one\nline two", "b"],
            "correct_choices": [1],
        },
        {
            "slug": "kept",
            "prompt": "A prompt\nover two lines",
            "answer": "x",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [1],
        },
    ]
    skipped: list[dict] = []
    text = "".join(export_aiken(questions, skipped=skipped))
    assert [s["slug"] for s in skipped] == ["open-one", "two-right", "multiline-choice"]
    assert text == "A prompt over two lines\nA) True\nB) False\nANSWER: B\n\n"
    # Without a list to report to, the same questions are still left out.
    assert "".join(export_aiken(questions)) == text


# --- QTI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qti_package(questions, topics) -> tuple[int, zipfile.ZipFile]:
    out = io.BytesIO()
    count = export_qti(questions, topics, out)
    out.seek(0)
    return count, zipfile.ZipFile(out)


def test_qti_manifest_lists_every_item(questions, qti_package):
    count, package = qti_package
    assert count == len(questions)
    manifest = SafeET.fromstring(package.read("imsmanifest.xml"))
    assert manifest.tag == f"{CP}manifest"
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    items = [r for r in resources if r.get("type") == ITEM_TYPE]
    assert len(items) == len(questions)
    hrefs = {r.get("href") for r in items}
    assert hrefs == {name for name in package.namelist() if name.startswith("items/")}
    for resource in items:
        assert [f.get("href") for f in resource.findall(f"{CP}file")] == [resource.get("href")]
    identifiers = [r.get("identifier") for r in resources]
    assert len(set(identifiers)) == len(identifiers)
    assert all(NCNAME.fullmatch(i) for i in identifiers)
    # The test references every item.
    test = SafeET.fromstring(package.read("assessment.xml"))
    refs = test.findall(f".//{QTI}assessmentItemRef")
    assert {ref.get("href") for ref in refs} == hrefs


def test_qti_items_parse_and_match_the_questions(questions, topics, qti_package):
    _, package = qti_package
    manifest = SafeET.fromstring(package.read("imsmanifest.xml"))
    metadata = {
        r.get("identifier"): r
        for r in manifest.findall(f"{CP}resources/{CP}resource")
        if r.get("type") == ITEM_TYPE
    }
    seen: set[str] = set()
    for question in questions:
        identifier = f"item-{question['slug']}"
        item = SafeET.fromstring(package.read(f"items/{identifier}.xml"))
        assert item.tag == f"{QTI}assessmentItem"
        assert item.get("identifier") == identifier and identifier not in seen
        seen.add(identifier)
        assert NCNAME.fullmatch(identifier)
        if question["type"] == "open":
            interaction = item.find(f"{QTI}itemBody/{QTI}extendedTextInteraction")
            assert interaction is not None
            assert item.find(f"{QTI}responseProcessing") is None
            rubric = item.find(f"{QTI}itemBody/{QTI}rubricBlock")
            assert question["answer"].strip().split("\n")[0] in "".join(rubric.itertext())
        else:
            interaction = item.find(f"{QTI}itemBody/{QTI}choiceInteraction")
            choices = interaction.findall(f"{QTI}simpleChoice")
            assert ["".join(c.itertext()) for c in choices] == question["choices"]
            ids = [c.get("identifier") for c in choices]
            assert all(NCNAME.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)
            values = item.findall(f"{QTI}responseDeclaration/{QTI}correctResponse/{QTI}value")
            assert [v.text for v in values] == [ids[i] for i in question["correct_choices"]]
            several = len(question["correct_choices"]) > 1
            assert interaction.get("maxChoices") == ("0" if several else "1")
            declaration = item.find(f"{QTI}responseDeclaration")
            assert declaration.get("cardinality") == ("multiple" if several else "single")
            processing = item.find(f"{QTI}responseProcessing")
            assert processing.get("template").endswith("/rptemplates/match_correct")
        prompt = interaction.find(f"{QTI}prompt")
        assert "".join(prompt.itertext()) == question["prompt"].strip().replace("\n", "")
        lom = metadata[identifier].find(f"{CP}metadata/{MD}lom")
        keywords = [k.text for k in lom.findall(f"{MD}general/{MD}keyword/{MD}langstring")]
        assert keywords == question["tags"]
        names = [e.text for e in lom.iterfind(f".//{MD}taxon/{MD}entry/{MD}langstring")]
        assert names == [topics[slug]["name"] for slug in question["topics"]]


def test_qti_escapes_markup_and_needs_no_seekable_output():
    class Stream(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    question = {
        "slug": "escape-me",
        "prompt": 'Is <script>alert(1)</script> & "quoted" text safe?\nSecond line',
        "answer": "Yes: it is <escaped>.",
        "type": "multiple_choice",
        "choices": ["<b>bold</b>", "a & b"],
        "correct_choices": [1],
        "tags": [],
        "topics": [],
    }
    stream = Stream()
    assert export_qti([question], {}, stream, test_title=None) == 1
    package = zipfile.ZipFile(io.BytesIO(bytes(stream.data)))
    assert "assessment.xml" not in package.namelist()
    raw = package.read("items/item-escape-me.xml")
    assert b"<script>" not in raw and b"&lt;script&gt;" in raw
    item = SafeET.fromstring(raw)
    choices = item.findall(f".//{QTI}simpleChoice")
    assert [c.text for c in choices] == ["<b>bold</b>", "a & b"]
    prompt = item.find(f".//{QTI}prompt")
    assert prompt.text.startswith("Is <script>") and prompt.find(f"{QTI}br") is not None


# --- Anki -----------------------------------------------------------------------------


def _open_apkg(path: Path, tmp_path: Path) -> sqlite3.Connection:
    with zipfile.ZipFile(path) as package:
        database = tmp_path / f"{path.stem}.anki2"
        database.write_bytes(package.read("collection.anki2"))
    return sqlite3.connect(database)


def test_anki_export_of_the_bank(questions, topics, tmp_path):
    path = tmp_path / "bank.apkg"
    assert export_anki(questions, topics, path) == len(questions)
    connection = _open_apkg(path, tmp_path)
    notes = connection.execute("SELECT guid, flds, tags FROM notes").fetchall()
    assert len(notes) == len(questions)
    assert connection.execute("SELECT count(*) FROM cards").fetchone()[0] == len(questions)

    decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
    names = {deck["name"] for deck in decks.values()} - {"Default"}
    used = {q["topics"][0] for q in questions}
    assert names == {f"Flask interview questions::{topics[slug]['name']}" for slug in used}

    by_guid = {guid: (fields.split("\x1f"), tags.split()) for guid, fields, tags in notes}
    assert len(by_guid) == len(questions)
    for question in questions:
        fields, tags = by_guid[genanki.guid_for(question["slug"])]
        prompt, choices, correct, answer, note, slug = fields
        assert prompt == markdown_html(question["prompt"])
        assert answer == markdown_html(question["answer"])
        assert slug == question["slug"]
        for tag in question["tags"]:
            assert tag in tags
        for other in question["topics"][1:]:
            assert f"topic::{other}" in tags
        assert all(" " not in tag for tag in tags)
        if question["type"] != "open":
            assert choices.startswith('<ol type="A">')
            assert correct
        else:
            assert choices == correct == ""
        # Card decks: the first topic's.
        deck_id = connection.execute(
            "SELECT did FROM cards JOIN notes ON cards.nid = notes.id WHERE notes.guid = ?",
            (genanki.guid_for(question["slug"]),),
        ).fetchone()[0]
        expected = f"Flask interview questions::{topics[question['topics'][0]]['name']}"
        assert decks[str(deck_id)]["name"] == expected


def test_anki_ids_and_guids_are_stable(questions, topics, tmp_path):
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    export_anki(questions, topics, first)
    export_anki(list(reversed(questions)), topics, second)
    rows = []
    for path in (first, second):
        connection = _open_apkg(path, tmp_path)
        guids = {row[0] for row in connection.execute("SELECT guid FROM notes")}
        models = set(json.loads(connection.execute("SELECT models FROM col").fetchone()[0]))
        decks = set(json.loads(connection.execute("SELECT decks FROM col").fetchone()[0]))
        rows.append((guids, models, decks))
    assert rows[0] == rows[1]
    assert len(rows[0][0]) == len(questions)
    assert str(stable_id("qbank/anki/model/v1")) in rows[0][1]
    assert stable_id("x") == stable_id("x") and (1 << 30) <= stable_id("x") < (1 << 31)


def test_anki_fields_are_escaped_html():
    assert (
        markdown_html("a <b> & `x < y`\nnext") == "a &lt;b&gt; &amp; <code>x &lt; y</code><br>next"
    )
    assert (
        markdown_html("Run:\n```python\nif a < b:\n    pass\n```\nDone")
        == "Run:<pre><code>if a &lt; b:\n    pass</code></pre>Done"
    )
    assert markdown_html(None) == markdown_html("") == ""


def test_anki_question_without_topic_and_tag_with_space(tmp_path):
    question = {
        "slug": "lonely",
        "prompt": "<i>Plain</i>?",
        "answer": "Yes & no",
        "type": "true_false",
        "choices": ["True", "False"],
        "correct_choices": [0],
        "tags": ["has space"],
        "topics": [],
    }
    path = tmp_path / "one.apkg"
    assert export_anki([question], {}, path, bank_name="My bank") == 1
    connection = _open_apkg(path, tmp_path)
    fields, tags = connection.execute("SELECT flds, tags FROM notes").fetchone()
    assert fields.split("\x1f")[0] == "&lt;i&gt;Plain&lt;/i&gt;?"
    assert fields.split("\x1f")[2] == "A. True"
    assert "has_space" in tags.split()
    decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
    assert {d["name"] for d in decks.values()} - {"Default"} == {"My bank"}
