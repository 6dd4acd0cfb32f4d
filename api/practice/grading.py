"""Grade a learner's answer: free text against a question's key points, or exact choices.

Free text is graded key point by key point (grader version ``GRADER_VERSION``). A key point
is a phrase an editor wrote ("follows the WSGI standard"), optionally with alternative
phrasings ("built on WSGI"); it is covered when one of its phrasings is. For each phrasing:

* both texts are split into words, code names kept whole (``db.session``, ``url_for``,
  ``__name__``); English stop words are dropped and every word is reduced by the Snowball
  stemmer (PyStemmer), so "migrations"/"migrate" and "routes"/"routing" compare equal;
  a few words the bank uses interchangeably are folded together (``SYNONYMS``: "app" and
  "application", "lightweight" and "minimal");
* each word weighs by its rarity in English (wordfreq's Zipf scale): "Alembic" counts more
  than "function", and words every answer of this bank uses ("Flask", "app") count least;
* a word of the phrasing is found in the answer exactly, as one half of a compound the
  learner wrote ("microframework", "username"), or as a typo: a word the dictionary does
  not know, one edit (two for long words) away, compared with rapidfuzz ("Werkzueg");
* the phrasing is covered when the found words carry at least ``COVERAGE`` of its weight,
  or, when the answer has the opposite of one of its words ("blocks" where the point says
  "allows", ``ANTONYMS``), denied;
* it is denied too when at least ``DENIED`` of the found weight sits only in the scope of a
  negation ("not", "never", "cannot", "without", "instead of", ...: from the cue to the
  end of its clause, at most ``_SCOPE`` words), and the feedback quotes the learner's
  phrase. A phrasing that is itself negative ("not for production") needs the negation.

A key point is contradicted when the answer states one of its misconceptions in full and
unnegated (``contradictions`` in the bank: "ASGI framework" for "follows the WSGI
standard"), or denies the point's own text; otherwise its best phrasing decides.
A point stated in full (every word of a phrasing of two words or more) earns 1, one stated
in part (most of the weight, or a single word) ``PART_CREDIT``. The score is the mean over
the key points, and passes at ``PASS_MARK`` (two of four points in full). ``confidence`` is
"uncertain" when a looser or stricter coverage rule (± ``MARGIN``), or ignoring the
negations, would flip the verdict; else "clear_pass" or "clear_fail".

Everything here is pure and deterministic; work is bounded by ``MAX_ANSWER_CHARS``,
``MAX_KEY_POINTS``, ``MAX_ALTERNATIVES`` (also for contradictions), ``MAX_KEY_POINT_CHARS``
and ``MAX_TYPO_COMPARISONS`` (after which only exact words count).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import Stemmer
from rapidfuzz.distance import OSA
from wordfreq import zipf_frequency

__all__ = [
    "CONFIDENCES",
    "COVERAGE",
    "GRADER_VERSION",
    "MAX_ALTERNATIVES",
    "MAX_ANSWER_CHARS",
    "MAX_KEY_POINTS",
    "MAX_KEY_POINT_CHARS",
    "Grade",
    "KeyPoint",
    "PointResult",
    "content_words",
    "grade_choices",
    "grade_free_text",
    "stem",
]

GRADER_VERSION = 2
MAX_ANSWER_CHARS = 5_000
MAX_KEY_POINTS = 20
MAX_ALTERNATIVES = 10  # per key point
MAX_KEY_POINT_CHARS = 500  # per phrasing
MAX_PHRASING_WORDS = 40
MAX_TYPO_COMPARISONS = 100_000  # per answer: bounds the work a long answer can cause
COVERAGE = 0.6  # share of a phrasing's word weight the answer must carry
# A point stated in full (every word of a phrasing of two words or more) scores 1; one
# covered in part (most of the weight, or a single word) scores PART_CREDIT. The score
# is the mean over the key points and passes at PASS_MARK: two of four points in full.
FULL = 1.0
PART_CREDIT = 0.75
PASS_MARK = 0.5
# A phrasing is denied when this share of its found weight sits under a negation ("it
# doesn't handle authentication" denies "authentication and authorization").
DENIED = 1 / 3
MARGIN = 0.15  # how far the coverage rule moves before a verdict is called uncertain
CONFIDENCES = ("clear_pass", "clear_fail", "uncertain")

_STEMMER = Stemmer.Stemmer("english")
# A word: letters, digits and underscores, with dots inside code names (db.session, 3.1)
# and a trailing + or # (c++, c#). Punctuation that ends a clause is kept as a token.
_TOKEN = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*[+#]*|[.,;:!?]")
_CLAUSE_END = frozenset(".,;:!?")
_CLAUSE_WORDS = frozenset({"but", "while", "whereas", "however", "although", "though", "so"})
STOP_WORDS = frozenset(
    """
    a about after all also an and any are as at be been being both but by can could did do
    does doing done each either etc for from had has have having he her here hers him his how
    i if in into is it its itself just may me might more most must my of off on
    once one only onto or other our ours out over own per same shall she should so some such
    than that the their theirs them then there these they this those through thus to too up
    upon us very via was we were what when where whether which while who whom whose why will
    with would yet you your yours
    """.split()
)
# Negation cues, single words (apostrophes are dropped before matching: "don't" -> "dont").
_NEGATIONS = frozenset(
    """
    not never no cannot cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt
    couldnt mustnt neednt hasnt havent hadnt neither nor without nothing nobody
    """.split()
)
# Negation cues of two words: the second word is part of the cue.
_NEGATION_PAIRS = frozenset(
    {("instead", "of"), ("rather", "than"), ("opposed", "to"), ("no", "longer")}
)
# Pairs that start like a negation but deny nothing ("don't forget to return the code").
_NOT_NEGATIONS = frozenset(
    {
        ("not", "only"),
        ("not", "just"),
        ("no", "matter"),
        ("dont", "forget"),
        ("never", "forget"),
        ("not", "forget"),
    }
)
CODE_WEIGHT = 8.0
_SCOPE = 6  # words after a cue that it can deny, within its clause
# Words every answer in this bank uses: they carry the least weight.
_COMMON = frozenset(
    "flask app application python web use code file function request way thing make need".split()
)
# Groups of words this bank uses interchangeably; each group folds to its first word.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("app", "application", "apps", "applications"),
    ("lightweight", "minimal", "minimalist", "minimalistic", "lean", "light"),
    ("database", "db", "databases"),
    ("configuration", "config", "configurations", "configs", "settings"),
    ("environment", "env"),
    ("development", "dev"),
    ("production", "prod"),
    ("parameter", "param", "argument", "arg", "args", "params", "parameters", "arguments"),
    ("variable", "var", "vars", "variables"),
    ("extension", "plugin", "addon", "extensions", "plugins", "addons"),
    ("library", "package", "libraries", "packages", "lib", "libs"),
    ("create", "make", "build", "instantiate", "construct"),
    ("start", "run", "launch"),
    ("store", "save", "keep", "persist"),
    ("allow", "let", "enable", "permit"),
    ("builtin", "included", "bundled"),
    ("simple", "easy", "straightforward"),
    ("many", "lots", "lot", "plenty", "numerous"),
    ("url", "urls", "uri", "address"),
    ("log", "login", "signin"),
    ("authentication", "authenticate", "authn"),
    ("authorization", "authorisation", "authorize", "authorise", "authz", "permissions"),
)
_SYNONYM = {word: group[0] for group in SYNONYMS for word in group}
# Words that deny each other: an answer that has the second where a key point has the
# first (and not the first itself) contradicts the point ("blocks" for "allows").
ANTONYMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("allow",), ("block", "prevent", "forbid", "deny", "disallow", "disable", "reject")),
    (("block", "prevent", "forbid", "deny"), ("allow",)),
    (("sync", "synchronous"), ("async", "asynchronous")),
    (("async", "asynchronous"), ("sync", "synchronous")),
    (("before",), ("after",)),
    (("after",), ("before",)),
    (("required", "mandatory"), ("optional",)),
    (("optional",), ("required", "mandatory")),
    (("mutable",), ("immutable",)),
    (("immutable",), ("mutable",)),
    (("public",), ("private", "secret")),
    (("private", "secret"), ("public",)),
    (("automatic", "automatically"), ("manual", "manually")),
    (("manual", "manually"), ("automatic", "automatically")),
    (("include",), ("exclude",)),
    (("static",), ("dynamic",)),
    (("dynamic",), ("static",)),
    (("true",), ("false",)),
    (("false",), ("true",)),
)
# Code names whose first part is only a namespace: "@app.route" also counts as "route".
_NAMESPACES = frozenset({"app", "flask", "bp", "blueprint", "current_app", "self"})


@dataclass(frozen=True)
class KeyPoint:
    """A key point as an editor wrote it, with optional alternative phrasings, and the
    misconceptions that contradict it ("ASGI framework" for "follows the WSGI standard")."""

    text: str
    alternatives: tuple[str, ...] = ()
    contradictions: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: KeyPoint | str | Mapping[str, Any]) -> KeyPoint:
        """A key point from the bank's format: a string, or {text, alternatives,
        contradictions}."""
        if isinstance(value, KeyPoint):
            return value
        if isinstance(value, str):
            return cls(text=value)
        return cls(
            text=value["text"],
            alternatives=tuple(value.get("alternatives") or ()),
            contradictions=tuple(value.get("contradictions") or ()),
        )

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.text, *self.alternatives[:MAX_ALTERNATIVES])


@dataclass(frozen=True)
class PointResult:
    """How the answer fared on one key point."""

    key_point: str  # as the editor wrote it
    covered: bool
    words: tuple[str, ...] = ()  # the answer's words that covered it (or were contradicted)
    contradicted_by: str | None = None  # the answer's phrase that denied it
    credit: float = 0.0  # what it adds to the score: 1 stated in full, PART_CREDIT in part

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_point": self.key_point,
            "covered": self.covered,
            "credit": self.credit,
            "words": list(self.words),
            "contradicted_by": self.contradicted_by,
        }


@dataclass(frozen=True)
class Grade:
    """The outcome of grading one answer.

    ``matched`` and ``missed`` list key points (their main text) in the question's order;
    ``points`` says per key point what covered or contradicted it. All three are empty for
    choice questions. ``feedback`` is one or two sentences meant to teach.
    """

    score: float
    passed: bool
    matched: list[str]
    missed: list[str]
    feedback: str
    points: list[PointResult] = field(default_factory=list)
    confidence: str = "clear_pass"
    version: int = GRADER_VERSION


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text.lower().replace("'", "").replace("`", " ")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A word's comparison form: synonyms folded, then the Snowball stem (code kept whole)."""
    word = _SYNONYM.get(word, word)
    if not word.isalpha():
        return word
    stemmed = _STEMMER.stemWord(word)
    return _stem_synonyms().get(stemmed, stemmed)


