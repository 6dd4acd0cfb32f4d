"""Moodle XML (docs.moodle.org/en/Moodle_XML_format): a question bank's import and export.

`parse_moodle_xml` reads a Moodle question bank export (`<quiz>` of `<question>`s) into
a `Parsed` of bank-shaped items (see `interchange`):

* `category` pseudo-questions set the topic of the questions after them (the category
  path becomes a topic, its `<info>` the topic's description);
* `multichoice` becomes multiple_choice (fraction > 0 marks a correct choice; partial
  credit that is not the plain all-or-nothing case is kept in `choice_weights`),
  `truefalse` becomes true_false, `shortanswer` an open question graded on its accepted
  answers (as one key point and its alternatives), `essay` an open question whose answer
  is the grader information (or the general feedback);
* every other type is rejected with the reason, and so is a question that embeds files
  (`@@PLUGINFILE@@`, `<file>`): the text without them could be wrong or meaningless.

The XML is read with defusedxml: a document that declares entities or refers to
external ones is refused (`UnsafeDocument`), however harmless it looks.

`export_moodle_xml` writes the bank's questions as Moodle XML that Moodle's importer
accepts (elements in the order Moodle's own exporter writes them): open questions as
essays, the others as multichoice and truefalse, each topic as a category. What Moodle
cannot hold travels in XML comments Moodle ignores: `<!-- qbank: {...} -->` in each
question (the `interchange.META_KEYS` fields) and `<!-- qbank-topic: {...} -->` for the
topics, so that an export imports back unchanged.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as SafeET

from api.bank.slugs import slugify
from api.bank.transfer.interchange import (
    DocumentError,
    Item,
    Parsed,
    Rejected,
    TooManyItems,
    UnsafeDocument,
    html_to_text,
    meta_text,
    read_meta,
    title_slug,
)

NOTE = "qbank:"
TOPIC_NOTE = "qbank-topic:"
EMBEDDED_FILE = "@@PLUGINFILE@@"

# Why a Moodle question type is not imported (any type not named here or handled below
# is refused as unknown).
UNSUPPORTED = {
    "numerical": "numerical questions are not supported",
    "match": "matching questions are not supported",
    "matching": "matching questions are not supported",
    "cloze": "cloze (embedded answers) questions are not supported",
    "multianswer": "cloze (embedded answers) questions are not supported",
    "calculated": "calculated questions are not supported",
    "calculatedsimple": "calculated questions are not supported",
    "calculatedmulti": "calculated questions are not supported",
    "ddwtos": "drag and drop into text questions are not supported",
    "gapselect": "select missing words questions are not supported",
    "ddimageortext": "drag and drop onto image questions are not supported",
    "ddmarker": "drag and drop markers questions are not supported",
    "randomsamatch": "random short-answer matching questions are not supported",
    "random": "random questions are not supported",
    "description": "a description is not a question",
}

# Tolerance when comparing Moodle fractions, which it writes with 7 significant digits.
_FRACTION_TOLERANCE = 0.01


class _Reject(Exception):
    """A question that cannot be imported, and why (becomes a `Rejected`)."""


# ---------------------------------------------------------------------------- import


def parse_moodle_xml(
    data: bytes | str, *, document: str = "import", max_items: int | None = None
) -> Parsed:
    """The questions of a Moodle XML document, in the bank's shape (see the module doc).

    Raises `UnsafeDocument` for a document that declares entities or refers to external
    ones, `DocumentError` for one that is not well-formed XML or not a `<quiz>`, and
    `TooManyItems` as soon as question `max_items + 1` is found.
    """
    root = _read_xml(data)
    parsed = Parsed()
    category: _Category | None = None
    position = 0
    for element in root:
        if element.tag != "question":
            continue  # comments (Moodle writes `<!-- question: 12 -->`), stray elements
        kind = (element.get("type") or "").strip().lower()
        if kind == "category":
            category = _category(element, parsed) or category
            continue
        position += 1
        if max_items is not None and position > max_items:
            raise TooManyItems(max_items)
        _declare_topics(element, parsed)
        title = _text_of(element.find("name")) or None
        try:
            question = _question(element, kind)
        except _Reject as reason:
            parsed.rejected.append(Rejected(position, str(reason), title))
            continue
        slug = title_slug(title)
        if slug:
            question["slug"] = slug
        question["sources"] = [{"document": document, "position": position}]
        question.update(_note(element))
        if "topics" not in question and category is not None:
            topic = category.topic(parsed)
            if topic is not None:
                question["topics"] = [topic]
        parsed.items.append(Item(position, _without_empty(question), title))
    return parsed


def _read_xml(data: bytes | str) -> ET.Element:
    parser = SafeET.XMLParser(
        target=ET.TreeBuilder(insert_comments=True),
        forbid_dtd=False,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        parser.feed(data)
        root = parser.close()
    except defusedxml.DefusedXmlException as exc:
        raise UnsafeDocument(
            "The document declares or refers to XML entities, which are not accepted."
        ) from exc
    except ET.ParseError as exc:
        raise DocumentError(f"Not well-formed XML: {exc}.") from exc
    if root.tag != "quiz":
        raise DocumentError(f"A Moodle XML document is a <quiz>, not a <{root.tag}>.")
    return root


def _comments(element: ET.Element, prefix: str) -> Iterator[str]:
    """The text after `prefix` of each comment of `element` (its children) that has it."""
    for child in element:
        if child.tag is ET.Comment:
            text = (child.text or "").strip()
            if text.startswith(prefix):
                yield text[len(prefix) :].strip()


def _note(element: ET.Element) -> dict[str, Any]:
    """The fields of the question's `qbank` note (a null field removes the key)."""
    found: dict[str, Any] = {}
    for text in _comments(element, NOTE):
        found.update(read_meta(text))
    return found


