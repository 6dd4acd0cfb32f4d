"""Export to an Anki package (.apkg) with genanki: one card per question, to study them.

- Decks: one per topic, named `<bank name>::<topic name>` (`::` makes it a subdeck of
  the bank's deck in Anki). A question goes in the deck of its first topic; its other
  topics become tags (`topic::<slug>`). A question with no topic goes in the bank's deck.
- Note type "Question bank card": fields Prompt, Choices, Correct, Answer, Note, Slug.
  The front shows the prompt and, for choice questions, the lettered choices; the back
  adds the correct choice(s), the answer and the note.
- Stable ids, so that importing a newer export updates the notes instead of adding
  copies: the note type's id and each deck's id are derived from a hash of a fixed
  string (`qbank/anki/model/v1`, `qbank/anki/deck/<deck name>`), and each note's guid
  is `genanki.guid_for(slug)`. Changing the note type's fields needs a new model key
  (v2): Anki matches notes by guid only when the note types have the same fields.
- Tags: the question's tags (slugs, so without spaces, as Anki requires), plus the
  topics above and `difficulty::<level>`.
- Texts are the bank's Markdown shown minimally: HTML-escaped, line breaks as <br>,
  `code` spans as <code>, fenced blocks as <pre><code>. Nothing else is interpreted,
  so no markup from a question reaches Anki unescaped.

genanki builds the collection in memory (an SQLite database) and writes the .apkg at
the end; a bank of a few thousand questions is small for it.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import genanki

MODEL_KEY = "qbank/anki/model/v1"
FIELDS = ("Prompt", "Choices", "Correct", "Answer", "Note", "Slug")
FRONT = (
    '<div class="prompt">{{Prompt}}</div>'
    '{{#Choices}}<div class="choices">{{Choices}}</div>{{/Choices}}'
)
BACK = (
    '{{FrontSide}}<hr id="answer">'
    '{{#Correct}}<div class="correct">{{Correct}}</div>{{/Correct}}'
    '<div class="answer">{{Answer}}</div>'
    '{{#Note}}<div class="note">{{Note}}</div>{{/Note}}'
)
CSS = """.card { font-family: sans-serif; font-size: 18px; text-align: left; }
.choices ol { list-style-type: upper-alpha; }
.correct { font-weight: bold; margin-bottom: 0.5em; }
.note { color: #555; font-size: 0.9em; margin-top: 1em; }
code, pre { font-family: monospace; }
"""

_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")


def stable_id(key: str) -> int:
    """A model or deck id from a fixed string: in genanki's suggested range [2^30, 2^31)."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return (1 << 30) + digest % (1 << 30)


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return escaped.replace("\n", "<br>")


def markdown_html(text: str | None) -> str:
    """Minimal, safe HTML for a Markdown text: everything escaped, then line breaks,
    inline code and fenced code blocks made visible."""
    if not text:
        return ""
    text = text.strip().replace("\r\n", "\n")
    parts: list[str] = []
    last = 0
    for fence in _FENCE.finditer(text):
        parts.append(_inline(text[last : fence.start()].strip("\n")))
        parts.append(f"<pre><code>{html.escape(fence.group(1), quote=False)}</code></pre>")
        last = fence.end()
    parts.append(_inline(text[last:].strip("\n")))
    return "".join(part for part in parts if part)


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _tag(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip())


def _model() -> genanki.Model:
    return genanki.Model(
        stable_id(MODEL_KEY),
        "Question bank card",
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": "Question", "qfmt": FRONT, "afmt": BACK}],
        css=CSS,
    )


def _fields(question: dict[str, Any]) -> list[str]:
    kind = question.get("type", "open")
    choices_html = correct_html = ""
    if kind != "open":
        choices = question.get("choices") or ["True", "False"]
        items = "".join(f"<li>{markdown_html(choice)}</li>" for choice in choices)
        choices_html = f'<ol type="A">{items}</ol>'
        correct = [
            f"{_letter(i)}. {markdown_html(choices[i])}"
            for i in question.get("correct_choices") or []
            if 0 <= i < len(choices)
        ]
        correct_html = "<br>".join(correct)
    return [
        markdown_html(question["prompt"]),
        choices_html,
        correct_html,
        markdown_html(question.get("answer")),
        markdown_html(question.get("note")),
        html.escape(question.get("slug") or ""),
    ]


def export_anki(
    questions: Iterable[dict[str, Any]],
    topics: Mapping[str, dict[str, Any]],
    out_path: str | Path,
    *,
    bank_name: str = "Flask interview questions",
) -> int:
    """Write an Anki package of `questions` to `out_path`; the number of notes.

    `topics` maps topic slugs to topics ({"name": ...}) for the deck names.
    """
    model = _model()
    decks: dict[str, genanki.Deck] = {}

    def deck_for(name: str) -> genanki.Deck:
        if name not in decks:
            decks[name] = genanki.Deck(stable_id(f"qbank/anki/deck/{name}"), name)
        return decks[name]

    count = 0
    for question in questions:
        question_topics = list(question.get("topics") or [])
        if question_topics:
            first = question_topics[0]
            topic_name = (topics.get(first) or {}).get("name") or first
            deck = deck_for(f"{bank_name}::{topic_name}")
        else:
            deck = deck_for(bank_name)
        tags = [_tag(tag) for tag in question.get("tags") or []]
        tags += [f"topic::{_tag(slug)}" for slug in question_topics[1:]]
        if question.get("difficulty"):
            tags.append(f"difficulty::{_tag(question['difficulty'])}")
        slug = question.get("slug") or question["prompt"]
        deck.add_note(
            genanki.Note(
                model=model,
                fields=_fields(question),
                tags=list(dict.fromkeys(tag for tag in tags if tag)),
                guid=genanki.guid_for(slug),
            )
        )
        count += 1
    genanki.Package(list(decks.values())).write_to_file(str(out_path))
    return count
