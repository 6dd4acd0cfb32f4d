"""Aiken: Moodle's plain-text format for single-answer multiple-choice questions.

As MoodleDocs ("Aiken format") and Moodle's importer (question/format/aiken/format.php)
describe it, a question is

    Which port does the development server listen on by default?
    A) 5000
    B) 8000
    ANSWER: A

the question text, then one option per line (an upper-case letter, `)` or `.`, a space,
the text), then `ANSWER: <letter>`; questions are separated by blank lines. The docs
ask for the question text on one line; this parser also takes a text that runs over
several lines until the first option (kept as lines), and tolerates a blank line
between the options and the ANSWER line.

Aiken has no titles (so no slug: the bank derives one from the prompt), no feedback,
no topics and one correct choice only. Two options `True` and `False` become a
true_false question. A question that cannot be read (no ANSWER line, a letter that names
no option, options out of order, fewer than 2 or more than 10 options) is rejected with
its position and the reason, and reading resumes after the next blank line or ANSWER
line; positions count the document's questions from 1, rejected ones included.

The exporter writes what Aiken can say: multiple choice with one correct choice and
true/false, the prompt on one line (its lines joined by spaces), `A)` options. Open
questions, several correct choices and choices that span lines are left out and
reported in `skipped`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from api.bank.transfer.interchange import DocumentError, Item, Parsed, Rejected, TooManyItems

MAX_CHOICES = 10  # QuestionIn takes 2 to 10 choices
_OPTION = re.compile(r"([A-Z])[.)](?:[ \t]+(.*))?")
_ANSWER = re.compile(r"ANSWER[ \t]*:[ \t]*(.*)", re.IGNORECASE)
_TRUE_FALSE = ("true", "false")


class _Question:
    """The question being read: its text lines, its options, where it started."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.lines: list[str] = []
        self.options: list[str] = []


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _item(question: _Question, answer: str, document: str) -> Item | Rejected:
    """The bank's question for a complete Aiken question, or why it cannot be one."""
    options = question.options
    prompt = "\n".join(question.lines)
    position = question.position
    if len(options) < 2:
        return Rejected(position, f"Only {len(options)} option: give at least 2 (A, B).")
    if len(options) > MAX_CHOICES:
        return Rejected(position, f"{len(options)} options: the bank takes at most {MAX_CHOICES}.")
    for index, text in enumerate(options):
        if not text:
            return Rejected(position, f"Option {_letter(index)} has no text.")
    letter = answer.strip()[:1].upper()
    if not letter:
        return Rejected(position, "The ANSWER line names no letter.")
    correct = ord(letter) - ord("A")
    if not 0 <= correct < len(options):
        last = _letter(len(options) - 1)
        return Rejected(position, f"ANSWER: {letter} names no option (A to {last}).")
    question_fields: dict[str, Any] = {"prompt": prompt}
    lowered = [text.lower() for text in options]
    if len(options) == 2 and sorted(lowered) == sorted(_TRUE_FALSE):
        truth = lowered[correct] == "true"
        question_fields.update(
            type="true_false",
            choices=["True", "False"],
            correct_choices=[0 if truth else 1],
            answer=f"The answer is {'True' if truth else 'False'}.",
        )
    else:
        question_fields.update(
            type="multiple_choice",
            choices=list(options),
            correct_choices=[correct],
            answer=_sentence(f"The answer is {letter}: {options[correct]}"),
        )
    question_fields["sources"] = [{"document": document, "position": position}]
    return Item(position=position, question=question_fields)