def _topic_note(text: str) -> dict[str, str] | None:
    try:
        topic = json.loads(text)
    except ValueError:
        return None
    if not isinstance(topic, dict) or not isinstance(topic.get("slug"), str):
        return None
    slug = topic["slug"]
    name = topic.get("name") if isinstance(topic.get("name"), str) else slug
    description = topic.get("description")
    return {
        "slug": slug,
        "name": name,
        "description": description if isinstance(description, str) else "",
    }


def _declare_topics(element: ET.Element, parsed: Parsed) -> str | None:
    """Topics declared exactly by `qbank-topic` notes in `element`; the last one's slug."""
    last = None
    for text in _comments(element, TOPIC_NOTE):
        topic = _topic_note(text)
        if topic is not None:
            parsed.topics[topic["slug"]] = topic
            last = topic["slug"]
    return last


@dataclass
class _Category:
    """The category of the questions that follow: its topic is made when one is imported
    (a category that only holds other categories, or rejected questions, names none)."""

    path: str = ""
    info: str = ""
    slug: str | None = None
    resolved: bool = False

    def topic(self, parsed: Parsed) -> str | None:
        if not self.resolved:
            self.resolved = True
            self.slug = parsed.topic_for_category(self.path)
            if self.slug is not None and self.info:
                parsed.topics[self.slug]["description"] = self.info[:2000]
        return self.slug


def _category(element: ET.Element, parsed: Parsed) -> _Category | None:
    """The category a category pseudo-question sets (None: it sets none, nothing changes).

    A `qbank-topic` note in it declares its topic exactly, else the path is the topic.
    """
    declared = _declare_topics(element, parsed)
    if declared is not None:
        return _Category(slug=declared, resolved=True)
    path = _text_of(element.find("category"))
    if not path:
        return None
    return _Category(path, _formatted(element.find("info")))


def _text_of(element: ET.Element | None) -> str:
    """The `<text>` of an element (Moodle writes text that way), stripped as Moodle does."""
    if element is None:
        return ""
    text = element.find("text")
    if text is None:
        return ""
    return "".join(text.itertext()).strip()


