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


_TAGS = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """Text of a small piece of HTML (question text, feedback), for a bank field."""
    import html as html_module

    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n", html)
    text = _TAGS.sub("", text)
    text = html_module.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()