@lru_cache(maxsize=1)
def _stem_synonyms() -> dict[str, str]:
    """Synonyms by stem, so inflected forms fold too ("builds" with "create")."""
    return {
        _STEMMER.stemWord(word): _STEMMER.stemWord(group[0])
        for group in SYNONYMS
        for word in group
        if word.isalpha()
    }


@lru_cache(maxsize=1)
def _antonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for words, opposites in ANTONYMS:
        for word in words:
            table.setdefault(stem(word), set()).update(stem(o) for o in opposites)
    return {word: frozenset(opposites) for word, opposites in table.items()}


@lru_cache(maxsize=16384)
def _zipf(word: str) -> float:
    return zipf_frequency(word, "en", wordlist="small") if word.isalpha() else 0.0


@lru_cache(maxsize=16384)
def _weight(word: str) -> float:
    """How much a word of a key point counts: rarer words count more (1 to 5, code 8)."""
    if word in _COMMON or _SYNONYM.get(word) in _COMMON:
        return 1.0
    head, _, tail = word.partition(".")
    if head in _NAMESPACES and tail and "." not in tail:
        return 5.0  # "app.route": as telling as a rare word
    if _is_code(word):
        return CODE_WEIGHT  # a code name is the concept itself: url_for, db.session
    return min(5.0, max(1.0, 7.0 - _zipf(word)))


