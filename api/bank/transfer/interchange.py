"""What the other platforms' formats (GIFT, Aiken, Moodle XML, QTI, Anki) share with the bank.

A parser of a foreign format turns a document into a `Parsed`: the items it could read,
each a question in the bank's own shape (the fields of `api.bank.payloads.QuestionIn`,
not validated yet) with its position in the document, the topics those items use, and
the items it could not read (`Rejected`, with the position and the reason: never dropped
silently). `api.bank.transfer.exchange` validates the items, then imports them all or
nothing, or only the valid ones with `on_error=skip`.

Positions count the document's questions from 1, in document order, the rejected ones
included, so that a report's "position 7" is the seventh question an editor sees.

Partial credit (GIFT `~%50%`, Moodle XML `fraction`) is kept in `choice_weights`: one
percentage (-100 to 100) per choice, or None when every correct choice is worth 100 and
every other 0 (the usual case: then the field is left out of the item).

An exporter reads questions in the bank's shape (`api.bank.editing.editable_fields`) one
at a time and yields text (or bytes) as it goes, so that a large bank streams.

What a foreign format cannot say (key points, difficulty, tags, several topics, sources,
a slug that differs from the title...) travels in a `qbank` note that the format carries
without showing it (a GIFT comment, a Moodle XML `<tags>` element...), see `META_KEYS`:
an export imports back unchanged, and a file from elsewhere imports without one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from api.bank.slugs import slugify

# The question fields a `qbank` note may carry, and nothing else (an unknown key in a
# note is ignored: the note is a hint from our own exports, not a second body format).
META_KEYS = (
    "slug",
    "alternate_prompts",
    "answer",
    "key_points",
    "note",
    "difficulty",
    "topics",
    "tags",
    "sources",
    "explanations",
    "related_group",
    "original_answer",
)
# Moodle's own top-level categories, which name no topic.
MOODLE_ROOTS = {"$course$", "$system$", "$module$", "$coursecategory$", "top", "default"}


class DocumentError(ValueError):
    """The document as a whole cannot be read in this format (nothing is imported): 400."""


class UnsafeDocument(DocumentError):
    """An XML document that declares entities or fetches external ones: refused (400)."""


class TooManyItems(DocumentError):
    """More questions in the document than one import takes (nothing is imported)."""

    def __init__(self, limit: int):
        super().__init__(f"More than {limit} questions.")
        self.limit = limit


@dataclass
class Item:
    position: int
    question: dict[str, Any]
    title: str | None = None


@dataclass
class Rejected:
    position: int
    reason: str
    title: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"position": self.position, "reason": self.reason}
        if self.title:
            found["title"] = self.title
        return found


@dataclass
class Parsed:
    items: list[Item] = field(default_factory=list)
    # Topics to create when missing: {"slug", "name", "description"}, by slug.
    topics: dict[str, dict[str, str]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)

    def topic_for_category(self, path: str) -> str | None:
        """The topic of a Moodle category path (`$course$/top/Flask/Routing`), created here.

        Each path becomes one topic: the slug is made of its segments (so that two
        `Basics` under different parents stay two topics), the name is the last segment,
        the description says where it came from. Moodle's own roots are left out; a path
        of roots alone names no topic.
        """
        segments = [s.strip() for s in split_category(path)]
        segments = [s for s in segments if s and s.lower() not in MOODLE_ROOTS]
        if not segments:
            return None
        slug = slugify("-".join(segments), max_length=64)
        if not slug:
            return None
        self.topics.setdefault(
            slug,
            {
                "slug": slug,
                "name": segments[-1][:120],
                "description": f"Moodle category {'/'.join(segments)}"[:2000],
            },
        )
        return slug


def split_category(path: str) -> list[str]:
    """A Moodle category path's segments: `/` separates them, `//` is a slash in a name."""
    return [s.replace("\x00", "/") for s in path.replace("//", "\x00").split("/")]


def title_slug(title: str | None) -> str | None:
    """A question's slug from its title (`::title::` in GIFT, `<name>` in Moodle XML)."""
    if not title:
        return None
    return slugify(title) or None


def meta_text(question: dict[str, Any]) -> str:
    """The `qbank` note of a question: one line of JSON, its fields a format cannot hold."""
    meta = {k: question[k] for k in META_KEYS if k in question}
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def read_meta(text: str) -> dict[str, Any]:
    """The fields of a `qbank` note (`{}` when it is not one of ours, or not valid JSON)."""
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if k in META_KEYS}


