"""GIFT, Moodle's text format for questions: a parser (`parse_gift`) and an exporter
(`export_gift`), both pure functions over the shapes of `interchange`.

What is read
------------
Questions are separated by blank lines. A line that starts with `//` is a comment, except
`// qbank: {json}` before a question (its fields, `interchange.META_KEYS`, win over what
the GIFT says: how our own exports come back unchanged) and
`// qbank-topic: {"slug", "name", "description"}`, which declares a topic; one declared
directly before a `$CATEGORY:` line is the topic that category stands for. Any other
`$CATEGORY: path` makes `Parsed.topic_for_category(path)` the topic of the questions that
follow (a question whose note names topics keeps those). Moodle's own `// [tag:name]`
comments before a question give its tags (slugified) unless the note has tags; its other
comments (`// question: 12  name: ...`) are ignored.

`::title::` gives the slug (`title_slug`) unless the note has one. A `[markdown]`,
`[plain]` or `[moodle]` prefix keeps the text as written, `[html]` turns it into text
(`interchange.html_to_text`); answers and feedback without a prefix take the question
text's format, as in Moodle. Escapes: `\\~ \\= \\# \\{ \\} \\: \\\\` and `\\n` (a newline).
Whitespace around a text is dropped before escapes are read, so an escaped `\\n` at an
end stays.

The answers in braces decide the type:

* `{=right ~wrong ~wrong}`: multiple_choice. `~%50%a` weights: the correct choices are
  those weighing more than 0; `choice_weights` (one number per choice) is given unless
  the weights are those the bank's own questions mean, which the exporter writes: 100
  for `=` and 0 for `~` (one or more right answers), or for k right answers 100/k each
  and -100 for each wrong one (Moodle's "multiple answers" form). `#feedback` after each
  answer becomes `explanations` only when every answer has one (the bank takes one
  explanation per choice, none empty).
* `{T}`, `{TRUE}`, `{F}`, `{FALSE}` (any case): true_false. `{T#if wrong#if right}`: the
  two feedbacks become `explanations` (for True, for False) when both are given.
* `{=a =b =c}` (only `=`): short answer, an open question whose answer is `a` and whose
  one key point is `a` with `b` and `c` as alternatives. Answers weighing less than 100%
  (`=%50%x`) are dropped, and so is per-answer feedback: the bank has no partial phrasing.
* `{}`: essay, an open question; its model answer is the general feedback.

The general feedback (`####text`, last in the braces) is the `answer` of every type; a
question without one takes the note's answer, else (multiple choice, true/false, short
answer) one made from the right choice(s): "The answer is: ..." with the right choice's
feedback. An essay with neither is rejected.

Rejected, with position, title and reason, never dropped: numerical `{#...}`, matching
`{=a -> b}`, missing word (text after the closing brace), descriptions (no braces), a
question with no text, unbalanced or several answer sections (an unescaped `{` or `}` in
the text), and answers that cannot be read. A document that is not text, is JSON or XML,
or holds no question at all raises `DocumentError`; question `max_items + 1` (rejected
ones count, as positions do) raises `TooManyItems`.

What is written
---------------
One `$CATEGORY: $course$/top/<name>` block (with the `// qbank-topic` line of its topic)
each time the first topic changes; questions without a topic go to
`$course$/top/Default`, which names no topic when read back. Each question is a
`// qbank` note (`meta_text`), then `::slug::[markdown]prompt{...}`: open questions as an
essay with the answer as general feedback, multiple choice with `=`/`~` (or `%weight%`s
for several right answers, or the question's own `choice_weights`) and `#explanation`s,
true/false as `{TRUE#if wrong#if right}`; the answer is always the general feedback, so
a file stripped of its notes still imports with its answers. Every special character is
escaped and newlines are written `\\n`, so a question is one line of text plus its
answers, one per line. What GIFT cannot carry (whitespace around a text, a carriage
return) is only kept by the note, where the note holds the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from api.bank.slugs import slugify
from api.bank.transfer.interchange import (
    DocumentError,
    Item,
    Parsed,
    Rejected,
    TooManyItems,
    html_to_text,
    meta_text,
    read_meta,
    title_slug,
)

__all__ = ["export_gift", "parse_gift"]

_FORMAT_PREFIX = re.compile(r"\[(markdown|plain|moodle|html)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"\s*%(-?[0-9]{1,3}(?:\.[0-9]+)?)%")
_TAG = re.compile(r"\[tag:([^\]\n]{1,100})\]")
_TRUE_FALSE = {"T": 0, "TRUE": 0, "F": 1, "FALSE": 1}
# Characters a backslash escapes, and what each stands for.
_ESCAPED = {"\\": "\\", "~": "~", "=": "=", "#": "#", "{": "{", "}": "}", ":": ":", "n": "\n"}
_ESCAPE = re.compile(r"\\([\\~=#{}:n])")
# Control characters no text document holds (tab, newlines and form feed are text).
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_DEFAULT_CATEGORY = "$course$/top/Default"
_UNSET = object()


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Escapes:
    """Escaped characters swapped for private-use stand-ins while a question is cut up
    (so that `\\{` is no brace and `\\~` no answer), and put back in each piece."""

    def __init__(self, text: str) -> None:
        base, present = 0xE000, set(text)
        while any(chr(base + i) in present for i in range(len(_ESCAPED))):
            base += len(_ESCAPED)  # the text uses these stand-ins itself: take others
        self.to_stand_in = {key: chr(base + i) for i, key in enumerate(_ESCAPED)}
        self.from_stand_in = {chr(base + i): _ESCAPED[key] for i, key in enumerate(_ESCAPED)}
        self._back = re.compile("[" + "".join(self.from_stand_in) + "]")

    def hide(self, text: str) -> str:
        return _ESCAPE.sub(lambda m: self.to_stand_in[m.group(1)], text)

    def restore(self, text: str) -> str:
        return self._back.sub(lambda m: self.from_stand_in[m.group()], text)


# ---------------------------------------------------------------------------- reading


def parse_gift(
    text: str | bytes, *, document: str = "import", max_items: int | None = None
) -> Parsed:
    """The questions of a GIFT document (see the module's docstring for what is read):
    text, or UTF-8 bytes.

    Raises DocumentError when the document is not GIFT or holds no question, and
    TooManyItems (a DocumentError) as soon as question `max_items + 1` is found.
    """
    text = _checked_text(text)
    parsed = Parsed()
    category: tuple[str, str] | None = None  # ("topic", slug) or ("path", category path)
    position = 0
    answered = False  # some block has an answer section: a question, readable or not

    for block in _blocks(text):
        note: dict[str, Any] | None = None
        declared: str | None = None  # the topic declared last, for a $CATEGORY right after
        content: list[str] = []
        tags: list[str] = []  # Moodle's `// [tag:name]` comments before the question
        for line in block:
            stripped = line.strip()
            if stripped.startswith("//"):
                comment = stripped[2:].strip()
                if comment.startswith("qbank-topic:"):
                    declared = _declare_topic(parsed, comment[len("qbank-topic:") :])
                elif comment.startswith("qbank:") and not content:
                    note = read_meta(comment[len("qbank:") :].strip())
                elif not content:
                    tags.extend(_TAG.findall(comment))
                continue
            if not content and stripped.startswith("$CATEGORY:"):
                path = stripped[len("$CATEGORY:") :].strip()
                category = ("topic", declared) if declared else ("path", path)
                declared, note, tags = None, None, []
                continue
            content.append(line.rstrip())
        if not content:
            continue
        position += 1
        if max_items is not None and position > max_items:
            raise TooManyItems(max_items)
        source = "\n".join(content).strip()
        escapes = _Escapes(source)
        hidden = escapes.hide(source)
        answered = answered or "{" in hidden
        title, body = _title(hidden, escapes)
        try:
            question = _question(body, escapes, note or {})
        except _Reject as exc:
            parsed.rejected.append(Rejected(position=position, reason=exc.reason, title=title))
            continue
        _complete(question, note or {}, title, tags, parsed, category, document, position)
        parsed.items.append(Item(position=position, question=question, title=title))

    if not position:
        raise DocumentError("The document holds no GIFT question.")
    if not answered:
        raise DocumentError(
            "The document holds no GIFT question: a question has its answers in braces, "
            "as in `Is Flask a framework? {T}`."
        )
    return parsed


def _checked_text(text: str | bytes) -> str:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError("The document is not UTF-8 text, so not GIFT.") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    head = text[:65536]
    if "\x00" in text or len(_BINARY.findall(head)) > len(head) // 100:
        raise DocumentError("The document is not text (binary data?), so not GIFT.")
    start = text.lstrip()[:1]
    if start in ("{", "["):
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            raise DocumentError("The document is JSON, not GIFT.")
    if text.lstrip().startswith("<?xml") or text.lstrip().lower().startswith("<quiz"):
        raise DocumentError("The document is XML (Moodle XML?), not GIFT.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str) -> Iterator[list[str]]:
    """Runs of non-blank lines."""
    block: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _declare_topic(parsed: Parsed, text: str) -> str | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    slug, name = found.get("slug"), found.get("name")
    if not isinstance(slug, str) or not slug or not isinstance(name, str):
        return None
    description = found.get("description")
    parsed.topics[slug] = {
        "slug": slug,
        "name": name,
        "description": description if isinstance(description, str) else "",
    }
    return slug


def _title(hidden: str, escapes: _Escapes) -> tuple[str | None, str]:
    """The `::title::` of a question, and the rest of it."""
    if not hidden.startswith("::"):
        return None, hidden
    end = hidden.find("::", 2)
    if end < 0:
        return None, hidden  # the question's reading rejects it: no text before braces
    title = escapes.restore(hidden[2:end]).strip()
    return title or None, hidden[end + 2 :].lstrip()


def _question(body: str, escapes: _Escapes, note: dict[str, Any]) -> dict[str, Any]:
    if body.startswith("::"):
        raise _Reject("The title has no closing `::`.")
    opening, closing = body.count("{"), body.count("}")
    if not opening and not closing:
        raise _Reject("A description (text without answers in braces) is not a question.")
    start, end = body.find("{"), body.find("}")
    if opening != 1 or closing != 1 or end < start:
        raise _Reject(
            "The answers are not one section in braces: write a `{` or `}` of the text "
            "as `\\{` or `\\}`."
        )
    if body[end + 1 :].strip():
        raise _Reject(
            "A missing-word question (text after the answers) is not supported: "
            "put the answers at the end."
        )
    text_format, prompt = _text(body[:start], escapes, "moodle")
    if not prompt:
        raise _Reject("The question has no text.")
    answers = body[start + 1 : end]
    general: str | None = None
    if "####" in answers:
        answers, feedback = answers.split("####", 1)
        general = _text(feedback, escapes, text_format)[1] or None
    answers = answers.strip()

    if not answers:
        answer = general or note.get("answer")
        if not answer:
            raise _Reject("An essay question has no model answer: add general feedback.")
        return {"prompt": prompt, "type": "open", "answer": answer}
    if answers.startswith("#"):
        raise _Reject("Numerical questions are not supported.")
    if "~" in answers:
        return _multiple_choice(prompt, answers, escapes, text_format, general)
    if "->" in answers and "=" in answers:
        raise _Reject("Matching questions are not supported.")
    if answers.split("#", 1)[0].strip().upper() in _TRUE_FALSE:
        return _true_false(prompt, answers, escapes, text_format, general)
    if answers.startswith("="):
        return _short_answer(prompt, answers, escapes, text_format, general)
    raise _Reject(
        "The answers cannot be read: start each with `=` (right) or `~` (wrong), "
        "or write {T} or {F}."
    )


def _text(raw: str, escapes: _Escapes, default: str) -> tuple[str, str]:
    """A piece of text's format (its `[format]` prefix, else `default`) and its text."""
    raw = raw.strip()
    text_format = default
    prefix = _FORMAT_PREFIX.match(raw)
    if prefix:
        text_format = prefix.group(1).lower()
        raw = raw[prefix.end() :].strip()
    text = escapes.restore(raw)
    if text_format == "html":
        text = html_to_text(text)
    return text_format, text


def _answers(answers: str) -> list[tuple[str, str]]:
    """`=a ~b` as [("=", "a"), ("~", "b")]; text before the first mark is refused."""
    pieces = re.split(r"([=~])", answers)
    if pieces[0].strip():
        raise _Reject("The answers cannot be read: text before the first `=` or `~`.")
    return [(pieces[i], pieces[i + 1]) for i in range(1, len(pieces), 2)]


def _weighed(mark: str, raw: str) -> tuple[float, str]:
    weight = _WEIGHT.match(raw)
    if weight:
        value = float(weight.group(1))
        if not -100 <= value <= 100:
            raise _Reject(f"The answer weight {weight.group(1)}% is not between -100 and 100.")
        return value, raw[weight.end() :]
    return (100.0 if mark == "=" else 0.0), raw


def _multiple_choice(
    prompt: str, answers: str, escapes: _Escapes, text_format: str, general: str | None
) -> dict[str, Any]:
    choices: list[str] = []
    weights: list[float] = []
    feedback: list[str] = []
    for mark, raw in _answers(answers):
        weight, raw = _weighed(mark, raw)
        text, _, comment = raw.partition("#")
        choice = _text(text, escapes, text_format)[1]
        if not choice:
            raise _Reject("An answer is empty.")
        choices.append(choice)
        weights.append(weight)
        feedback.append(_text(comment, escapes, text_format)[1])
    if len(choices) < 2:
        raise _Reject("A multiple-choice question needs two answers or more.")
    correct = [i for i, weight in enumerate(weights) if weight > 0]
    if not correct:
        raise _Reject("No answer is right: mark one with `=` or a positive `%weight%`.")
    question: dict[str, Any] = {
        "prompt": prompt,
        "type": "multiple_choice",
        "choices": choices,
        "correct_choices": correct,
    }
    if not _plain_weights(weights, correct):
        question["choice_weights"] = [int(w) if w.is_integer() else w for w in weights]
    if all(feedback):
        question["explanations"] = feedback
    if general:
        question["answer"] = general
    elif len(correct) == 1:
        question["answer"] = _made_answer([choices[correct[0]]], feedback[correct[0]])
    else:
        question["answer"] = _made_answer([choices[i] for i in correct], "")
    return question


def _plain_weights(weights: list[float], correct: list[int]) -> bool:
    """Weights that say no more than which choices are right (see the docstring)."""
    if all(w in (0, 100) for w in weights):
        return True
    share = 100 / len(correct)
    return all(abs(w - share) < 0.001 if i in correct else w == -100 for i, w in enumerate(weights))


def _made_answer(right: list[str], feedback: str) -> str:
    if len(right) == 1:
        answer = f"The answer is: {right[0]}"
    else:
        answer = "The answers are:\n" + "\n".join(f"- {choice}" for choice in right)
    return f"{answer}\n\n{feedback}" if feedback else answer


def _true_false(
    prompt: str, answers: str, escapes: _Escapes, text_format: str, general: str | None
) -> dict[str, Any]:
    head, *comments = answers.split("#")
    if len(comments) > 2:
        raise _Reject("A true/false answer takes two feedbacks at most: `{T#if wrong#if right}`.")
    correct = _TRUE_FALSE[head.strip().upper()]
    wrong, right = ([_text(c, escapes, text_format)[1] for c in comments] + ["", ""])[:2]
    question: dict[str, Any] = {
        "prompt": prompt,
        "type": "true_false",
        "choices": ["True", "False"],
        "correct_choices": [correct],
    }
    if wrong and right:
        question["explanations"] = [right, wrong] if correct == 0 else [wrong, right]
    question["answer"] = general or _made_answer([("True", "False")[correct]], right)
    return question


def _short_answer(
    prompt: str, answers: str, escapes: _Escapes, text_format: str, general: str | None
) -> dict[str, Any]:
    phrasings: list[str] = []
    for mark, raw in _answers(answers):
        weight, raw = _weighed(mark, raw)
        text = _text(raw.partition("#")[0], escapes, text_format)[1]
        if not text:
            raise _Reject("An answer is empty.")
        if weight == 100 and text not in phrasings:
            phrasings.append(text)
    if not phrasings:
        raise _Reject("No answer is worth 100%: a short-answer question needs one.")
    return {
        "prompt": prompt,
        "type": "open",
        "answer": general or phrasings[0],
        "key_points": [{"text": phrasings[0], "alternatives": phrasings[1:], "contradictions": []}],
    }


def _complete(
    question: dict[str, Any],
    note: dict[str, Any],
    title: str | None,
    tags: list[str],
    parsed: Parsed,
    category: tuple[str, str] | None,
    document: str,
    position: int,
) -> None:
    """The fields GIFT does not say: from the note, the title, the category, the source."""
    slug = title_slug(title)
    if slug:
        question["slug"] = slug
    tag_slugs = [slugify(t, max_length=64) for t in tags if re.search("[A-Za-z0-9]", t)]
    if tag_slugs:
        question["tags"] = list(dict.fromkeys(tag_slugs))
    if "topics" not in note and category is not None:
        kind, value = category
        topic = value if kind == "topic" else parsed.topic_for_category(value)
        if topic:
            question["topics"] = [topic]
    question["sources"] = [{"document": document, "position": position}]
    question.update(note)


# ---------------------------------------------------------------------------- writing


def export_gift(questions: Iterable[dict[str, Any]], topics: Mapping[str, dict]) -> Iterator[str]:
    """GIFT text of bank-shaped questions, a chunk at a time (a header, then each
    question with the category and topic lines it needs before it)."""
    yield (
        "// Question bank export in GIFT (Moodle). Lines starting `// qbank` carry what\n"
        "// GIFT cannot say; Moodle ignores them, an import into the bank reads them.\n\n"
    )
    category: object = _UNSET
    declared: set[str] = set()
    for question in questions:
        lines: list[str] = []
        slugs = list(question.get("topics") or [])
        first = slugs[0] if slugs else None
        if first != category:
            category = first
            if first is None:
                lines.append(f"$CATEGORY: {_DEFAULT_CATEGORY}\n\n")
            else:
                topic = _topic(first, topics)
                declared.add(first)
                lines.append(f"// qbank-topic: {_json(topic)}\n")
                lines.append(f"$CATEGORY: $course$/top/{topic['name'].replace('/', '//')}\n\n")
        for slug in slugs:
            if slug not in declared:
                declared.add(slug)
                lines.append(f"// qbank-topic: {_json(_topic(slug, topics))}\n")
        lines.append(f"// qbank: {meta_text(question)}\n")
        lines.append(_question_text(question))
        yield "".join(lines) + "\n\n"


def _topic(slug: str, topics: Mapping[str, dict]) -> dict[str, str]:
    found = topics.get(slug) or {}
    return {
        "slug": slug,
        "name": found.get("name") or slug,
        "description": found.get("description") or "",
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _escaped(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = re.sub(r"[\\~=#{}:]", lambda m: "\\" + m.group(), text)
    return out.replace("\n", "\\n")


def _piece(text: str) -> str:
    """An answer or feedback: escaped, and marked Markdown when it could be read as a
    `[format]` or `%weight%` prefix."""
    escaped = _escaped(text)
    return f"[markdown]{escaped}" if escaped[:1] in ("[", "%") else escaped


def _weight(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def _question_text(question: dict[str, Any]) -> str:
    head = f"[markdown]{_escaped(question['prompt'])}"
    if question.get("slug"):
        head = f"::{_escaped(question['slug'])}::{head}"
    general = f"####[markdown]{_escaped(question['answer'])}"
    kind = question.get("type") or "open"
    explanations = question.get("explanations") or []
    if kind == "true_false":
        correct = (question.get("correct_choices") or [0])[0]
        mark = "TRUE" if correct == 0 else "FALSE"
        if len(explanations) == 2:
            right, wrong = explanations[correct], explanations[1 - correct]
            mark += f"#{_piece(wrong)}#{_piece(right)}"
        return f"{head}{{{mark}\n{general}\n}}"
    if kind == "multiple_choice":
        choices = question.get("choices") or []
        correct = set(question.get("correct_choices") or [])
        weights = question.get("choice_weights")
        answers = []
        for i, choice in enumerate(choices):
            if weights:
                mark = f"~%{_weight(weights[i])}%"
            elif len(correct) <= 1:
                mark = "=" if i in correct else "~"
            else:
                mark = f"~%{_weight(100 / len(correct))}%" if i in correct else "~%-100%"
            answer = mark + _piece(choice)
            if len(explanations) == len(choices):
                answer += f"#{_piece(explanations[i])}"
            answers.append(answer)
        return head + "{\n" + "\n".join(answers) + f"\n{general}\n}}"
    return f"{head}{{{general}}}"
