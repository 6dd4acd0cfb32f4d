"""How strong a new password is: zxcvbn's estimate, against the configured minimum.

Every way a password is set (registration, PATCH /me, the CLI's create-admin, the service
itself) goes through `check_strength`. Only the first STRENGTH_WINDOW characters are
estimated: zxcvbn's matching grows faster than linearly with length, and a password of
that length that is still weak in its first 72 characters is weak. The account's email
and name are user inputs: a password made of them is guessed first.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from flask import current_app
from zxcvbn import zxcvbn

from api.platform.errors import InvalidBody

STRENGTH_WINDOW = 72
SCORE_MAX = 4
# zxcvbn 4.5 keeps the user inputs in a module-level dictionary for the length of a call:
# two threads estimating at once would see each other's.
_estimating = threading.Lock()


class WeakPassword(InvalidBody):
    """A password the strength estimator guesses too easily (or only whitespace)."""

    slug = "weak-password"


def _inputs(values: Iterable[str]) -> list[str]:
    """Each value and its words: "ada.lovelace@example.com" also gives "ada", "lovelace"."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        found.append(value)
        found.extend(word for word in re.split(r"[\W_]+", value) if len(word) > 2)
    return found


def _refuse(reason: str, advice: str) -> WeakPassword:
    message = f"{reason} {advice}".strip()
    return WeakPassword(message, errors={"password": [message]})


def check_strength(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """A 422 `weak-password` problem saying why and what to do, unless `password` is strong
    enough (PASSWORD_MIN_STRENGTH, a zxcvbn score from 0 to 4)."""
    if not password.strip():
        raise _refuse(
            "The password is only whitespace.",
            "Use a few uncommon words or a mix of characters you can remember.",
        )
    minimum = current_app.config["PASSWORD_MIN_STRENGTH"]
    sample = password[:STRENGTH_WINDOW]
    with _estimating:
        result = zxcvbn(sample, user_inputs=_inputs(user_inputs), max_length=STRENGTH_WINDOW)
    if result["score"] >= minimum:
        return
    feedback = result["feedback"]
    warning = feedback.get("warning") or ""
    suggestions = feedback.get("suggestions") or [
        "Add another word or two. Uncommon words are better."
    ]
    reason = f"The password is too easy to guess (strength {result['score']} of {SCORE_MAX}, "
    reason += f"at least {minimum} needed)."
    if warning:
        reason += f" {warning}"
    raise _refuse(reason, " ".join(suggestions))
