"""Spaced repetition with FSRS (the ``fsrs`` package, 6.x).

A review turns into an FSRS rating by this table (``rating_for``):

=========================  ==============  ==============================
input                      value           rating
=========================  ==============  ==============================
self_rating                "again"         Again
self_rating                "hard"          Hard
self_rating                "good"          Good
self_rating                "easy"          Easy
score (graded free text)   < 0.5           Again (the grader's pass mark)
score                      0.5 .. < 0.7    Hard
score                      0.7 .. < 0.9    Good
score                      >= 0.9          Easy
score, ``exact=True``      0.0             Again
score, ``exact=True``      1.0             Good (never Easy)
=========================  ==============  ==============================

With ``exact=True`` (an exactly graded choice question) the same thresholds apply but the
rating is capped at Good: picking the right option is weaker evidence than recalling it.

``schedule`` reviews a card, stored as the JSON-able dict of ``fsrs.Card.to_dict()``, with
one process-wide ``fsrs.Scheduler`` using the library defaults (desired retention 0.9,
learning steps 1 and 10 minutes, relearning step 10 minutes) and fuzzing off, so the same
history always gives the same due date, in tests and across workers. All datetimes going in
must be timezone-aware; everything coming out is in UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsrs import Card, Rating, Scheduler

from api.practice.models import SELF_RATINGS

__all__ = ["SCHEDULER", "Rating", "Review", "is_due", "rating_for", "schedule"]

SCHEDULER = Scheduler(desired_retention=0.9, enable_fuzzing=False)

_SELF_RATING = dict(
    zip(SELF_RATINGS, (Rating.Again, Rating.Hard, Rating.Good, Rating.Easy), strict=True)
)
_CARD_KEYS = ("card_id", "state", "step", "stability", "difficulty", "due", "last_review")


@dataclass(frozen=True)
class Review:
    """A card after one review: its new state and when it is next due."""

    state: dict[str, Any]  # fsrs Card.to_dict(): JSON-able
    due: datetime  # timezone-aware UTC
    stability: float | None
    difficulty: float | None


def rating_for(
    *, score: float | None = None, self_rating: str | None = None, exact: bool = False
) -> Rating:
    """Map a graded score in [0, 1] or a self-rating (see SELF_RATINGS) to an FSRS rating.

    Give exactly one of ``score`` and ``self_rating``; anything else raises ``ValueError``.
    """
    if (score is None) == (self_rating is None):
        raise ValueError("give exactly one of score and self_rating")
    if self_rating is not None:
        try:
            return _SELF_RATING[self_rating]
        except (KeyError, TypeError):
            raise ValueError(f"self_rating must be one of {', '.join(SELF_RATINGS)}") from None
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise ValueError("score must be a number")
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise ValueError("score must be between 0 and 1")
    if score < 0.5:
        return Rating.Again
    if score < 0.7:
        return Rating.Hard
    if score < 0.9 or exact:
        return Rating.Good
    return Rating.Easy


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _load(card: dict[str, Any]) -> Card:
    if not isinstance(card, dict) or any(key not in card for key in _CARD_KEYS):
        raise ValueError("card state is not an fsrs card")
    try:
        loaded = Card.from_dict(card)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"card state is not an fsrs card: {exc}") from None
    # fsrs compares tzinfo with timezone.utc, so normalise whatever offset was stored
    loaded.due = _utc(loaded.due, "card due")
    if loaded.last_review is not None:
        loaded.last_review = _utc(loaded.last_review, "card last_review")
    return loaded


def schedule(*, card: dict[str, Any] | None, rating: Rating, reviewed_at: datetime) -> Review:
    """Review ``card`` (``None`` for a new card) with ``rating`` at ``reviewed_at``.

    ``reviewed_at`` must be timezone-aware (``ValueError`` otherwise) and is converted to
    UTC. A new card gets ``card_id`` = ``reviewed_at`` in epoch milliseconds, so no clock
    is read here. The input dict is not modified.
    """
    at = _utc(reviewed_at, "reviewed_at")
    rating = Rating(rating)
    if card is None:
        current = Card(card_id=int(at.timestamp() * 1000), due=at)
    else:
        current = _load(card)
    reviewed, _log = SCHEDULER.review_card(current, rating, review_datetime=at)
    due = _utc(reviewed.due, "due")
    return Review(
        state=dict(reviewed.to_dict()),
        due=due,
        stability=reviewed.stability,
        difficulty=reviewed.difficulty,
    )


def is_due(*, due: datetime, now: datetime) -> bool:
    """Whether a card due at ``due`` should be shown at ``now`` (both timezone-aware)."""
    return _utc(due, "due") <= _utc(now, "now")
