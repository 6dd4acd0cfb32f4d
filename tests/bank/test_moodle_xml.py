"""Tests for api.bank.transfer.moodle_xml: pure functions, no app or database.

A Moodle 4.x question bank export (tests/fixtures/interop/moodle-export.xml) imports to
exact items and exact rejections; the whole real bank exports and imports back unchanged,
and still imports (prompts, choices, answers) once our `qbank` comments are stripped;
unsafe and broken documents are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
import yaml

from api.bank.payloads import bank_file_schema, question_in_schema
from api.bank.transfer.interchange import (
    DocumentError,
    Rejected,
    TooManyItems,
    UnsafeDocument,
    html_to_text,
    plain_text,
    read_meta,
)
from api.bank.transfer.moodle_xml import export_moodle_xml, parse_moodle_xml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "interop" / "moodle-export.xml"
DOCUMENT = "moodle-export.xml"


def source(position: int) -> list[dict]:
    return [{"document": DOCUMENT, "position": position}]


def validated(item: dict) -> dict:
    """The item as the bank stores it (`choice_weights` is not a QuestionIn field yet)."""
    return question_in_schema.load({k: v for k, v in item.items() if k != "choice_weights"})


@pytest.fixture(scope="module")
def bank() -> dict:
    return bank_file_schema.load(yaml.safe_load((ROOT / "seeds" / "bank.yaml").read_text()))


@pytest.fixture(scope="module")
def topics(bank) -> dict[str, dict]:
    return {topic["slug"]: topic for topic in bank["topics"]}


@pytest.fixture(scope="module")
def exported(bank, topics) -> str:
    return "".join(export_moodle_xml(bank["questions"], topics))


# ------------------------------------------------------------ a Moodle 4.x export

EXPECTED_ITEMS = {
    1: {
        "slug": "route-decorator",
        "prompt": "Which decorator registers a `view` function for a URL?",
        "type": "multiple_choice",
        "choices": ["`@app.route`", "`@app.url`", "`@app.view`"],
        "correct_choices": [0],
        "answer": 'Use `@app.route("/path")`.\n\nIt calls `add_url_rule`.',
        "explanations": ["Right.", "No such decorator.", "Views are plain functions."],
        "tags": ["routing", "decorators"],
        "topics": ["flask-routing"],
        "sources": source(1),
    },
    2: {
        "slug": "http-methods",
        "prompt": "Which of these are HTTP methods?",
        "type": "multiple_choice",
        "choices": ["GET", "POST", "FETCH", "SEND"],
        "correct_choices": [0, 1],
        "choice_weights": [50, 50, -100, -100],
        # No general feedback: the answer names the correct choices. Not every answer
        # has feedback: no explanations.
        "answer": "Correct answers:\n- GET\n- POST",
        "topics": ["flask-routing"],
        "sources": source(2),
    },
    3: {
        "slug": "default-port",
        "prompt": "On which port does `flask run` listen by default?",
        "type": "multiple_choice",
        "choices": ["5000", "8000", "80"],
        "correct_choices": [0, 1],
        "choice_weights": [100, 33.33333, 0],
        "answer": "Port 5000 \u2014 unless `--port` says otherwise.",
        "topics": ["flask-routing"],
        "sources": source(3),
    },
    4: {
        "slug": "debug-mode-in-production",
        "prompt": "Flask's `debug` mode must never be used in production & it is off by default.",
        "type": "true_false",
        "choices": ["True", "False"],
        "correct_choices": [0],
        "answer": "True: the debugger runs arbitrary code.\nKeep it off.",
        "explanations": ["Correct.", "The debugger allows remote code execution."],
        "tags": ["security"],
        "topics": ["flask-routing"],
        "sources": source(4),
    },
    5: {
        "slug": "template-engine",
        "prompt": "Which template engine does Flask use?",
        "type": "open",
        "answer": "Jinja2",
        "key_points": [
            {"text": "Jinja2", "alternatives": ["Jinja", "jinja 2"], "contradictions": []}
        ],
        "tags": ["templates", "jinja"],
        "topics": ["flask-templates"],
        "sources": source(5),
    },
    6: {
        "slug": "template-inheritance",
        "prompt": "Explain template inheritance in Jinja2.",
        "type": "open",
        "answer": (
            "A base template defines blocks:\n\n"
            "- `{% block content %}` in the base\n"
            '- `{% extends "base.html" %}` in the child'
        ),
        "topics": ["flask-templates"],
        "sources": source(6),
    },
    13: {
        "slug": "url-for-output",
        "prompt": (
            "What does this print?\n\n"
            "```\n"
            "with app.test_request_context():\n"
            '    print(url_for("index", page=2))\n'
            "```"
        ),
        "type": "open",
        "answer": "It prints /?page=2 when index is mapped to /.",
        "topics": ["flask-routing-url-building"],
        "sources": source(13),
    },
    14: {
        "slug": "url-for-needs-a-context",
        "prompt": "`url_for` works outside any application context.",
        "type": "true_false",
        "choices": ["True", "False"],
        "correct_choices": [1],
        "answer": "Correct answer: False",
        "topics": ["flask-routing-url-building"],
        "sources": source(14),
    },
}

EXPECTED_REJECTED = [
    Rejected(
        7, "an essay without grader information or general feedback has no answer", "Reflection"
    ),
    Rejected(8, "numerical questions are not supported", "Status code"),
    Rejected(9, "matching questions are not supported", "Match the hooks"),
    Rejected(10, "cloze (embedded answers) questions are not supported", "Fill in the blanks"),
    Rejected(11, "a description is not a question", "About this quiz"),
    Rejected(12, "embedded files are not supported", "Logo"),
    Rejected(15, "question type 'ordering' is not supported", "Request lifecycle"),
]


@pytest.fixture(scope="module")
def moodle_export():
    return parse_moodle_xml(FIXTURE.read_bytes(), document=DOCUMENT)


def test_moodle_export_items_are_exact(moodle_export):
    assert {item.position: item.question for item in moodle_export.items} == EXPECTED_ITEMS
    assert [item.title for item in moodle_export.items][:2] == ["Route decorator", "HTTP methods"]


def test_moodle_export_rejects_what_it_cannot_read_with_positions_and_reasons(moodle_export):
    assert moodle_export.rejected == EXPECTED_REJECTED
    positions = sorted(
        [item.position for item in moodle_export.items]
        + [found.position for found in moodle_export.rejected]
    )
    assert positions == list(range(1, 16))  # every question accounted for, none dropped


def test_moodle_export_categories_become_topics(moodle_export):
    # Nested categories: one topic per path; its <info> the description, else where it came
    # from. `$course$/top/Flask` holds only other categories: it names no topic.
    assert moodle_export.topics == {
        "flask-routing": {
            "slug": "flask-routing",
            "name": "Routing",
            "description": "URL rules\nand views",
        },
        "flask-templates": {
            "slug": "flask-templates",
            "name": "Templates",
            "description": "Rendering with **Jinja2**.",
        },
        "flask-routing-url-building": {
            "slug": "flask-routing-url-building",
            "name": "URL building",
            "description": "Moodle category Flask/Routing/URL building",
        },
    }


def test_moodle_export_items_are_valid_questions(moodle_export):
    for item in moodle_export.items:
        validated(item.question)


def test_a_string_document_reads_like_bytes(moodle_export):
    parsed = parse_moodle_xml(FIXTURE.read_text(encoding="utf-8"), document=DOCUMENT)
    assert parsed == moodle_export


def test_document_defaults_to_import():
    parsed = parse_moodle_xml(FIXTURE.read_bytes())
    assert parsed.items[0].question["sources"] == [{"document": "import", "position": 1}]


# ------------------------------------------------------------ the real bank, round trip


def test_export_is_well_formed_xml_moodle_can_read(exported, bank):
    root = SafeET.fromstring(exported.encode("utf-8"))
    assert root.tag == "quiz"
    questions = [q for q in root if q.get("type") != "category"]
    assert len(questions) == len(bank["questions"])
    assert {q.get("type") for q in questions} == {"essay", "multichoice", "truefalse"}
    # The elements every question starts with, in the order Moodle's exporter writes them.
    header = ["name", "questiontext", "generalfeedback", "defaultgrade", "penalty", "hidden"]
    for question in questions:
        assert [child.tag for child in question][:7] == [*header, "idnumber"]
    # Our notes are comments Moodle ignores; no comment holds "--".
    assert "<!-- qbank:" in exported
    for comment in re.findall(r"<!--(.*?)-->", exported, re.S):
        assert "--" not in comment and not comment.endswith("-")


def test_export_streams_one_chunk_per_question(bank, topics):
    chunks = list(export_moodle_xml(bank["questions"], topics))
    assert chunks[0].startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    assert chunks[-1] == "</quiz>\n"
    assert len(chunks) == len(bank["questions"]) + 2


def test_the_whole_bank_round_trips_exactly(exported, bank, topics):
    parsed = parse_moodle_xml(exported, document="bank.xml")
    assert parsed.rejected == []
    assert [item.position for item in parsed.items] == list(range(1, len(bank["questions"]) + 1))
    assert len(parsed.items) == len(bank["questions"])
    for item, original in zip(parsed.items, bank["questions"], strict=True):
        assert "choice_weights" not in item.question
        assert validated(item.question) == original, original["slug"]
    used = {slug for question in bank["questions"] for slug in question["topics"]}
    assert parsed.topics == {slug: topics[slug] for slug in used}


def test_the_bank_without_our_notes_still_imports(exported, bank):
    stripped = re.sub(r"\s*<!-- qbank(?:-topic)?:.*?-->", "", exported, flags=re.S)
    assert "qbank" not in stripped
    parsed = parse_moodle_xml(stripped, document="bank.xml")
    assert parsed.rejected == []
    assert len(parsed.items) == len(bank["questions"])
    for item, original in zip(parsed.items, bank["questions"], strict=True):
        question = validated(item.question)
        assert question["slug"] == original["slug"]  # the <name>
        assert question["prompt"] == original["prompt"]
        assert question["type"] == original["type"]
        assert question["choices"] == original["choices"]
        assert question["correct_choices"] == original["correct_choices"]
        assert question["answer"] == original["answer"].strip()
        assert question["tags"] == original["tags"]
        if original["explanations"]:
            assert question["explanations"] == original["explanations"]
        assert question["sources"] == [{"document": "bank.xml", "position": item.position}]
        assert len(question["topics"]) == 1  # the category: the first topic, by its name
    # Each category's topic is named after the topic it was exported from.
    first_topics = {question["topics"][0] for question in bank["questions"]}
    names = {topic["name"] for topic in parsed.topics.values()}
    assert names == {topic["name"] for topic in bank["topics"] if topic["slug"] in first_topics}


def test_several_correct_choices_export_as_equal_shares_and_import_back():
    question = {
        "slug": "pick-three",
        "prompt": "Pick the three.",
        "answer": "a, b and c",
        "type": "multiple_choice",
        "choices": ["a", "b", "c", "d"],
        "correct_choices": [0, 1, 3],
        "topics": [],
        "tags": [],
    }
    xml = "".join(export_moodle_xml([question], {}))
    assert xml.count('fraction="33.33333"') == 3
    assert "<single>false</single>" in xml
    stripped = re.sub(r"\s*<!-- qbank(?:-topic)?:.*?-->", "", xml, flags=re.S)
    item = parse_moodle_xml(stripped).items[0].question
    assert item["correct_choices"] == [0, 1, 3]
    assert "choice_weights" not in item
    assert "topics" not in item  # the "Default" category names no topic


def test_choice_weights_export_as_fractions():
    question = {
        "slug": "weighted",
        "prompt": "Which port?",
        "answer": "5000",
        "type": "multiple_choice",
        "choices": ["5000", "8000", "80"],
        "correct_choices": [0, 1],
        "choice_weights": [100, 33.33333, -50],
    }
    xml = "".join(export_moodle_xml([question], {}))
    assert re.findall(r'fraction="([^"]+)"', xml) == ["100", "33.33333", "-50"]
    assert "<single>true</single>" in xml  # one answer is worth 100%
    assert parse_moodle_xml(xml).items[0].question["choice_weights"] == [100, 33.33333, -50]


def test_weights_moodle_refuses_are_written_as_the_nearest_grade_it_takes():
    question = {
        "slug": "weighted",
        "prompt": "Which two?",
        "answer": "a and b",
        "type": "multiple_choice",
        "choices": ["a", "b", "c", "d"],
        "correct_choices": [0, 1],
        "choice_weights": [33, 67, -110, -7],
    }
    xml = "".join(export_moodle_xml([question], {}))
    assert re.findall(r'fraction="([^"]+)"', xml) == ["33.33333", "66.66667", "-100", "-5"]
    assert "<single>false</single>" in xml


def test_text_that_closes_cdata_or_holds_dashes_survives():
    question = {
        "slug": "tricky",
        "prompt": "What does `a[b[0]]>c` do with --flag and <b>&amp;?",
        "answer": "It ends in --\n",
        "note": "a -- b --- c -",
        "type": "open",
        "topics": ["x--y"],
        "tags": [],
    }
    topics = {"x--y": {"slug": "x--y", "name": "A/B -- C", "description": "]]> --"}}
    xml = "".join(export_moodle_xml([question], topics))
    SafeET.fromstring(xml)
    parsed = parse_moodle_xml(xml)
    item = parsed.items[0].question
    assert item["prompt"] == question["prompt"]
    assert item["answer"] == question["answer"]
    assert item["note"] == question["note"]
    assert parsed.topics == topics
    assert "$course$/top/A//B -- C" in xml  # a slash in a name is doubled in the path


def test_a_note_from_elsewhere_is_ignored_when_it_is_not_ours():
    xml = FIXTURE.read_text(encoding="utf-8").replace(
        "<name>\n      <text>Route decorator",
        '<!-- qbank: not json -->\n    <!-- qbank: {"bogus": 1, "difficulty": "hard"} -->'
        "\n    <name>\n      <text>Route decorator",
    )
    item = parse_moodle_xml(xml, document=DOCUMENT).items[0].question
    assert item == {**EXPECTED_ITEMS[1], "difficulty": "hard"}
    assert read_meta("[1]") == {}


# ------------------------------------------------------------ HTML to text


def test_html_to_text():
    html = (
        "<p>Which  call\n registers a <code>route</code>?</p>"
        "<p>A &amp; B &lt;x&gt;<br/>next&nbsp;line</p>"
        "<pre><code>if a &lt; b:\n    pass</code></pre>"
        "<ul><li>one</li><li>two<ul><li>sub</li></ul></li></ul>"
        "<ol><li>first</li><li>second</li></ol>tail<script>alert(1)</script>"
    )
    assert html_to_text(html) == (
        "Which call registers a `route`?\n\n"
        "A & B <x>\nnext line\n\n"
        "```\nif a < b:\n    pass\n```\n\n"
        "- one\n- two\n  - sub\n\n"
        "1. first\n2. second\n\n"
        "tail"
    )
    assert plain_text("<p>a</p><p>b</p>") == html_to_text("<p>a</p><p>b</p>") == "a\n\nb"
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"
    assert (
        html_to_text(
            '<p>See <a href="https://flask.palletsprojects.com/">the docs</a>:'
            '<br><img src="https://example.com/flow.png" alt="request  flow"/></p>'
        )
        == "See [the docs](https://flask.palletsprojects.com/):\n![request flow](https://example.com/flow.png)"
    )


# ------------------------------------------------------------ refusals

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE quiz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<quiz><question type="essay"><questiontext><text>&lol2;</text></questiontext></question></quiz>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<quiz><question type="essay"><questiontext><text>&x;</text></questiontext></question></quiz>
"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE quiz SYSTEM "http://example.com/quiz.dtd">
<quiz></quiz>
"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entities_are_refused(document):
    with pytest.raises(UnsafeDocument):
        parse_moodle_xml(document)
    with pytest.raises(UnsafeDocument):
        parse_moodle_xml(document.encode())


def test_an_external_dtd_is_not_fetched():
    # A DOCTYPE that only names a DTD declares no entity: expat does not fetch it.
    parsed = parse_moodle_xml(EXTERNAL_DTD)
    assert parsed.items == [] and parsed.rejected == []


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<quiz><question type='essay'></quiz>",
        b"not xml at all",
        b"<?xml version='1.0'?><quiz>&amp</quiz>",
        b"<questions><question type='essay'/></questions>",
        b"<html><body>quiz</body></html>",
    ],
)
def test_broken_documents_are_document_errors(document):
    with pytest.raises(DocumentError) as raised:
        parse_moodle_xml(document)
    assert not isinstance(raised.value, UnsafeDocument)


def test_an_empty_quiz_has_nothing():
    parsed = parse_moodle_xml(b"<quiz/>")
    assert parsed.items == [] and parsed.rejected == [] and parsed.topics == {}


def test_max_items_counts_every_question_rejected_ones_included():
    assert len(parse_moodle_xml(FIXTURE.read_bytes(), max_items=15).items) == 8
    with pytest.raises(TooManyItems) as raised:
        parse_moodle_xml(FIXTURE.read_bytes(), max_items=14)
    assert raised.value.limit == 14
    assert str(raised.value) == "More than 14 questions."
    assert isinstance(raised.value, DocumentError)
