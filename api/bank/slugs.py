"""Question slugs: made from a prompt, and allocated free of those already taken.

One allocator serves every write that derives slugs (POST /questions, imports of any
format, the seed file, the CLI), so they all name a second "What is Flask?" alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import select

from api.bank.models import Question
from api.extensions import db

SLUG_MAX = 80
# A slug with a numeric suffix: its base and the number (`what-is-flask-7`).
_SUFFIXED = re.compile(r"(.+)-([0-9]{1,18})")


def slugify(text: str, *, max_length: int = SLUG_MAX) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return (slug[:max_length].rstrip("-")) or "question"


class SlugAllocator:
    """Hands out `base`, then `base-N` with N one more than the highest suffix taken.

    Every slug taken is indexed by its base (`what-is-flask-7` under `what-is-flask`), so
    an allocation is one look-up, never a probe of -2, -3, ... one by one: n prompts
    that read alike cost O(n) in all, whatever the bank already holds. A suffix freed by
    a deletion is not reused. Slugs taken later (explicit slugs of an import) are added
    with `take`.
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken: set[str] = set()
        self._top_suffix: dict[str, int] = {}
        self.take(taken)

    @classmethod
    def for_base(cls, base: str) -> SlugAllocator:
        """An allocator that knows the slugs of the bank `base` could collide with."""
        like = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        taken = db.session.scalars(
            select(Question.slug).where(
                (Question.slug == base) | Question.slug.like(f"{like}-%", escape="\\")
            )
        )
        return cls(taken)

    @classmethod
    def for_bank(cls) -> SlugAllocator:
        return cls(db.session.scalars(select(Question.slug)))

    def take(self, slugs: Iterable[str]) -> None:
        for slug in slugs:
            self._note(slug)

    def _note(self, slug: str) -> None:
        self.taken.add(slug)
        if (suffixed := _SUFFIXED.fullmatch(slug)) is not None:
            base, number = suffixed.group(1), int(suffixed.group(2))
            if number > self._top_suffix.get(base, 1):
                self._top_suffix[base] = number

    def allocate(self, base: str) -> str:
        slug = base
        if slug in self.taken:
            slug = f"{base}-{self._top_suffix.get(base, 1) + 1}"
        self._note(slug)
        return slug

    def for_prompt(self, prompt: str) -> str:
        return self.allocate(slugify(prompt))