def _formatted(element: ET.Element | None, default: str = "html") -> str:
    """The text of an element that has a `format`, as bank text (Markdown)."""
    if element is None:
        return ""
    return _convert(_text_of(element), element.get("format") or default)


def _convert(text: str, text_format: str) -> str:
    text_format = text_format.strip().lower()
    if text_format in ("markdown", "plain_text"):
        return text.strip()
    if text_format == "moodle_auto_format":  # HTML allowed, and line breaks kept
        return html_to_text(text.replace("\r\n", "\n").replace("\n", "<br>"))
    return html_to_text(text)  # html, and what Moodle also reads as HTML


def _has_embedded_files(element: ET.Element) -> bool:
    if element.find(".//file") is not None:
        return True
    return any(EMBEDDED_FILE in (node.text or "") for node in element.iter("text"))


def _question(element: ET.Element, kind: str) -> dict[str, Any]:
    """The bank-shaped question of a `<question>` (without slug, topics and sources)."""
    reader = _READERS.get(kind)
    if reader is None:
        raise _Reject(UNSUPPORTED.get(kind) or f"question type '{kind}' is not supported")
    if _has_embedded_files(element):
        raise _Reject("embedded files are not supported")
    text = element.find("questiontext")
    default = (text.get("format") if text is not None else None) or "html"
    prompt = _formatted(text, default)
    if not prompt:
        raise _Reject("the question has no text")
    question: dict[str, Any] = {"prompt": prompt}
    question.update(reader(element, default))
    question["tags"] = _tags(element)
    return question


def _general_feedback(element: ET.Element, default: str) -> str:
    return _formatted(element.find("generalfeedback"), default)


def _fraction(answer: ET.Element) -> float:
    try:
        value = float(answer.get("fraction") or 0)
    except ValueError as exc:
        raise _Reject(f"fraction {answer.get('fraction')!r} is not a number") from exc
    if not math.isfinite(value):
        raise _Reject(f"fraction {answer.get('fraction')!r} is not a number")
    return value


def _weight(value: float) -> int | float:
    rounded = round(value, 5)
    return int(rounded) if rounded.is_integer() else rounded


def _feedbacks(answers: list[ET.Element], default: str) -> list[str] | None:
    """Each answer's feedback, when every answer has one."""
    found = [_formatted(answer.find("feedback"), default) for answer in answers]
    return found if all(found) else None


def _answer_from_choices(choices: list[str], correct: list[int]) -> str:
    if len(correct) == 1:
        return f"Correct answer: {choices[correct[0]]}"
    return "Correct answers:\n" + "\n".join(f"- {choices[i]}" for i in correct)


def _plain_weights(fractions: list[float], single: bool) -> bool:
    """Whether the fractions say no more than which choices are correct.

    True when every other choice is worth 0 and the correct ones are worth 100 each, or
    (several answers allowed) share 100 equally, as our export writes them.
    """
    positive = [f for f in fractions if f > 0]
    if any(f != 0 for f in fractions if f <= 0):
        return False
    if all(abs(f - 100) < _FRACTION_TOLERANCE for f in positive):
        return True
    share = 100 / len(positive)
    return not single and all(abs(f - share) < _FRACTION_TOLERANCE for f in positive)


def _multichoice(element: ET.Element, default: str) -> dict[str, Any]:
    answers = element.findall("answer")
    if len(answers) < 2:
        raise _Reject("a multiple-choice question needs at least two answers")
    choices = [_formatted(answer, default) for answer in answers]
    if not all(choices):
        raise _Reject("an answer has no text")
    fractions = [_fraction(answer) for answer in answers]
    correct = [i for i, fraction in enumerate(fractions) if fraction > 0]
    if not correct:
        raise _Reject("no answer is marked correct (a fraction above 0)")
    single = (_plain(element, "single") or "true").lower() not in ("false", "0", "")
    question: dict[str, Any] = {
        "type": "multiple_choice",
        "choices": choices,
        "correct_choices": correct,
        "answer": _general_feedback(element, default) or _answer_from_choices(choices, correct),
        "explanations": _feedbacks(answers, default),
    }
    if not _plain_weights(fractions, single):
        question["choice_weights"] = [_weight(f) for f in fractions]
    return question


