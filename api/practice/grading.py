"""Grade a learner's answer: free text against a question's key points, or exact choices.

Free text is graded key point by key point. Both the answer and each key point are
normalised the same way: lower-cased, punctuation dropped, split into words, English stop
words removed, and every word reduced by a light suffix-stripping stemmer (plurals,
-ed/-ing, -er/-ly/-ness, -ation/-ator), so "migrations"/"migrate", "routes"/"routing" and
"decorated"/"decorator" compare equal. A key point is covered when at least
``COVERAGE`` (60 %) of its distinct content words occur in the answer, each word compared
fuzzily with rapidfuzz so that typos such as "Werkzueg" still count. Word order is ignored.

The score is the share of key points covered. The grader is lexical: it does not
understand negation ("does not follow WSGI" covers "follows WSGI"), so it is a study aid,
not an examiner. Work is bounded: the answer is cut to ``MAX_ANSWER_CHARS`` characters,
each key point to ``MAX_KEY_POINT_CHARS`` and only the first ``MAX_KEY_POINTS`` key points
are graded. Everything here is pure and deterministic.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

__all__ = [
    "COVERAGE",
    "MAX_ANSWER_CHARS",
    "MAX_KEY_POINTS",
    "MAX_KEY_POINT_CHARS",
    "Grade",
    "content_words",
    "grade_choices",
    "grade_free_text",
    "stem",
]


MAX_ANSWER_CHARS = 5_000
MAX_KEY_POINTS = 20
MAX_KEY_POINT_CHARS = 500
COVERAGE = 0.6  # share of a key point's content words that must appear in the answer
WORD_SIMILARITY = 85  # rapidfuzz fuzz.ratio cut-off for two stems to count as one word

_WORD = re.compile(r"[a-z0-9]+[+#]*")
_VOWEL = re.compile(r"[aeiouy]")
_DIGITS = re.compile(r"[^0-9]+")
STOP_WORDS = frozenset(
    """
    a about after all also an and any are as at be been being both but by can could did do
    does doing done each either etc for from had has have having he her here hers him his how
    i if in into is it its itself just may me might more most must my neither nor of off on
    once one only onto or other our ours out over own per same shall she should so some such
    than that the their theirs them then there these they this those through thus to too up
    upon us very via was we were what when where whether which while who whom whose why will
    with within would yet you your yours
    """.split()
)
# Checked after plural stripping, longest first; the replacement keeps the stems of a
# word family together once the final "e" is dropped (migration -> migrate -> migrat).
_DERIVATIONAL = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("isation", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("ness", ""),
    ("er", ""),
)


@dataclass(frozen=True)
class Grade:
    """The outcome of grading one answer.

    ``matched`` and ``missed`` list key points in the question's order; both are empty for
    choice questions. ``feedback`` is one or two sentences meant to teach.
    """

    score: float
    passed: bool
    matched: list[str]
    missed: list[str]
    feedback: str


def _strip_ed_ing(word: str) -> str:
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            rest = word[: -len(suffix)]
            # Porter's rule: the rest must hold a vowel ("string", "red" stay as they are).
            if len(rest) < 2 or not _VOWEL.search(rest) or word.endswith("eed"):
                return word
            if len(rest) >= 3 and rest[-1] == rest[-2] and rest[-1] not in "aeiouylsz":
                rest = rest[:-1]  # mapping -> mapp -> map
            return rest
    return word


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Reduce a lower-case word to a crude stem; both sides of a comparison use this."""
    if not word.isalpha():
        return word
    if len(word) <= 3:
        return word[:-1] if len(word) == 3 and word.endswith("e") and word[1] != "e" else word
    # 1a: plurals and third person
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # 1b: past tense and participles
    word = _strip_ed_ing(word)
    # 2: a few derivational endings
    if word.endswith("ly") and len(word) >= 6:
        word = word[:-2]
    else:
        for suffix, replacement in _DERIVATIONAL:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + replacement
                break
    # 3: a final silent "e" (route/routing, decorate/decorated)
    if len(word) >= 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("'", "")
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    """The distinct stems of ``text``'s non-stop words, in order of first appearance.

    A text made only of stop words keeps them all, so it can still be matched.
    """
    words = _words(text)
    kept = [w for w in words if w not in STOP_WORDS] or words
    return list(dict.fromkeys(stem(w) for w in kept))