@dataclass(frozen=True)
class _Token:
    surface: str  # as folded (lower-case), for feedback
    stem: str
    negated: bool  # inside the scope of a negation cue
    cue: int  # index of the cue that negates it, or -1


def _tokens(text: str) -> list[_Token]:
    raw = _TOKEN.findall(_fold(text).replace("\n", " . "))  # a line ends a clause
    words: list[tuple[str, int]] = []  # (word, clause number)
    clause = 0
    for item in raw:
        if item in _CLAUSE_END or item in _CLAUSE_WORDS:
            clause += 1
            if item in _CLAUSE_END:
                continue
        words.append((item, clause))
    out: list[_Token] = []
    scope_end = -1
    scope_clause = -1
    cue_at = -1
    i = 0
    while i < len(words):
        word, clause = words[i]
        nxt = words[i + 1][0] if i + 1 < len(words) else ""
        is_cue = False
        width = 1
        if (word, nxt) in _NOT_NEGATIONS:
            is_cue = False
        elif (word, nxt) in _NEGATION_PAIRS:
            is_cue, width = True, 2
        elif word in _NEGATIONS or word == "unlike":
            is_cue = True
        if is_cue:
            cue_at = len(out)
            scope_end = i + width + _SCOPE
            scope_clause = clause
        for k in range(width):
            w, c = words[i + k]
            negated = (not is_cue) and i + k < scope_end and c == scope_clause
            out.append(
                _Token(surface=w, stem=stem(w), negated=negated, cue=cue_at if negated else -1)
            )
        i += width
    return out