def _truefalse(element: ET.Element, default: str) -> dict[str, Any]:
    answers = element.findall("answer")
    if len(answers) != 2:
        raise _Reject("a true/false question has two answers, true and false")
    by_value: dict[str, ET.Element] = {}
    for index, answer in enumerate(answers):
        value = _plain(answer, "text").lower()
        if value not in ("true", "false"):  # old exports: true first, then false (as Moodle)
            value = "true" if index == 0 else "false"
        by_value[value] = answer
    if len(by_value) != 2:
        raise _Reject("a true/false question has two answers, true and false")
    ordered = [by_value["true"], by_value["false"]]
    correct = [i for i, answer in enumerate(ordered) if _fraction(answer) > 0]
    if len(correct) != 1:
        raise _Reject("exactly one of true and false must be correct")
    choices = ["True", "False"]
    return {
        "type": "true_false",
        "choices": choices,
        "correct_choices": correct,
        "answer": _general_feedback(element, default) or _answer_from_choices(choices, correct),
        "explanations": _feedbacks(ordered, default),
    }


def _shortanswer(element: ET.Element, default: str) -> dict[str, Any]:
    accepted: list[str] = []
    for answer in element.findall("answer"):
        text = _plain(answer, "text")
        if text and abs(_fraction(answer) - 100) < _FRACTION_TOLERANCE and text not in accepted:
            accepted.append(text)
    if not accepted:
        raise _Reject("no answer is worth 100%")
    return {
        "type": "open",
        "answer": accepted[0],
        "key_points": [{"text": accepted[0], "alternatives": accepted[1:], "contradictions": []}],
    }


def _essay(element: ET.Element, default: str) -> dict[str, Any]:
    answer = _formatted(element.find("graderinfo"), default) or _general_feedback(element, default)
    if not answer:
        raise _Reject("an essay without grader information or general feedback has no answer")
    return {"type": "open", "answer": answer}


_READERS = {
    "multichoice": _multichoice,
    "truefalse": _truefalse,
    "shortanswer": _shortanswer,
    "essay": _essay,
}


def _plain(element: ET.Element, tag: str) -> str:
    """The text of child `tag`, or of its `<text>` (Moodle writes both), stripped."""
    child = element.find(tag)
    if child is None:
        return ""
    inner = child.find("text")
    return "".join((inner if inner is not None else child).itertext()).strip()


def _tag_slug(text: str) -> str | None:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    if not re.search(r"[a-z0-9]", ascii_text.lower()):
        return None  # slugify would name it "question"
    return slugify(text, max_length=64)


def _tags(element: ET.Element) -> list[str]:
    found: list[str] = []
    for tag in element.findall("tags/tag"):
        slug = _tag_slug(_plain(tag, "text"))
        if slug and slug not in found:
            found.append(slug)
    return found


def _without_empty(question: dict[str, Any]) -> dict[str, Any]:
    """The question without keys that hold no value (`sources: []` is a value: none)."""
    return {
        key: value
        for key, value in question.items()
        if value is not None and (value != [] or key == "sources")
    }


# ---------------------------------------------------------------------------- export

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n'
# The category of questions without a topic: "Default" is one of Moodle's own names
# (`interchange.MOODLE_ROOTS`), so it imports back as no topic.
_NO_TOPIC_CATEGORY = "$course$/top/Default"


