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


def slugify(text: str, *, max_length: int = SLUG_MAX) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return (slug[:max_length].rstrip("-")) or "question"


class SlugAllocator:
    """Hands out `base`, `base-2`, `base-3`...: the first of those not taken.

    Each base remembers the last suffix it gave, so n prompts that read alike cost
    O(n) in all rather than O(n^2): the search for a free suffix resumes where the
    previous one stopped. Slugs taken later (explicit slugs of an import) are added
    with `take`.
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken: set[str] = set(taken)
        self._next_suffix: dict[str, int] = {}

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
        self.taken.update(slugs)

    def allocate(self, base: str) -> str:
        slug = base
        if slug in self.taken:
            n = self._next_suffix.get(base, 2)
            while f"{base}-{n}" in self.taken:
                n += 1
            slug = f"{base}-{n}"
            self._next_suffix[base] = n + 1
        self.taken.add(slug)
        return slug

    def for_prompt(self, prompt: str) -> str:
        return self.allocate(slugify(prompt))
