"""api.practice.scheduling: rating mapping and FSRS scheduling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fsrs import Card, Rating, State

from api.practice.scheduling import SCHEDULER, Review, is_due, rating_for, schedule

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("self_rating", "rating"),
    [("again", Rating.Again), ("hard", Rating.Hard), ("good", Rating.Good), ("easy", Rating.Easy)],
)
def test_self_rating_mapping(self_rating: str, rating: Rating) -> None:
    assert rating_for(self_rating=self_rating) is rating


@pytest.mark.parametrize(
    ("score", "exact", "rating"),
    [
        (0.0, False, Rating.Again),
        (0.499, False, Rating.Again),
        (0.5, False, Rating.Hard),
        (0.699, False, Rating.Hard),
        (0.7, False, Rating.Good),
        (0.899, False, Rating.Good),
        (0.9, False, Rating.Easy),
        (1.0, False, Rating.Easy),
        (1, False, Rating.Easy),
        (0.0, True, Rating.Again),
        (0.5, True, Rating.Hard),
        (0.75, True, Rating.Good),
        (1.0, True, Rating.Good),
    ],
)
def test_score_mapping(score: float, exact: bool, rating: Rating) -> None:
    assert rating_for(score=score, exact=exact) is rating


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"score": 0.5, "self_rating": "good"},
        {"self_rating": "Great"},
        {"self_rating": "GOOD"},
        {"score": -0.1},
        {"score": 1.01},
        {"score": float("nan")},
        {"score": True},
        {"score": "0.5"},
    ],
)
def test_rating_for_rejects_bad_input(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        rating_for(**kwargs)


def test_new_card() -> None:
    review = schedule(card=None, rating=Rating.Good, reviewed_at=T0)
    assert isinstance(review, Review)
    assert review.state["card_id"] == int(T0.timestamp() * 1000)
    assert review.state["last_review"] == T0.isoformat()
    assert review.state["due"] == review.due.isoformat()
    assert review.stability is not None and review.stability > 0
    assert review.difficulty is not None and 1 <= review.difficulty <= 10
    assert review.due > T0


def test_good_is_due_later_than_again_and_easy_later_than_good() -> None:
    dues = {r: schedule(card=None, rating=r, reviewed_at=T0).due for r in Rating}
    assert dues[Rating.Again] < dues[Rating.Good] < dues[Rating.Easy]
    assert dues[Rating.Again] <= dues[Rating.Hard] <= dues[Rating.Good]
    # fsrs defaults: learning steps of 1 and 10 minutes, Easy graduates to days
    assert dues[Rating.Again] == T0 + timedelta(minutes=1)
    assert dues[Rating.Good] == T0 + timedelta(minutes=10)
    assert dues[Rating.Easy] - T0 >= timedelta(days=1)


def test_repeated_good_reviews_grow_the_interval() -> None:
    card, at = None, T0
    intervals = []
    for _ in range(6):
        review = schedule(card=card, rating=Rating.Good, reviewed_at=at)
        intervals.append(review.due - at)
        card, at = review.state, review.due
    assert all(a < b for a, b in zip(intervals, intervals[1:], strict=False))
    assert intervals[-1] > timedelta(days=30)
    assert card["state"] == State.Review


def test_again_after_review_drops_back_to_relearning() -> None:
    first = schedule(card=None, rating=Rating.Easy, reviewed_at=T0)
    lapse = schedule(card=first.state, rating=Rating.Again, reviewed_at=first.due)
    assert lapse.state["state"] == State.Relearning
    assert lapse.due == first.due + timedelta(minutes=10)
    assert lapse.stability < first.stability


def test_state_round_trips_through_json() -> None:
    review = schedule(card=None, rating=Rating.Good, reviewed_at=T0)
    stored = json.loads(json.dumps(review.state))
    assert stored == review.state
    assert Card.from_dict(stored).to_dict() == review.state
    again = schedule(card=stored, rating=Rating.Good, reviewed_at=review.due)
    direct = SCHEDULER.review_card(
        Card.from_dict(review.state), Rating.Good, review_datetime=review.due
    )[0]
    assert again.state == direct.to_dict()


def test_input_state_is_not_modified() -> None:
    state = schedule(card=None, rating=Rating.Good, reviewed_at=T0).state
    before = dict(state)
    schedule(card=state, rating=Rating.Again, reviewed_at=T0 + timedelta(hours=1))
    assert state == before


def test_scheduling_is_deterministic() -> None:
    def run() -> list[Review]:
        card, at, out = None, T0, []
        for rating in (Rating.Good, Rating.Good, Rating.Hard, Rating.Easy, Rating.Good):
            review = schedule(card=card, rating=rating, reviewed_at=at)
            out.append(review)
            card, at = review.state, review.due + timedelta(hours=3)
        return out

    assert run() == run()


def test_output_is_utc_whatever_the_input_offset() -> None:
    paris = timezone(timedelta(hours=1))
    local = T0.astimezone(paris)
    review = schedule(card=None, rating=Rating.Good, reviewed_at=local)
    assert review.due.tzinfo == UTC
    assert review.due.utcoffset() == timedelta(0)
    assert review == schedule(card=None, rating=Rating.Good, reviewed_at=T0)
    assert review.state["due"].endswith("+00:00")


def test_stored_state_with_another_offset_is_accepted() -> None:
    state = schedule(card=None, rating=Rating.Good, reviewed_at=T0).state
    shifted = dict(state)
    for key in ("due", "last_review"):
        value = datetime.fromisoformat(state[key])
        shifted[key] = value.astimezone(timezone(timedelta(hours=-5))).isoformat()
    at = T0 + timedelta(minutes=10)
    assert schedule(card=shifted, rating=Rating.Good, reviewed_at=at) == schedule(
        card=state, rating=Rating.Good, reviewed_at=at
    )


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 3, 1, 9, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(card=None, rating=Rating.Good, reviewed_at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(due=naive, now=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(due=T0, now=naive)
    state = schedule(card=None, rating=Rating.Good, reviewed_at=T0).state
    state["due"] = naive.isoformat()
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(card=state, rating=Rating.Good, reviewed_at=T0)


@pytest.mark.parametrize(
    "card",
    [
        {},
        {"state": 2},
        {
            "card_id": 1,
            "state": 9,
            "step": None,
            "stability": 1.0,
            "difficulty": 5.0,
            "due": "2025-03-01T00:00:00+00:00",
            "last_review": None,
        },
    ],
)
def test_bad_card_state_is_refused(card: dict) -> None:
    with pytest.raises(ValueError, match="not an fsrs card"):
        schedule(card=card, rating=Rating.Good, reviewed_at=T0)


def test_is_due() -> None:
    assert is_due(due=T0, now=T0)
    assert is_due(due=T0, now=T0 + timedelta(seconds=1))
    assert not is_due(due=T0, now=T0 - timedelta(seconds=1))
    # same instant in another offset
    assert is_due(due=T0.astimezone(timezone(timedelta(hours=9))), now=T0)