def export_moodle_xml(
    questions: Iterable[dict[str, Any]], topics: Mapping[str, dict[str, Any]]
) -> Iterator[str]:
    """Moodle XML of `questions` (bank-shaped), in chunks: the header, one per question
    (with the category before it when its first topic differs from the previous
    question's), the footer. `topics` maps a slug to {"slug", "name", "description"}."""
    yield _XML_DECLARATION
    current: object = object()
    declared: set[str] = set()
    for question in questions:
        chunk: list[str] = []
        first = (question.get("topics") or [None])[0]
        if first != current:
            chunk.append(_category_xml(first, topics))
            current = first
            if first is not None and first in topics:
                declared.add(first)
        # Further topics are declared where first used, without changing the category.
        notes = []
        for slug in question.get("topics") or []:
            if slug not in declared and slug in topics:
                notes.append(_topic_comment(topics[slug]))
                declared.add(slug)
        chunk.append(_question_xml(question, notes))
        yield "".join(chunk)
    yield "</quiz>\n"


def _comment_safe(text: str) -> str:
    """JSON text fit for an XML comment, which cannot hold `--`: a `-` followed by another
    becomes `\\u002d` (a hyphen is only ever in a string or before a number's digits, and
    in a string the escape is the same character: the JSON means the same)."""
    return re.sub("-(?=-)", r"\\u002d", text)


def _comment_json(value: Any) -> str:
    return _comment_safe(
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    )


def _topic_comment(topic: Mapping[str, Any]) -> str:
    declared = {
        "slug": topic["slug"],
        "name": topic.get("name") or topic["slug"],
        "description": topic.get("description") or "",
    }
    return f"    <!-- {TOPIC_NOTE} {_comment_json(declared)} -->\n"


def _text_xml(text: str, indent: int) -> str:
    """`<text>` holding `text` exactly: CDATA when it has markup characters (split where
    it holds `]]>`), escaped otherwise (and always when it holds a carriage return,
    which XML would turn into a line feed: `&#13;` keeps it)."""
    pad = " " * indent
    if "\r" not in text and re.search("[<>&]", text):
        body = "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    else:
        body = escape(text).replace("\r", "&#13;")
    return f"{pad}<text>{body}</text>\n"


def _formatted_xml(tag: str, text: str, indent: int = 4, text_format: str = "markdown") -> str:
    pad = " " * indent
    return (
        f"{pad}<{tag} format={quoteattr(text_format)}>\n"
        f"{_text_xml(text, indent + 2)}"
        f"{pad}</{tag}>\n"
    )


def _category_path(name: str) -> str:
    return "$course$/top/" + name.replace("/", "//")


def _category_xml(slug: str | None, topics: Mapping[str, dict[str, Any]]) -> str:
    topic = topics.get(slug) if slug is not None else None
    if slug is None:
        path, note, info = _NO_TOPIC_CATEGORY, "", ""
    elif topic is None:
        path, note, info = _category_path(slug), "", ""
    else:
        path = _category_path(topic.get("name") or slug)
        note = _topic_comment(topic)
        info = topic.get("description") or ""
    return (
        '  <question type="category">\n'
        f"{note}"
        "    <category>\n"
        f"{_text_xml(path, 6)}"
        "    </category>\n"
        f"{_formatted_xml('info', info)}"
        "    <idnumber></idnumber>\n"
        "  </question>\n"
    )


# The grades Moodle takes for an answer (`question_bank::fraction_options_full`), in %:
# its importer refuses a question with any other (33 is refused, 33.33333 taken).
MOODLE_GRADES = sorted(
    {
        sign * grade
        for grade in (100, 90, 83.33333, 80, 75, 70, 66.66667, 60, 50, 40, 33.33333, 30, 25)
        + (20, 16.66667, 14.28571, 12.5, 11.11111, 10, 5, 0)
        for sign in (1, -1)
    }
)


def moodle_grade(value: float) -> float:
    """The Moodle grade nearest a percentage (100/3 is 33.33333; 33 is 33.33333 too)."""
    return min(MOODLE_GRADES, key=lambda grade: (abs(grade - value), -grade))


def _fraction_xml(value: float) -> str:
    return format(value, ".7g")