class _AnswerVocabulary:
    """The answer's stems, indexed for exact, then fuzzy, look-ups."""

    def __init__(self, stems: Iterable[str]) -> None:
        self.exact = frozenset(stems)
        self.long = sorted(s for s in self.exact if len(s) >= 4)
        self.by_length: dict[int, list[str]] = {}
        for s in self.long:
            self.by_length.setdefault(len(s), []).append(s)
        self.seen: dict[str, bool] = {}

    def __contains__(self, word: str) -> bool:
        if word in self.exact:
            return True
        if word not in self.seen:
            self.seen[word] = self._fuzzy(word)
        return self.seen[word]

    def _fuzzy(self, word: str) -> bool:
        if len(word) < 4 or not self.long:
            return False  # short words (and numbers like "404") must match exactly
        digits = _DIGITS.sub("", word)

        def comparable(other: str) -> bool:
            # "jinja" may stand for "jinja2", but "python2" never for "python3"
            return not digits or _DIGITS.sub("", other) in ("", digits)

        long = [s for s in self.long if comparable(s)] if digits else self.long
        if process.extractOne(word, long, scorer=fuzz.ratio, score_cutoff=WORD_SIMILARITY):
            return True
        if len(word) < 5:
            return False
        # one edit (a swap counts as one) is a typo in any word of five letters or more
        n = len(word)
        candidates = [
            s
            for k in (n - 1, n, n + 1)
            if k >= 5
            for s in self.by_length.get(k, ())
            if comparable(s)
        ]
        return process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=1) is not None


def _covers(vocabulary: _AnswerVocabulary, key_point: str) -> bool:
    words = content_words(key_point[:MAX_KEY_POINT_CHARS])
    if not words:
        return False
    needed = math.ceil(COVERAGE * len(words) - 1e-9)
    found = 0
    for position, word in enumerate(words):
        if word in vocabulary:
            found += 1
            if found >= needed:
                return True
        elif found + len(words) - position - 1 < needed:
            return False
    return found >= needed


def _points(n: int) -> str:
    return f"{n} key point" if n == 1 else f"{n} key points"


def _as_phrase(key_point: str) -> str:
    phrase = " ".join(key_point.split()).rstrip(" .;,:")
    if len(phrase) > 1 and phrase[0].isupper() and phrase[1].islower():
        phrase = phrase[0].lower() + phrase[1:]  # "Follows the ..." -> "follows the ..."
    return phrase


def _feedback(*, answered: bool, matched: list[str], missed: list[str]) -> str:
    total = len(matched) + len(missed)
    add = "; ".join(_as_phrase(point) for point in missed)
    if not answered:
        return f"No answer given. A full answer covers: {add}."
    if not missed:
        if total == 1:
            return "You covered the key point."
        return f"You covered all {total} key points."
    if not matched:
        if total == 1:
            return f"You did not cover the key point. Add: {add}."
        return f"You covered none of the {_points(total)}. Add: {add}."
    return f"You covered {len(matched)} of {_points(total)}. Add: {add}."


def grade_free_text(*, answer: str, key_points: list[str], pass_mark: float = 0.6) -> Grade:
    """Grade ``answer`` by the share of ``key_points`` it covers.

    Raises ``ValueError`` when there is nothing to grade against (no non-blank key point):
    the caller should ask the learner for a self-rating instead. ``pass_mark`` is a share in
    [0, 1]; the (rounded) score passes when it is at least ``pass_mark``.
    """
    if not 0.0 <= pass_mark <= 1.0:
        raise ValueError("pass_mark must be between 0 and 1")
    points = [p for p in key_points if p and p.strip()][:MAX_KEY_POINTS]
    if not points:
        raise ValueError("no key points")
    text = (answer or "")[:MAX_ANSWER_CHARS]
    answered = bool(text.strip())
    vocabulary = _AnswerVocabulary(content_words(text) if answered else ())
    matched: list[str] = []
    missed: list[str] = []
    for point in points:
        (matched if answered and _covers(vocabulary, point) else missed).append(point)
    score = round(len(matched) / len(points), 3)
    return Grade(
        score=score,
        passed=score >= pass_mark,
        matched=matched,
        missed=missed,
        feedback=_feedback(answered=answered, matched=matched, missed=missed),
    )


def grade_choices(*, selected: list[int], correct: list[int]) -> Grade:
    """Grade a multiple-choice answer exactly: the selection must equal the correct set.

    Order and duplicates do not matter. Raises ``ValueError`` when ``correct`` is empty.
    """
    right = set(correct)
    if not right:
        raise ValueError("no correct choices")
    picked = set(selected)
    if picked == right:
        return Grade(score=1.0, passed=True, matched=[], missed=[], feedback="Correct.")
    hits = len(picked & right)
    wrong = len(picked - right)
    if not picked:
        feedback = "No choice selected."
    elif len(right) == 1:
        feedback = "Not quite: that is not the correct choice."
        if hits:
            feedback = "Not quite: you picked the correct choice but also a wrong one."
            if wrong > 1:
                feedback = f"Not quite: you picked the correct choice but also {wrong} wrong ones."
    else:
        feedback = f"Not quite: you picked {hits} of the {len(right)} correct choices"
        if wrong:
            feedback += f" and {wrong} wrong one" + ("s" if wrong > 1 else "")
        feedback += "."
    return Grade(score=0.0, passed=False, matched=[], missed=[], feedback=feedback)
