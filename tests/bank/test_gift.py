"""GIFT (Moodle's text format): the parser and the exporter of api/bank/transfer/gift.py.

Pure functions: no app, no database. Items are validated with the bank's own schema.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from api.bank.payloads import bank_file_schema, question_in_schema
from api.bank.transfer.gift import export_gift, parse_gift
from api.bank.transfer.interchange import (
    DocumentError,
    Rejected,
    TooManyItems,
    html_to_text,
    plain_text,
    title_slug,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "interop" / "everything.gift"
DOC = "everything.gift"


def _valid(question: dict) -> dict:
    """The item as the bank stores it (choice_weights is the importer's, not the schema's)."""
    fields = {k: v for k, v in question.items() if k != "choice_weights"}
    return question_in_schema.load(fields)


def _source(position: int) -> list[dict]:
    return [{"document": DOC, "position": position}]


@pytest.fixture(scope="module")
def bank() -> dict:
    return bank_file_schema.load(yaml.safe_load((ROOT / "seeds" / "bank.yaml").read_text()))


@pytest.fixture(scope="module")
def exported(bank) -> str:
    topics = {t["slug"]: t for t in bank["topics"]}
    return "".join(export_gift(bank["questions"], topics))


# ------------------------------------------------------------------ the fixture file

EXPECTED_ITEMS = {
    1: (
        "Default port",
        {
            "slug": "default-port",
            "prompt": "On which port does `flask run` listen by default?",
            "type": "multiple_choice",
            "choices": ["5000", "8000", "8080"],
            "correct_choices": [0],
            "explanations": [
                "Right: Werkzeug's development server binds 127.0.0.1:5000.",
                "No, that is Django's runserver.",
                "No, that is a common proxy port.",
            ],
            "answer": "The answer is: 5000\n\n"
            "Right: Werkzeug's development server binds 127.0.0.1:5000.",
            "topics": ["flask-routing"],
            "sources": _source(1),
        },
    ),
    2: (
        "Route decorator",
        {
            "slug": "route-decorator",
            "prompt": "Which decorator registers a view?",
            "type": "multiple_choice",
            "choices": ["@app.route", "@app.view", "@route"],
            "correct_choices": [0],
            "answer": "The answer is: @app.route",
            "tags": ["decorators", "views"],
            "topics": ["flask-routing"],
            "sources": _source(2),
        },
    ),
    3: (
        "WSGI servers",
        {
            "slug": "wsgi-servers",
            "prompt": "Which of these are production WSGI servers?",
            "type": "multiple_choice",
            "choices": ["Gunicorn", "the Flask development server", "uWSGI"],
            "correct_choices": [0, 2],
            "answer": "The answers are:\n- Gunicorn\n- uWSGI",
            "topics": ["flask-routing"],
            "sources": _source(3),
        },
    ),
    4: (
        "Session storage",
        {
            "slug": "session-storage",
            "prompt": "Where does Flask keep `session` data by default?",
            "type": "multiple_choice",
            "choices": ["In a signed cookie", "In the browser", "In the database"],
            "correct_choices": [0, 1],
            "choice_weights": [100, 50, 0],
            "answer": "Flask's default session is a cookie signed with the secret key.",
            "topics": ["flask-routing"],
            "sources": _source(4),
        },
    ),
    5: (
        "G persists",
        {
            "slug": "g-persists",
            "prompt": "Does `g` keep its values between requests?",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [1],
            "answer": "The answer is: False",
            "sources": _source(5),
        },
    ),
    6: (
        "Secret key",
        {
            "slug": "secret-key",
            "prompt": "The session needs `SECRET_KEY` to be set.",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [0],
            "explanations": [
                "Yes: the cookie is signed with it.",
                "Without a key Flask refuses to sign the cookie, so this is wrong.",
            ],
            "answer": "The answer is: True\n\nYes: the cookie is signed with it.",
            "sources": _source(6),
        },
    ),
    7: (
        "Dev server",
        {
            "slug": "dev-server",
            "prompt": "The development server is fit for production.",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [1],
            "explanations": [
                "It is not: it is single-process and unhardened.",
                "Right, use Gunicorn or uWSGI.",
            ],
            "answer": "The answer is: False\n\nRight, use Gunicorn or uWSGI.",
            "sources": _source(7),
        },
    ),
    8: (
        None,
        {
            "prompt": "Flask is written in Python.",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [0],
            "answer": "The answer is: True",
            "sources": _source(8),
        },
    ),
    9: (
        "Blueprint",
        {
            "slug": "blueprint",
            "prompt": "What groups routes into a reusable component?",
            "type": "open",
            "answer": "a blueprint",
            "key_points": [
                {
                    "text": "a blueprint",
                    "alternatives": ["blueprint", "Blueprints"],
                    "contradictions": [],
                }
            ],
            "sources": _source(9),
        },
    ),
    10: (
        "Explain g",
        {
            "slug": "explain-g",
            "prompt": "Explain what the `g` object is for.",
            "type": "open",
            "answer": "It stores data for the duration of one application context, such as a "
            "database connection opened once per request.",
            "sources": _source(10),
        },
    ),
    12: (
        "Teardown",
        {
            "slug": "teardown-hooks",
            "prompt": "When do teardown functions run?",
            "type": "open",
            "answer": "Flask calls teardown functions when the context is popped, even after an "
            "error.",
            "difficulty": "hard",
            "tags": ["hooks"],
            "sources": _source(12),
        },
    ),
    13: (
        "Autoescape",
        {
            "slug": "autoescape",
            "prompt": "Which files does Jinja autoescape in Flask?\n\nPick one.",
            "type": "multiple_choice",
            "choices": ["`.html`, `.htm`, `.xml` and `.xhtml` files", "every file & string"],
            "correct_choices": [0],
            "answer": "The answer is: `.html`, `.htm`, `.xml` and `.xhtml` files",
            "topics": ["flask-templates"],
            "sources": _source(13),
        },
    ),
    14: (
        "Escapes: all of them",
        {
            "slug": "escapes-all-of-them",
            "prompt": "Which one is a dict literal in Python: a { } pair, a list ~ or a "
            "#comment? 1 + 1 = 2.\nTwo lines.",
            "type": "multiple_choice",
            # `\[` is no GIFT escape: the backslash stays, as in Moodle.
            "choices": ["{}", "\\[\\]", "~x"],
            "correct_choices": [0],
            "explanations": [
                "Braces {} make a dict.",
                "Brackets make a list = [].",
                "A tilde is bitwise not.",
            ],
            "answer": "The answer is: {}\n\nBraces {} make a dict.",
            "topics": ["flask-templates"],
            "sources": _source(14),
        },
    ),
}

EXPECTED_REJECTED = [
    Rejected(11, "An essay question has no model answer: add general feedback.", "Explain hooks"),
    Rejected(15, "Numerical questions are not supported.", "Port number"),
    Rejected(16, "Matching questions are not supported.", "Match"),
    Rejected(
        17,
        "A missing-word question (text after the answers) is not supported: "
        "put the answers at the end.",
        "Missing word",
    ),
    Rejected(18, "A description (text without answers in braces) is not a question.", "Section"),
    Rejected(
        19,
        "The answers are not one section in braces: write a `{` or `}` of the text as "
        "`\\{` or `\\}`.",
        "Jinja",
    ),
]


def test_fixture_items_are_exactly_what_the_file_says():
    parsed = parse_gift(FIXTURE.read_text(encoding="utf-8"), document=DOC)
    found = {item.position: (item.title, item.question) for item in parsed.items}
    assert found == EXPECTED_ITEMS


def test_fixture_rejects_what_the_bank_cannot_hold_with_position_and_reason():
    parsed = parse_gift(FIXTURE.read_text(encoding="utf-8"), document=DOC)
    assert parsed.rejected == EXPECTED_REJECTED
    assert parsed.rejected[0].as_dict() == {
        "position": 11,
        "reason": "An essay question has no model answer: add general feedback.",
        "title": "Explain hooks",
    }
    # Positions count every question once, accepted or not, and nothing else.
    positions = sorted([i.position for i in parsed.items] + [r.position for r in parsed.rejected])
    assert positions == list(range(1, 20))


def test_fixture_categories_become_topics_only_where_used():
    parsed = parse_gift(FIXTURE.read_text(encoding="utf-8"), document=DOC)
    assert parsed.topics == {
        "flask-routing": {
            "slug": "flask-routing",
            "name": "Routing",
            "description": "Moodle category Flask/Routing",
        },
        "flask-templates": {
            "slug": "flask-templates",
            "name": "Templates",
            "description": "Moodle category Flask/Templates",
        },
    }


def test_fixture_items_are_valid_bank_questions():
    parsed = parse_gift(FIXTURE.read_text(encoding="utf-8"), document=DOC)
    for item in parsed.items:
        loaded = _valid(item.question)
        assert loaded["prompt"] == item.question["prompt"]
    weighted = next(i for i in parsed.items if "choice_weights" in i.question)
    assert len(weighted.question["choice_weights"]) == len(weighted.question["choices"])


# ------------------------------------------------------------------ round trips of the bank


def test_round_trip_of_the_whole_bank_is_exact(bank, exported):
    parsed = parse_gift(exported, document="bank.gift")
    assert parsed.rejected == []
    assert len(parsed.items) == len(bank["questions"]) == 144
    assert [i.position for i in parsed.items] == list(range(1, 145))
    for item, original in zip(parsed.items, bank["questions"], strict=True):
        assert "choice_weights" not in item.question, original["slug"]
        assert _valid(item.question) == original
        assert item.title == original["slug"]

    used = {slug for q in bank["questions"] for slug in q["topics"]}
    seed_topics = {t["slug"]: t for t in bank["topics"]}
    assert parsed.topics == {slug: seed_topics[slug] for slug in used}


def test_export_is_valid_gift_that_moodle_reads(exported, bank):
    blocks = [b for b in re.split(r"\n\s*\n", exported) if b.strip()]
    questions = [b for b in blocks if "::" in b]
    assert len(questions) == len(bank["questions"])
    for block in blocks:
        lines = [line for line in block.split("\n") if not line.startswith("//")]
        if not lines:
            continue
        if lines[0].startswith("$CATEGORY:"):
            assert len(lines) == 1 and lines[0].startswith("$CATEGORY: $course$/top/")
            continue
        text = "\n".join(lines)
        unescaped = re.sub(r"\\.", "", text)
        # One answer section, last; no unescaped special character in a text.
        assert unescaped.count("{") == 1 and unescaped.count("}") == 1
        assert unescaped.rstrip().endswith("}")
        assert text.startswith("::")
        # Every answer line starts with a mark (or is the general feedback).
        for line in lines[1:-1]:
            assert line[:1] in ("=", "~", "#"), line
    assert "$CATEGORY: $course$/top/Flask basics" in exported


def test_export_streams_one_question_at_a_time(bank):
    def questions():
        yield bank["questions"][0]
        raise AssertionError("read past the first question")

    chunks = export_gift(questions(), {t["slug"]: t for t in bank["topics"]})
    header = next(chunks)
    assert header.startswith("//")
    first = next(chunks)
    assert "::what-is-flask::" in first
    assert "$CATEGORY: $course$/top/Flask basics" in first


def _without_notes(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith("// qbank"))


def test_round_trip_without_qbank_notes_keeps_what_gift_says(bank, exported):
    stripped = _without_notes(exported)
    assert "// qbank:" not in stripped and "// qbank-topic:" not in stripped
    parsed = parse_gift(stripped, document="bank.gift")
    assert parsed.rejected == []
    assert len(parsed.items) == len(bank["questions"])
    names = {t["slug"]: t["name"] for t in bank["topics"]}
    for item, original in zip(parsed.items, bank["questions"], strict=True):
        loaded = _valid(item.question)
        for key in ("prompt", "type", "choices", "correct_choices", "answer", "explanations"):
            assert loaded[key] == original[key], (original["slug"], key)
        assert loaded["slug"] == title_slug(item.title) == original["slug"]
        assert loaded["topics"] == [title_slug(names[original["topics"][0]])]
        assert loaded["sources"] == [{"document": "bank.gift", "position": item.position}]
        assert "choice_weights" not in item.question
    # The categories are topics again, named as in the seed.
    assert {t["name"] for t in parsed.topics.values()} == {
        names[q["topics"][0]] for q in bank["questions"]
    }


# ------------------------------------------------------------------ edge cases

AWKWARD = "A ~tilde~, = sign, #hash, {braces}, a: colon, \\backslash, \\n literal\nand a newline"


def _awkward_questions() -> list[dict]:
    base = {
        "alternate_prompts": [],
        "key_points": [],
        "note": None,
        "difficulty": "medium",
        "topics": ["odd"],
        "tags": [],
        "sources": [],
        "related_group": None,
        "original_answer": None,
    }
    return [
        {
            **base,
            "slug": "awkward-open",
            "prompt": "Prompt: " + AWKWARD,
            "answer": "Answer: " + AWKWARD + "\n",
            "type": "open",
            "choices": None,
            "correct_choices": None,
            "explanations": None,
        },
        {
            **base,
            "slug": "awkward-mc",
            "prompt": "What does `{% block body %}{{ x }}{% endblock %}` render?",
            "answer": "}",
            "type": "multiple_choice",
            "choices": ["[html]<b>not html</b>", "%50% of it", "=" + AWKWARD, "~}"],
            "correct_choices": [1, 2],
            "explanations": ["#1 " + AWKWARD, "[plain] two", "%3%", "four: {}"],
        },
        {
            **base,
            "topics": [],
            "slug": "awkward-tf",
            "prompt": "//not a comment:: {T}",
            "answer": "####",
            "type": "true_false",
            "choices": ["True", "False"],
            "correct_choices": [1],
            "explanations": ["T#F#" + AWKWARD, "::"],
        },
    ]


def test_escapes_in_every_position_round_trip():
    questions = [question_in_schema.load(q) for q in _awkward_questions()]
    topics = {"odd": {"slug": "odd", "name": "Odd/ones: {x}", "description": "#1"}}
    text = "".join(export_gift(questions, topics))
    for notes in (True, False):
        parsed = parse_gift(text if notes else _without_notes(text), document="x")
        assert parsed.rejected == []
        for item, original in zip(parsed.items, questions, strict=True):
            loaded = _valid(item.question)
            if notes:
                assert loaded == original
            else:
                for key in ("prompt", "choices", "correct_choices", "answer", "explanations"):
                    assert loaded[key] == original[key], (original["slug"], key)
    assert "$CATEGORY: $course$/top/Odd//ones: {x}" in text
    assert parse_gift(text).topics == {"odd": topics["odd"]}
    # Without the notes, the question without a topic stays without one.
    bare = parse_gift(_without_notes(text)).items
    assert bare[1].question["topics"] == ["odd-ones-x"] and "topics" not in bare[2].question


def test_choice_weights_round_trip():
    question = question_in_schema.load(
        {
            "slug": "weights",
            "prompt": "Which are right?",
            "answer": "A and mostly B.",
            "type": "multiple_choice",
            "choices": ["A", "B", "C"],
            "correct_choices": [0, 1],
        }
    )
    text = "".join(export_gift([{**question, "choice_weights": [100, 50, -25.5]}], {}))
    assert "~%100%A\n~%50%B\n~%-25.5%C" in text
    (item,) = parse_gift(text).items
    assert item.question["choice_weights"] == [100, 50, -25.5]
    assert item.question["correct_choices"] == [0, 1]


def test_weights_that_only_say_which_choices_are_right_are_left_out():
    text = "Pick.{~%33.33333%a ~%33.33333%b ~%33.33333%c ~%-100%d}\n\nOne.{=a ~%-50%b}\n"
    first, second = parse_gift(text).items
    assert first.question["correct_choices"] == [0, 1, 2]
    assert "choice_weights" not in first.question
    assert second.question["choice_weights"] == [100, -50]


def test_crlf_and_bom_read_as_plain_newlines():
    text = FIXTURE.read_text(encoding="utf-8")
    expected = parse_gift(text, document=DOC)
    for variant in ("\ufeff" + text.replace("\n", "\r\n"), text.replace("\n", "\r")):
        assert parse_gift(variant, document=DOC) == expected
    # A BOM read from bytes decoded as utf-8 (not utf-8-sig) is not part of the first title.
    bom = ("\ufeff::First::Is this read?{T}\r\n").encode().decode("utf-8")
    (item,) = parse_gift(bom).items
    assert item.title == "First" and item.question["slug"] == "first"


def test_newline_escape_in_texts():
    text = "::NL::Line one\\nline two{=a\\nb#why\\nnot ~c#no}"
    (item,) = parse_gift(text).items
    assert item.question["prompt"] == "Line one\nline two"
    assert item.question["choices"] == ["a\nb", "c"]
    assert item.question["explanations"] == ["why\nnot", "no"]


def test_closing_brace_in_code_in_the_prompt():
    text = "What does `d = \\{\\}` make?{=a dict ~a set}"
    (item,) = parse_gift(text).items
    assert item.question["prompt"] == "What does `d = {}` make?"
    # Unescaped, the brace is a second answer section: refused, not misread.
    parsed = parse_gift("::Code::What does `d = {}` make?{=a dict ~a set}")
    assert parsed.items == []
    assert parsed.rejected[0].position == 1 and parsed.rejected[0].title == "Code"
    assert "\\{" in parsed.rejected[0].reason


def test_multi_line_question_with_comments_inside():
    text = (
        '// qbank: {"difficulty": "easy"}\n'
        "::Multi::[markdown]Which one\n"
        "spans lines?\n"
        "{\n"
        "   // a comment between answers\n"
        "   =this one\n"
        "   ~not this one\n"
        "}\n"
    )
    (item,) = parse_gift(text).items
    assert item.question["prompt"] == "Which one\nspans lines?"
    assert item.question["choices"] == ["this one", "not this one"]
    assert item.question["difficulty"] == "easy"


def test_a_note_apart_from_its_question_is_ignored():
    text = '// qbank: {"difficulty": "hard"}\n\n::Alone::Is it hard?{T}'
    (item,) = parse_gift(text).items
    assert "difficulty" not in item.question


def test_note_sources_and_topics_win_over_the_document():
    text = (
        "$CATEGORY: $course$/top/Elsewhere\n\n"
        '// qbank: {"sources": [{"document": "old.txt", "position": 7}], "topics": ["kept"],'
        ' "slug": "from-note", "unknown": 1}\n'
        "::Title::Which wins?{T}\n"
    )
    parsed = parse_gift(text, document="new.gift")
    (item,) = parsed.items
    assert item.question["sources"] == [{"document": "old.txt", "position": 7}]
    assert item.question["topics"] == ["kept"]
    assert item.question["slug"] == "from-note"
    assert "unknown" not in item.question
    assert parsed.topics == {}  # the category was used by no question


def test_more_rejections():
    text = "\n\n".join(
        [
            "::No right::Which?{~a ~b}",
            "::One choice::Which?{~%100%a}",
            "::Partial only::Name it.{=%50%half}",
            "::Empty choice::Which?{=a ~ }",
            "::No text::{T}",
            "::Unclosed title:Which?{T}",
            "::Garbage::Which?{a b c}",
            "::TF too many::Sure?{T#a#b#c}",
        ]
    )
    parsed = parse_gift(text)
    assert parsed.items == []
    assert [(r.position, r.title) for r in parsed.rejected] == [
        (1, "No right"),
        (2, "One choice"),
        (3, "Partial only"),
        (4, "Empty choice"),
        (5, "No text"),
        (6, None),
        (7, "Garbage"),
        (8, "TF too many"),
    ]
    assert all(r.reason for r in parsed.rejected)


def test_short_answer_and_true_false_spellings():
    text = "Capital of France?{=Paris =paris =%50%Lyon #close}\n\nLower case?{true}\n\nF?{f}"
    short, upper, lower = parse_gift(text).items
    assert short.question["key_points"] == [
        {"text": "Paris", "alternatives": ["paris"], "contradictions": []}
    ]
    assert upper.question["correct_choices"] == [0]
    assert lower.question["correct_choices"] == [1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no GIFT question"),
        ("  \n\n \r\n", "no GIFT question"),
        ("// only a comment\n\n$CATEGORY: $course$/top/X\n", "no GIFT question"),
        ("Just some prose.\n\nAnd more prose.\n", "answers in braces"),
        ('{"questions": [{"prompt": "What is Flask?"}]}', "JSON"),
        ("[1, 2, 3]", "JSON"),
        ('<?xml version="1.0"?><quiz></quiz>', "XML"),
        ("PK\x03\x04\x14\x00\x00\x00\x08\x00binary", "not text"),
        ("\x89PNG\r\n\x1a\n" + "\x01\x02\x03" * 50, "not text"),
    ],
)
def test_documents_that_are_not_gift(text, message):
    with pytest.raises(DocumentError, match=message):
        parse_gift(text)


def test_max_items():
    text = "\n\n".join(f"::Q{n}::Question {n}?{{T}}" for n in range(1, 4))
    assert len(parse_gift(text, max_items=3).items) == 3
    with pytest.raises(TooManyItems) as raised:
        parse_gift(text, max_items=2)
    assert raised.value.limit == 2
    assert isinstance(raised.value, DocumentError)
    # Rejected questions count, as their positions do.
    with pytest.raises(TooManyItems):
        parse_gift("::A::Numerical{#1}\n\n::B::Text only\n\n::C::Fine{T}", max_items=2)


def test_html_to_text_keeps_paragraphs_and_line_breaks():
    html = (
        "<p>Hello <b>world</b>,</p>\n<p>second&nbsp;para<br/>  next line</p>"
        "<ul><li>one</li>\n<li>two &amp; three</li></ul><pre>def f():\n    return {}</pre>"
        "<script>alert(1)</script>tail"
    )
    assert html_to_text(html) == (
        "Hello world,\n\nsecond para\nnext line\n\n- one\n- two & three\n\n"
        "```\ndef f():\n    return {}\n```\n\ntail"
    )
    assert plain_text("a &lt;b&gt;") == "a <b>"
    assert html_to_text("") == ""


def test_parse_does_not_mutate_or_share_note_values():
    text = '// qbank: {"tags": ["a"]}\n::One::Q?{T}\n\n// qbank: {"tags": ["a"]}\n::Two::Q?{T}'
    first, second = parse_gift(text).items
    before = copy.deepcopy(second.question)
    first.question["tags"].append("b")
    assert second.question == before


def test_moodle_tags_and_a_category_in_the_question_block():
    text = (
        "// question: 12  name: Tagged\n"
        "// [tag:Flask Basics] [tag:easy] [tag:easy]\n"
        "$CATEGORY: $course$/top/Flask\n"
        "// [tag:after-category]\n"
        "::Tagged::Is Flask a framework?{T}\n\n"
        '// [tag:ignored]\n// qbank: {"tags": ["from-note"]}\n::Noted::Still one?{T}\n'
    )
    parsed = parse_gift(text)
    tagged, noted = parsed.items
    assert tagged.question["tags"] == ["after-category"]
    assert tagged.question["topics"] == ["flask"]
    assert noted.question["tags"] == ["from-note"] and noted.question["topics"] == ["flask"]
    assert parse_gift("// [tag:Flask Basics] [tag:easy]\nQ?{T}").items[0].question["tags"] == [
        "flask-basics",
        "easy",
    ]


def test_bytes_are_read_as_utf8():
    (item,) = parse_gift("::Café::Is it ünïcode?{T}".encode()).items
    assert item.question["slug"] == "cafe"
    with pytest.raises(DocumentError, match="UTF-8"):
        parse_gift(b"\xff\xfe::A::B?{T}")


def test_private_use_characters_in_the_text_are_kept():
    text = "::PUA::Is \ue000\ue004 kept \\{here\\}?{=yes \ue001 ~no}"
    (item,) = parse_gift(text).items
    assert item.question["prompt"] == "Is \ue000\ue004 kept {here}?"
    assert item.question["choices"] == ["yes \ue001", "no"]
