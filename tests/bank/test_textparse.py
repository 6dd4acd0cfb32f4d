"""Tests for api.bank.transfer.textparse against the real seed documents and edge cases."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from api.bank.transfer.textparse import (
    ParsedQuestion,
    ParseError,
    TooManyQuestions,
    parse_qa_text,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "raw"
NUMBERED_DOC = SEEDS / "000_becfa4df0abd7808.txt"
PARAGRAPH_DOC = SEEDS / "003_ae11068e3ef71790.txt"

Q9_ANSWER = (
    "```python\n"
    "from flask import Flask\n"
    "app = Flask(__name__)\n"
    "\n"
    "@app.route('/')\n"
    "def hello_world():\n"
    "    return 'Hello, World!'\n"
    "\n"
    "if __name__ == '__main__':\n"
    "    app.run()\n"
    "```"
)
Q36_ANSWER = (
    "You can secure a Flask application by following best practices such as input "
    "validation, using secure password storage, implementing proper session management, "
    "and protecting against CSRF attacks."
)
EXTENSIONS_ANSWER = (
    "Flask extensions are packages that extend Flask\u2019s core functionality. "
    "Common extensions include:\n"
    "\n"
    "- Flask-SQLAlchemy for database integration.\n"
    "- Flask-WTF for form handling.\n"
    "- Flask-Login for user authentication."
)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def numbered() -> list[ParsedQuestion]:
    return parse_qa_text(_read(NUMBERED_DOC))


@pytest.fixture(scope="module")
def paragraphs() -> list[ParsedQuestion]:
    return parse_qa_text(_read(PARAGRAPH_DOC))


# --------------------------------------------------------------------------- doc 000


def test_numbered_doc_has_fifty_questions_in_order(numbered: list[ParsedQuestion]) -> None:
    assert len(numbered) == 50
    assert [q.position for q in numbered] == list(range(1, 51))


def test_numbered_doc_prompts(numbered: list[ParsedQuestion]) -> None:
    assert numbered[0].prompt == "What is Flask?"
    assert numbered[8].prompt == 'How do you create a simple "Hello, World!" Flask application?'
    assert numbered[35].prompt == (
        "How do you secure a Flask application against common security vulnerabilities?"
    )
    assert numbered[49].prompt == (
        "What is the use of Flask-Login, and how is it used for user authentication?"
    )


def test_numbered_doc_plain_answer(numbered: list[ParsedQuestion]) -> None:
    assert numbered[0].answer == (
        "Flask is a micro web framework for Python used to build web applications. "
        "It is simple and lightweight and follows the WSGI standard."
    )
    assert numbered[49].answer == (
        "Flask-Login is an extension that simplifies user authentication in Flask "
        "applications. It provides decorators and methods for handling user sessions "
        "and authentication."
    )


def test_numbered_doc_bare_code_becomes_python_fence(numbered: list[ParsedQuestion]) -> None:
    assert numbered[8].position == 9
    assert numbered[8].answer == Q9_ANSWER


def test_numbered_doc_split_sentence_is_rejoined(numbered: list[ParsedQuestion]) -> None:
    answer = numbered[35].answer
    assert numbered[35].position == 36
    assert answer == Q36_ANSWER
    assert "best practices such as input validation" in answer
    assert "\n" not in answer


def test_numbered_doc_wrapper_fence_is_dropped(numbered: list[ParsedQuestion]) -> None:
    fenced = [q.position for q in numbered if "```" in q.answer]
    assert fenced == [9]
    assert numbered[8].answer.count("```") == 2
    assert not any(q.prompt.startswith("`") for q in numbered)


# --------------------------------------------------------------------------- doc 003


def test_paragraph_doc_has_eleven_questions(paragraphs: list[ParsedQuestion]) -> None:
    assert len(paragraphs) == 11
    assert [q.position for q in paragraphs] == list(range(1, 12))
    assert paragraphs[0].prompt == "What is Flask, and why would you choose it over Django?"
    assert paragraphs[10].prompt == "What is Flask-Migrate, and how is it used?"


def test_paragraph_doc_intro_line_is_not_a_question(paragraphs: list[ParsedQuestion]) -> None:
    intro = "Here are some common Flask interview questions to help you prepare:"
    assert all(q.prompt != intro for q in paragraphs)
    assert all(intro not in q.answer for q in paragraphs)


def test_paragraph_doc_detects_imperative_questions(paragraphs: list[ParsedQuestion]) -> None:
    prompts = [q.prompt for q in paragraphs]
    assert prompts[1] == "Explain Flask\u2019s request and response cycle."
    assert paragraphs[1].answer.startswith("When a client sends a request to a Flask server,")
    assert prompts[7] == (
        "Explain the difference between app.run() and using a WSGI server in production."
    )
    assert paragraphs[7].answer.startswith("app.run() is used for running Flask")


def test_paragraph_doc_extensions_list(paragraphs: list[ParsedQuestion]) -> None:
    assert paragraphs[5].prompt == "What are Flask extensions? Can you name a few?"
    assert paragraphs[5].answer == EXTENSIONS_ANSWER


def test_paragraph_doc_single_paragraph_answer(paragraphs: list[ParsedQuestion]) -> None:
    assert paragraphs[10].answer == (
        "Flask-Migrate is an extension that manages database migrations for Flask "
        "applications using SQLAlchemy. It helps track changes to your database schema "
        "and apply migrations without manual SQL scripting."
    )


# --------------------------------------------------------------------------- both docs


@pytest.mark.parametrize("path", [NUMBERED_DOC, PARAGRAPH_DOC], ids=["000", "003"])
def test_no_answer_contains_a_question_or_stray_fence(path: Path) -> None:
    questions = parse_qa_text(_read(path))
    prompts = {q.prompt for q in questions}
    for q in questions:
        assert q.answer.strip() == q.answer != ""
        assert "\n\n\n" not in q.answer
        for line in q.answer.split("\n"):
            assert re.match(r"\d+\.\s", line) is None
            assert line.strip() not in prompts
        if "```" in q.answer:
            assert q.answer.startswith("```python\n") and q.answer.endswith("\n```")
            assert q.answer.count("```") == 2


@pytest.mark.parametrize("path", [NUMBERED_DOC, PARAGRAPH_DOC], ids=["000", "003"])
def test_crlf_bom_and_cr_input_parse_the_same(path: Path) -> None:
    text = _read(path)
    expected = parse_qa_text(text)
    assert parse_qa_text(text.replace("\n", "\r\n")) == expected
    assert parse_qa_text("\ufeff" + text) == expected
    assert parse_qa_text("\ufeff" + text.replace("\n", "\r\n")) == expected
    assert parse_qa_text(text.replace("\n", "\r")) == expected
    assert parse_qa_text(text.replace("\n", "   \t\n")) == expected


def test_parsed_question_is_frozen(numbered: list[ParsedQuestion]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        numbered[0].prompt = "changed"  # type: ignore[misc]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param("", 1, "empty", id="empty"),
        pytest.param("  \n\t\n\r\n", 1, "empty", id="whitespace-only"),
        pytest.param("\ufeff", 1, "empty", id="bom-only"),
        pytest.param("```\n\n```\n", 1, "empty", id="empty-fence-wrapper"),
        pytest.param(
            "\nJust some notes.\nNothing to ask here.\n", 2, "no questions", id="no-questions"
        ),
        pytest.param("1. First?\n2. Second?\nAnswer two.\n", 1, "no answer", id="empty-answer"),
        pytest.param(
            "1. First?\nAnswer one.\n\n2. Second?\n\n", 4, "no answer", id="empty-last-answer"
        ),
        pytest.param(
            "1. A?\nx\n2. B?\ny\n2. C?\nz\n", 5, "duplicate question number 2", id="duplicate"
        ),
        pytest.param(
            "1. A?\nx\n3. B?\ny\n2. C?\nz\n", 5, "lower than the previous", id="decreasing"
        ),
        pytest.param(
            "1. A?\nx\n2. B?\ny\n1. C?\nz\n", 5, "duplicate question number 1", id="restart"
        ),
        pytest.param("0. A?\nx\n", 1, "start at 1", id="zero"),
        pytest.param("1. A?\nx\n" + "9" * 40 + ". B?\ny\n", 3, "too large", id="huge-number"),
        pytest.param(
            "What is X?\n\nWhat is Y?\n\nY is Y.\n", 1, "no answer", id="paragraph-empty-answer"
        ),
        pytest.param("1. A?\n```python\nx = 1\n", 2, "never closed", id="unclosed-fence"),
    ],
)
def test_parse_errors_carry_line_numbers(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_qa_text(text)
    assert caught.value.line == line
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")
    assert isinstance(caught.value, ValueError)


def test_error_line_numbers_count_crlf_as_one_break() -> None:
    with pytest.raises(ParseError) as caught:
        parse_qa_text("\ufeff1. A?\r\nx\r\n\r\n1. B?\r\ny\r\n")
    assert caught.value.line == 4
    assert "first used on line 1" in caught.value.message


# --------------------------------------------------------------------------- edge cases


def test_numbered_preamble_is_skipped_and_gaps_keep_numbers() -> None:
    parsed = parse_qa_text("Flask questions\n\n3. Why?\nBecause.\n\n7. How?\nLike so.\n")
    assert [(q.position, q.prompt, q.answer) for q in parsed] == [
        (3, "Why?", "Because."),
        (7, "How?", "Like so."),
    ]


def test_numbered_line_inside_code_fence_is_not_a_question() -> None:
    text = "1. Show a list?\n```text\n1. not a question\n\n2. still code\n```\n2. Next?\nYes.\n"
    parsed = parse_qa_text(text)
    assert [q.position for q in parsed] == [1, 2]
    assert parsed[0].answer == "```text\n1. not a question\n\n2. still code\n```"


def test_fence_wrapped_paragraph_doc() -> None:
    parsed = parse_qa_text("~~~\nIntro:\n\nWhat is WSGI?\n\nA standard.\n\nMore.\n~~~\n")
    assert parsed == [
        ParsedQuestion(position=1, prompt="What is WSGI?", answer="A standard.\n\nMore.")
    ]


def test_bullets_wrapped_lines_and_code_in_paragraph_doc() -> None:
    text = (
        "Describe the app factory.\n"
        "\n"
        "It builds the app\n"
        "on demand. Steps:\n"
        "* create the object\n"
        "+ load config\n"
        "\n"
        "Example:\n"
        "\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    return app\n"
        "\n"
        "Why use it?\n"
        "\n"
        "Testing.\n"
    )
    parsed = parse_qa_text(text)
    assert [q.prompt for q in parsed] == ["Describe the app factory.", "Why use it?"]
    assert parsed[0].answer == (
        "It builds the app on demand. Steps:\n"
        "\n"
        "- create the object\n"
        "- load config\n"
        "\n"
        "Example:\n"
        "\n"
        "```python\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    return app\n"
        "```"
    )
    assert parsed[1].answer == "Testing."


def test_finished_sentence_is_not_joined_with_indented_paragraph() -> None:
    parsed = parse_qa_text("1. Q?\nFirst sentence.\n\n second paragraph.\n")
    assert parsed[0].answer == "First sentence.\n\nsecond paragraph."


def test_prose_is_not_mistaken_for_code() -> None:
    parsed = parse_qa_text("1. Q?\nreturn values matter.\n\nx = y is not code here\n")
    assert parsed[0].answer == "return values matter.\n\nx = y is not code here"


def test_large_generated_numbered_doc() -> None:
    count = 20_000
    text = "\n".join(
        f"{n}. Question number {n}?\nAnswer {n} has some words in it.\n"
        for n in range(1, count + 1)
    )
    parsed = parse_qa_text(text)
    assert len(parsed) == count
    assert parsed[0] == ParsedQuestion(1, "Question number 1?", "Answer 1 has some words in it.")
    assert parsed[-1].position == count
    assert parsed[-1].prompt == f"Question number {count}?"
    assert parsed[-1].answer == f"Answer {count} has some words in it."


@pytest.mark.parametrize(
    ("document", "line"),
    [
        ("".join(f"{n}. Question {n}?\nAnswer {n}.\n\n" for n in range(1, 6)), 10),
        ("".join(f"Question {n}?\n\nAnswer {n}.\n\n" for n in range(1, 6)), 13),
    ],
    ids=["numbered", "paragraphs"],
)
def test_max_questions_stops_at_the_first_question_too_many(document, line):
    with pytest.raises(TooManyQuestions) as raised:
        parse_qa_text(document, max_questions=3)
    assert (raised.value.limit, raised.value.line) == (3, line)
    assert isinstance(raised.value, ParseError)
    assert len(parse_qa_text(document, max_questions=5)) == 5