@lru_cache(maxsize=4096)
def _phrasing(text: str) -> tuple[tuple[tuple[str, str, float], ...], bool]:
    """A phrasing's distinct content words as (stem, surface, weight), and its polarity."""
    tokens = _tokens(text[:MAX_KEY_POINT_CHARS])[:MAX_PHRASING_WORDS]
    negative = any(t.negated for t in tokens)
    words = [t for t in tokens if t.surface not in STOP_WORDS and not _is_cue(t.surface)]
    if not words:
        words = [t for t in tokens if not _is_cue(t.surface)]
    seen: dict[str, tuple[str, str, float]] = {}
    for t in words:
        if t.stem not in seen:
            seen[t.stem] = (t.stem, t.surface, _weight(t.surface))
    return tuple(seen.values()), negative


def _is_cue(word: str) -> bool:
    return word in _NEGATIONS or word in ("instead", "rather", "opposed", "unlike", "longer")


def content_words(text: str) -> list[str]:
    """The distinct stems of ``text``'s content words, in order of first appearance."""
    return [s for s, _surface, _w in _phrasing(text)[0]]


class _Answer:
    """The answer's words, indexed for exact, compound and typo look-ups."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at: dict[str, list[int]] = {}
        words: list[tuple[int, str]] = []  # plain words, also those inside code names
        for index, token in enumerate(self.tokens):
            self._add(token.stem, index)
            words.append((index, token.surface))
            parts = token.surface.split(".")
            if len(parts) > 1:
                for end in range(2, len(parts)):  # "request.form.get" is also "request.form"
                    self._add(".".join(parts[:end]), index)
                if parts[0] in _NAMESPACES or len(parts) > 2 or "_" in parts[-1]:
                    self._add(stem(parts[-1]), index)  # "app.config" is also "config"
                    words.append((index, parts[-1]))
            if "_" in token.surface.strip("_") and "." not in token.surface:
                for part in token.surface.split("_"):  # "database_uri" holds "uri"
                    if part:
                        self._add(stem(part), index)
                        words.append((index, part))
        for index in range(len(self.tokens) - 1):  # "light weight" is also "lightweight"
            a, b = self.tokens[index].surface, self.tokens[index + 1].surface
            if a.isalpha() and b.isalpha():
                self._add(stem(a + b), index)
        for index, token in enumerate(self.tokens):  # "microframework" holds "micro"
            for part in _compound_parts(token.surface):
                self._add(stem(part), index)
        # Words the dictionary does not know, by length: a typo is at most two letters off.
        self.typo_candidates: dict[int, dict[str, list[int]]] = {}
        for i, word in words:
            if len(word) >= 5 and _is_typo_like(word):
                same = self.typo_candidates.setdefault(len(word), {})
                same.setdefault(word, []).append(i)
        self.code_candidates = [
            (i, t) for i, t in enumerate(self.tokens) if len(t.surface) >= 8 and _is_code(t.surface)
        ]
        self._fuzzy: dict[tuple[str, str], list[int]] = {}
        self.comparisons = 0

    def _add(self, key: str, index: int) -> None:
        places = self.at.setdefault(key, [])
        if index not in places:
            places.append(index)

    def find(self, word_stem: str, surface: str) -> list[int]:
        if word_stem in self.at:
            return self.at[word_stem]
        key = (word_stem, surface)
        if key not in self._fuzzy:
            self._fuzzy[key] = self._typos(word_stem, surface)
        return self._fuzzy[key]

    def _typos(self, word_stem: str, surface: str) -> list[int]:
        if len(surface) >= 8 and _is_code(surface):  # "render_templte", "requst.form"
            return [
                index
                for index, token in self.code_candidates
                if OSA.distance(surface, token.surface, score_cutoff=1) <= 1
            ]
        if len(surface) < 5 or not surface.isalpha():
            return []  # short words, numbers and short code names must match exactly
        allowed = 1 if len(surface) < 9 else 2
        found: list[int] = []
        for length in range(len(surface) - allowed, len(surface) + allowed + 1):
            same = self.typo_candidates.get(length, {})
            self.comparisons += 2 * len(same)
            if self.comparisons > MAX_TYPO_COMPARISONS:
                return []  # the answer's budget of typo look-ups is spent: exact words only
            for word, places in same.items():
                # "framworks" is a typo of "frameworks" as "framwork" of "framework"
                if OSA.distance(surface, word, score_cutoff=allowed) <= allowed or (
                    OSA.distance(word_stem, stem(word), score_cutoff=allowed) <= allowed
                ):
                    found.extend(places)
        return sorted(found)


@lru_cache(maxsize=16384)
def _compound_parts(word: str) -> tuple[str, ...]:
    """The two halves of a rare compound word whose halves are both common words."""
    if len(word) < 8 or not word.isalpha() or _zipf(word) >= 3.0:
        return ()
    for cut in range(4, len(word) - 3):
        head, tail = word[:cut], word[cut:]
        if _zipf(head) >= 3.0 and _zipf(tail) >= 3.0:
            return head, tail
    return ()


@lru_cache(maxsize=16384)
def _looks_like_word(word: str) -> bool:
    return _zipf(word) >= 3.0


def _is_code(word: str) -> bool:
    """A code name: letters joined by dots or underscores, no digits-only parts."""
    return ("_" in word.strip("_") or "." in word) and any(c.isalpha() for c in word)


def _is_typo_like(word: str) -> bool:
    # A word the dictionary knows ("flash") is a different word, not a typo of "flask".
    return word.isalpha() and not _looks_like_word(word)


@dataclass(frozen=True)
class _Match:
    share: float  # found weight / total weight
    negated_share: float  # negated found weight / found weight
    negative: bool  # the phrasing itself is negative
    indexes: tuple[int, ...]
    cue: int  # the cue that negates most of the found weight, or -1
    opposite: int = -1  # where the answer says the opposite of one of the words, or -1
    said: str | None = None  # the misconception the answer states, in its own words


def _match(answer: _Answer, text: str, need: float = 0.0) -> _Match:
    """How much of a phrasing the answer states; stops early once ``need`` is out of reach
    (the share is then only a lower bound, below ``need``)."""
    words, negative = _phrasing(text)
    total = sum(w for _s, _surface, w in words)
    found = negated = 0.0
    left = total
    indexes: list[int] = []
    cues: dict[int, float] = {}
    opposite = -1
    for word_stem, surface, weight in words:
        if found + left < need * total - 1e-9:
            break
        left -= weight
        places = answer.find(word_stem, surface)
        if not places:
            for other in _antonyms().get(word_stem, ()):
                if other in answer.at:
                    opposite = answer.at[other][0]
                    found += weight
                    break
            continue
        found += weight
        denied = [p for p in places if answer.tokens[p].negated]
        # A positive phrasing is denied where the answer never states the word plainly; a
        # negative one ("not for production") is stated where the answer negates it once.
        if denied and (negative or len(denied) == len(places)):
            negated += weight
            cue = answer.tokens[denied[0]].cue
            cues[cue] = cues.get(cue, 0.0) + weight
            indexes.append(denied[0])
        else:
            indexes.append(places[0])
    return _Match(
        share=found / total if total else 0.0,
        negated_share=negated / found if found else 0.0,
        negative=negative,
        indexes=tuple(sorted(indexes)),
        cue=max(cues, key=cues.__getitem__) if cues else -1,
        opposite=opposite,
    )


def _verdict(match: _Match, coverage: float, contradictions: bool) -> str:
    """'covered', 'contradicted' or 'missed' for one phrasing under a coverage rule."""
    if match.share + 1e-9 < coverage:
        return "missed"
    denied = match.negated_share >= DENIED or match.opposite >= 0
    if match.negative:
        return "covered" if denied or not contradictions else "missed"
    if denied and contradictions:
        return "contradicted"
    return "covered"


def _cue_phrase(answer: _Answer, match: _Match) -> str:
    """The learner's words that denied a point: a negation cue and its scope, or an opposite."""
    if match.said is not None:
        return match.said
    cue = match.cue
    if cue < 0:
        return answer.tokens[match.opposite].surface
    words = [answer.tokens[cue].surface]
    for token in answer.tokens[cue + 1 : cue + 1 + _SCOPE + 1]:
        if token.cue != cue:
            break
        words.append(token.surface)
    return " ".join(words)