def parse_aiken(text: str, *, document: str = "import", max_items: int | None = None) -> Parsed:
    """The questions of an Aiken document (see the module docstring for what is read).

    Raises DocumentError for an empty document or one with no `ANSWER:` line at all
    (not Aiken), and TooManyItems when it holds more than `max_items` questions.
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.strip() for line in text.split("\n")]
    if not any(lines):
        raise DocumentError("The document is empty.")
    if not any(_ANSWER.fullmatch(line) for line in lines):
        raise DocumentError("Not an Aiken document: no line reads 'ANSWER: <letter>'.")

    parsed = Parsed()
    position = 0
    current: _Question | None = None
    skipping = False  # after a rejection, until a blank line or an ANSWER line

    def start() -> _Question:
        nonlocal position
        position += 1
        if max_items is not None and position > max_items:
            raise TooManyItems(max_items)
        return _Question(position)

    def reject(question: _Question, reason: str) -> None:
        parsed.rejected.append(Rejected(question.position, reason))

    for line in lines:
        answer = _ANSWER.fullmatch(line)
        option = None if answer else _OPTION.fullmatch(line)
        if skipping:
            if not line or answer:
                skipping = False
            continue
        if not line:
            if current is not None and not current.options:
                reject(current, "Question text with no options (A) ...) before the blank line.")
                current = None
            continue  # between options and ANSWER, a blank line is tolerated
        if answer:
            if current is None:
                reject(start(), "An ANSWER line with no question before it.")
                continue
            if not current.options:
                reject(current, "No options (A) ...) before the ANSWER line.")
            else:
                found = _item(current, answer.group(1), document)
                if isinstance(found, Item):
                    parsed.items.append(found)
                else:
                    parsed.rejected.append(found)
            current = None
            continue
        if option:
            if current is None:
                reject(start(), f"Option {option.group(1)} comes before any question text.")
                skipping = True
                continue
            expected = _letter(len(current.options))
            if option.group(1) != expected:
                reject(current, f"Option {option.group(1)} where {expected} was expected.")
                current, skipping = None, True
                continue
            current.options.append((option.group(2) or "").strip())
            continue
        # A line of text: the question's text, or the start of the next question.
        if current is not None and current.options:
            reject(current, "No ANSWER line after the options.")
            current = None
        if current is None:
            current = start()
        current.lines.append(line)
    if current is not None:
        if current.options:
            reject(current, "No ANSWER line after the options.")
        else:
            reject(current, "Question text with no options at the end of the document.")
    parsed.rejected.sort(key=lambda found: found.position)
    return parsed


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _skip_reason(question: dict[str, Any]) -> str | None:
    kind = question.get("type", "open")
    if kind == "open":
        return "Aiken holds choice questions only: an open question has no choices."
    correct = question.get("correct_choices") or []
    if len(correct) != 1:
        return f"Aiken marks one correct choice: this question has {len(correct)}."
    choices = question.get("choices") or (["True", "False"] if kind == "true_false" else [])
    if any("\n" in choice or "\r" in choice for choice in choices):
        return "A choice spans several lines: Aiken choices are one line each."
    if len(choices) < 2:
        return "Aiken needs at least 2 choices."
    if not all(choice.strip() for choice in choices):
        return "A choice is blank: an Aiken option needs text."
    prompt = _one_line(question.get("prompt") or "")
    if _OPTION.fullmatch(prompt) or _ANSWER.fullmatch(prompt):
        return "The prompt would read as an Aiken option or ANSWER line."
    return None


def export_aiken(
    questions: Iterable[dict[str, Any]], *, skipped: list[dict[str, Any]] | None = None
) -> Iterator[str]:
    """Aiken text, one question (a block ending in a blank line) per string yielded.

    Questions Aiken cannot express are left out; when `skipped` is given, each one is
    appended to it as {"slug", "reason"}.
    """
    for question in questions:
        reason = _skip_reason(question)
        if reason:
            if skipped is not None:
                skipped.append({"slug": question.get("slug"), "reason": reason})
            continue
        kind = question.get("type")
        choices = ["True", "False"] if kind == "true_false" else question["choices"]
        lines = [_one_line(question["prompt"])]
        lines += [f"{_letter(i)}) {choice.strip()}" for i, choice in enumerate(choices)]
        lines.append(f"ANSWER: {_letter(question['correct_choices'][0])}")
        yield "\n".join(lines) + "\n\n"