def _fractions(question: dict[str, Any]) -> list[float]:
    choices = question.get("choices") or []
    weights = question.get("choice_weights")
    if weights:  # one per choice; a choice without a weight is worth 0
        found = [float(w) for w in weights[: len(choices)]]
        found += [0.0] * (len(choices) - len(found))
    else:
        correct = set(question.get("correct_choices") or [])
        share = 100 / len(correct) if correct else 0
        found = [share if i in correct else 0 for i in range(len(choices))]
    return [moodle_grade(fraction) for fraction in found]


def _answer_xml(text: str, fraction: float, feedback: str, text_format: str) -> str:
    return (
        f'    <answer fraction="{_fraction_xml(fraction)}" format="{text_format}">\n'
        f"{_text_xml(text, 6)}"
        f"{_formatted_xml('feedback', feedback, 6)}"
        "    </answer>\n"
    )


def _question_xml(question: dict[str, Any], notes: list[str]) -> str:
    kind = question.get("type") or "open"
    moodle_type = {"open": "essay", "multiple_choice": "multichoice", "true_false": "truefalse"}[
        kind
    ]
    penalty = {"essay": "0", "multichoice": "0.3333333", "truefalse": "1"}[moodle_type]
    name = question.get("slug") or slugify(question["prompt"])
    answer = question.get("answer") or ""
    parts = [
        f'  <question type="{moodle_type}">\n',
        f"    <!-- {NOTE} {_comment_safe(meta_text(question))} -->\n",
        *notes,
        "    <name>\n",
        _text_xml(name, 6),
        "    </name>\n",
        _formatted_xml("questiontext", question["prompt"]),
        _formatted_xml("generalfeedback", answer),
        "    <defaultgrade>1</defaultgrade>\n",
        f"    <penalty>{penalty}</penalty>\n",
        "    <hidden>0</hidden>\n",
        "    <idnumber></idnumber>\n",
    ]
    explanations = question.get("explanations") or []
    if moodle_type == "essay":
        parts += [
            "    <responseformat>editor</responseformat>\n",
            "    <responserequired>1</responserequired>\n",
            "    <responsefieldlines>10</responsefieldlines>\n",
            "    <attachments>0</attachments>\n",
            "    <attachmentsrequired>0</attachmentsrequired>\n",
            _formatted_xml("graderinfo", answer),
            _formatted_xml("responsetemplate", ""),
        ]
    elif moodle_type == "truefalse":
        correct = (question.get("correct_choices") or [0])[0]
        for index, value in enumerate(("true", "false")):
            feedback = explanations[index] if index < len(explanations) else ""
            fraction = 100 if index == correct else 0
            parts.append(_answer_xml(value, fraction, feedback, "moodle_auto_format"))
    else:
        choices = question.get("choices") or []
        fractions = _fractions(question)
        # One answer to pick (partial credit for others, maybe) when one is worth 100%;
        # several (their shares adding up to 100%) otherwise.
        single = any(fraction >= 100 for fraction in fractions)
        parts += [
            f"    <single>{'true' if single else 'false'}</single>\n",
            "    <shuffleanswers>true</shuffleanswers>\n",
            "    <answernumbering>abc</answernumbering>\n",
            "    <showstandardinstruction>0</showstandardinstruction>\n",
            _formatted_xml("correctfeedback", "Your answer is correct."),
            _formatted_xml("partiallycorrectfeedback", "Your answer is partially correct."),
            _formatted_xml("incorrectfeedback", "Your answer is incorrect."),
            "    <shownumcorrect/>\n",
        ]
        for index, (choice, fraction) in enumerate(zip(choices, fractions, strict=True)):
            feedback = explanations[index] if index < len(explanations) else ""
            parts.append(_answer_xml(choice, fraction, feedback, "markdown"))
    tags = question.get("tags") or []
    if tags:
        parts.append("    <tags>\n")
        for tag in tags:
            parts += ["      <tag>\n", _text_xml(tag, 8), "      </tag>\n"]
        parts.append("    </tags>\n")
    parts.append("  </question>\n")
    return "".join(parts)