def _assess(answer: _Answer, point: KeyPoint, coverage: float, contradictions: bool):
    """A key point's verdict under a coverage rule, with its deciding phrasing's match.

    A point is contradicted when the answer states one of its misconceptions in full (not
    negated), or when it denies the point's own text, even when an alternative is
    covered: "it only does authorization; it doesn't handle authentication" must not cover
    "authentication and authorization" through "login and permissions". Otherwise the best
    phrasing decides: covered, then denied, then missed.
    """
    if contradictions:
        for text in point.contradictions[:MAX_ALTERNATIVES]:
            wrong = _match(answer, text, need=FULL)
            if wrong.share >= FULL - 1e-9 and wrong.negated_share < DENIED:
                return "contradicted", dataclasses.replace(wrong, said=_span(answer, wrong))
    best: tuple[str, _Match] | None = None
    rank = {"covered": 2, "contradicted": 1, "missed": 0}
    for position, text in enumerate(point.phrasings):
        match = _match(answer, text, need=coverage)
        verdict = _verdict(match, coverage, contradictions)
        if position == 0 and verdict == "contradicted":
            return verdict, match  # the editor's own wording is denied
        if best is None or (rank[verdict], match.share) > (rank[best[0]], best[1].share):
            best = (verdict, match)
    assert best is not None
    return best