# Elements that start a paragraph of their own (and end it).
_BLOCKS = frozenset(
    "p div section article header footer aside nav main blockquote figure figcaption "
    "h1 h2 h3 h4 h5 h6 table thead tbody tfoot caption dl dt dd hr address form fieldset "
    "details summary".split()
)
# Private-use placeholders: never in a bank field (SafeString refuses C0 controls), so
# they cannot be confused with the text itself.
_PRE = "\x00"
_INDENT = "\x01"


class _TextOf(HTMLParser):
    """The text of a piece of HTML, as `html_to_text` describes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.blocks: list[str] = []  # the text of each <pre>, by placeholder number
        self.pre: list[str] | None = None  # the <pre> being read
        self.pre_depth = 0
        self.code_depth = 0
        self.skip_depth = 0  # inside <script>, <style>, <template>
        self.lists: list[list] = []  # [tag, items so far] of each open <ul>/<ol>
        self.links: list[str] = []  # the href of each open <a>

    def _text(self, text: str) -> None:
        text = re.sub(r"\s+", " ", text)
        last = self.parts[-1][-1:] if self.parts and self.parts[-1] else "\n"
        if last in (" ", "\n", _INDENT) and text.startswith(" "):
            text = text[1:]
        if text:
            self.parts.append(text)

    def _break(self, lines: str) -> None:
        self.parts.append(lines)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "template"):
            self.skip_depth += 1
        elif self.pre is not None:
            if tag == "pre":
                self.pre_depth += 1
            elif tag == "br":
                self.pre.append("\n")
        elif tag == "pre":
            self.pre, self.pre_depth = [], 1
        elif tag == "br":
            self._break("\n")
        elif tag == "code":
            self.code_depth += 1
            if self.code_depth == 1:
                self.parts.append("`")
        elif tag in ("ul", "ol"):
            if not self.lists:  # a nested list starts on its first item's line
                self._break("\n\n")
            self.lists.append([tag, 0])
        elif tag == "li":
            kind, count = self.lists[-1] if self.lists else ("ul", 0)
            if self.lists:
                self.lists[-1][1] = count + 1
            marker = f"{count + 1}. " if kind == "ol" else "- "
            self._break("\n" + _INDENT * max(len(self.lists) - 1, 0) + marker)
        elif tag == "img":
            found = dict(attrs)
            if found.get("src"):  # kept as Markdown: the text may need the picture
                self.parts.append(f"![{_one_line(found.get('alt') or '')}]({found['src']})")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append(href)
            if href:
                self.parts.append("[")
        elif tag == "tr":
            self._break("\n")
        elif tag in ("td", "th"):
            self._text(" ")
        elif tag in _BLOCKS:
            self._break("\n\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("br", "img") or tag in _BLOCKS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self.skip_depth = max(self.skip_depth - 1, 0)
        elif self.pre is not None:
            if tag == "pre":
                self.pre_depth -= 1
                if self.pre_depth == 0:
                    self._close_pre()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.parts.append(f"]({href})")
        elif tag == "code" and self.code_depth:
            self.code_depth -= 1
            if self.code_depth == 0:
                self.parts.append("`")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            if not self.lists:
                self._break("\n\n")
        elif tag in _BLOCKS:
            self._break("\n\n")

    def _close_pre(self) -> None:
        assert self.pre is not None
        code = "".join(self.pre).strip("\n")
        self.pre = None
        self.blocks.append(code)
        self._break(f"\n\n```\n{_PRE}{len(self.blocks) - 1}{_PRE}\n```\n\n")

    def handle_data(self, data: str) -> None:
        data = data.replace(_PRE, "").replace(_INDENT, "")
        if self.skip_depth:
            return
        if self.pre is not None:
            self.pre.append(data)
        else:
            self._text(data)

    def result(self) -> str:
        if self.pre is not None:  # an unclosed <pre>: what it holds is still text
            self._close_pre()
        lines = [line.strip(" ").replace(_INDENT, "  ") for line in "".join(self.parts).split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        return re.sub(f"{_PRE}([0-9]+){_PRE}", lambda found: self.blocks[int(found.group(1))], text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """The text of a piece of HTML (question text, feedback), for a bank field (Markdown).

    Paragraphs and other blocks are separated by a blank line, `<br>` breaks the line,
    list items become `- ` (or `1. `) lines, `<code>` becomes backticks and `<pre>` a
    fenced block that keeps its whitespace, links and images become Markdown links and
    images (`[text](href)`, `![alt](src)`); entities are decoded, other tags dropped
    (the text of `<script>` and `<style>` with them), and runs of blanks outside `<pre>`
    become one space. Written on the standard library's tolerant `html.parser`: broken
    HTML still yields its text.
    """
    reader = _TextOf()
    reader.feed(html)
    reader.close()
    return reader.result()


def plain_text(html: str) -> str:
    """Text of a small piece of HTML (question text, feedback), for a bank field."""
    return html_to_text(html)
