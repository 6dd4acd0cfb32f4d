"""Near-duplicate prompts: a new question that reads like one the bank already has."""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process
from sqlalchemy import select

from api.bank.models import Question
from api.extensions import db


class SimilarPrompts:
    """Fuzzy look-up of a prompt among the bank's prompts and alternate phrasings."""

    # token_sort_ratio: word order free, but extra words count (token_set_ratio would call
    # "What is Flask?" a twin of every question that contains those words).
    THRESHOLD = 80.0

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        self.rows = rows
        self.texts = [text for _, _, text in rows]

    @classmethod
    def from_database(cls) -> SimilarPrompts:
        rows: list[tuple[int, str, str]] = []
        query = select(Question.id, Question.slug, Question.prompt, Question.alternate_prompts)
        for qid, slug, prompt, alternates in db.session.execute(query):
            rows.append((qid, slug, prompt))
            rows.extend((qid, slug, alt) for alt in alternates or [])
        return cls(rows)

    def best(self, prompt: str) -> dict[str, Any] | None:
        found = process.extractOne(
            prompt,
            self.texts,
            scorer=fuzz.token_sort_ratio,
            processor=default_process,
            score_cutoff=self.THRESHOLD,
        )
        if found is None:
            return None
        _text, score, index = found
        qid, slug, text = self.rows[index]
        return {"similar_to": {"id": qid, "slug": slug, "prompt": text}, "score": round(score, 1)}