def _span(answer: _Answer, match: _Match) -> str:
    """The answer's words from the first to the last matched one (at most 8 words)."""
    first, last = match.indexes[0], match.indexes[-1]
    if last - first < 8:
        return " ".join(t.surface for t in answer.tokens[first : last + 1])
    return " ".join(answer.tokens[i].surface for i in match.indexes)


def _points(n: int) -> str:
    return f"{n} key point" if n == 1 else f"{n} key points"


def _feedback(*, answered: bool, results: list[PointResult]) -> str:
    matched = [r for r in results if r.covered]
    missed = [r for r in results if not r.covered]
    total = len(results)
    add = "; ".join(r.key_point.strip().rstrip(" .;,:") for r in missed)
    if not answered:
        return f"No answer given. A full answer covers: {add}."
    contradicted = [r for r in missed if r.contradicted_by]
    said = " ".join(
        f'Your answer says "{r.contradicted_by}", which contradicts: '
        f"{r.key_point.strip().rstrip(' .;,:')}."
        for r in contradicted
    )
    if not missed:
        head = (
            "You covered the key point." if total == 1 else f"You covered all {total} key points."
        )
    elif not matched:
        head = (
            f"You did not cover the key point. Add: {add}."
            if total == 1
            else f"You covered none of the {_points(total)}. Add: {add}."
        )
    else:
        head = f"You covered {len(matched)} of {_points(total)}. Add: {add}."
    return f"{head} {said}".strip()


def _normalise_points(key_points: Iterable[KeyPoint | str | Mapping[str, Any]]) -> list[KeyPoint]:
    points = []
    for value in key_points:
        point = KeyPoint.of(value)
        if point.text and point.text.strip():
            points.append(point)
        if len(points) == MAX_KEY_POINTS:
            break
    return points


def _credit(verdict: str, match: _Match) -> float:
    """What a key point adds to the score: 1 stated in full, ``PART_CREDIT`` in part."""
    if verdict != "covered":
        return 0.0
    # A negative phrasing's negation counts as one of its words ("not for production").
    if len(match.indexes) + match.negative >= 2 and match.share >= FULL - 1e-9:
        return 1.0
    return PART_CREDIT


def _score(verdicts: list[tuple[str, _Match]]) -> float:
    return round(sum(_credit(v, m) for v, m in verdicts) / len(verdicts), 3)


def grade_free_text(
    *,
    answer: str,
    key_points: Iterable[KeyPoint | str | Mapping[str, Any]],
    pass_mark: float = PASS_MARK,
) -> Grade:
    """Grade ``answer`` by how many of ``key_points`` it states, and how fully (see above).

    Key points are strings, ``KeyPoint``s or mappings {text, alternatives}. Raises
    ``ValueError`` when there is nothing to grade against (no non-blank key point): the
    caller should ask the learner for a self-rating instead. ``pass_mark`` is a share in
    [0, 1]; the (rounded) score passes when it is at least ``pass_mark``.
    """
    if not 0.0 <= pass_mark <= 1.0:
        raise ValueError("pass_mark must be between 0 and 1")
    points = _normalise_points(key_points)
    if not points:
        raise ValueError("no key points")
    text = (answer or "")[:MAX_ANSWER_CHARS]
    answered = bool(text.strip())
    parsed = _Answer(text if answered else "")
    verdicts = [_assess(parsed, point, COVERAGE, True) for point in points]
    results: list[PointResult] = []
    for point, (verdict, match) in zip(points, verdicts, strict=True):
        words = tuple(dict.fromkeys(parsed.tokens[i].surface for i in match.indexes))
        if verdict == "covered":
            results.append(PointResult(point.text, True, words, credit=_credit(verdict, match)))
        elif verdict == "contradicted":
            results.append(PointResult(point.text, False, words, _cue_phrase(parsed, match)))
        else:
            results.append(PointResult(point.text, False))
    score = _score(verdicts)
    passed = score >= pass_mark
    return Grade(
        score=score,
        passed=passed,
        matched=[r.key_point for r in results if r.covered],
        missed=[r.key_point for r in results if not r.covered],
        feedback=_feedback(answered=answered, results=results),
        points=results,
        confidence=_confidence(parsed, points, passed, pass_mark) if answered else "clear_fail",
    )


def _confidence(answer: _Answer, points: list[KeyPoint], passed: bool, pass_mark: float) -> str:
    """Whether the verdict survives a looser and a stricter coverage rule, and no negation."""
    for coverage, contradictions in (
        (COVERAGE - MARGIN, True),
        (COVERAGE + MARGIN, True),
        (COVERAGE, False),
    ):
        verdicts = [_assess(answer, point, coverage, contradictions) for point in points]
        if (_score(verdicts) >= pass_mark) != passed:
            return "uncertain"
    return "clear_pass" if passed else "clear_fail"


def grade_choices(
    *, selected: list[int], correct: list[int], weights: list[float] | None = None
) -> Grade:
    """Grade a multiple-choice answer exactly: the selection must equal the correct set.

    Order and duplicates do not matter. Raises ``ValueError`` when ``correct`` is empty.
    With partial credit (``weights``, a percentage per choice, as Moodle's fractions) the
    score is the sum of the picked choices' weights, between 0 and 1, and the answer
    passes at full marks, which picking exactly the correct choices gives.
    """
    if weights is not None:
        return _grade_weighted(selected=selected, correct=correct, weights=weights)
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
    return Grade(
        score=0.0, passed=False, matched=[], missed=[], feedback=feedback, confidence="clear_fail"
    )


def _grade_weighted(*, selected: list[int], correct: list[int], weights: list[float]) -> Grade:
    if not correct:
        raise ValueError("no correct choices")
    picked = sorted(set(selected))
    total = sum(weights[i] for i in picked if i < len(weights))
    score = round(min(1.0, max(0.0, total / 100)), 3)
    if score >= 1.0:
        return Grade(score=1.0, passed=True, matched=[], missed=[], feedback="Correct.")
    if not picked:
        feedback = "No choice selected."
    elif score > 0:
        feedback = f"Partly right: your choices are worth {score:.0%} of the marks."
    else:
        feedback = "Not quite: your choices earn no marks."
    confidence = "clear_fail"
    return Grade(
        score=score, passed=False, matched=[], missed=[], feedback=feedback, confidence=confidence
    )
