"""Parse plain-text interview Q&A documents into structured questions.

Seed documents arrive as loosely formatted text written by people, not by a
program, so this module turns them into ``ParsedQuestion`` records whose answers
are clean Markdown.  Two layouts are understood and detected automatically:

* **numbered** - every question is a line ``"N. question"``; the answer is every
  line up to the next such line.  Used when any line matches ``^\\d+\\.\\s``.
* **paragraphs** - every question is a one-line paragraph that ends with ``?``
  or is a short imperative (``Explain ...``, ``Describe ...``); the answer is
  every paragraph up to the next question.  Anything before the first question
  (for example an intro line ending in ``:``) is skipped.

Answers are normalised so that consumers can render them without guessing:
paragraphs are separated by one blank line, bare Python code becomes a
```` ```python ```` fenced block, and lists become ``"- "`` items.

The parser is standard-library only and runs in linear time: every line is
visited a bounded number of times and every regular expression is free of
nested or overlapping quantifiers, so hostile or very large uploads (tens of
megabytes) cannot make it hang.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

__all__ = ["ParseError", "ParsedQuestion", "TooManyQuestions", "parse_qa_text"]


@dataclass(frozen=True)
class ParsedQuestion:
    """One question extracted from a document.

    Frozen because parsed results are shared between the importer and its
    callers; nothing downstream should be able to alter what the file said.
    """

    position: int
    """1-based: the question number in numbered docs, the ordinal otherwise."""
    prompt: str
    """The question line, stripped, with any ``"N. "`` numbering removed."""
    answer: str
    """Markdown: paragraphs split by one blank line, code fenced, lists as ``- ``."""


class ParseError(ValueError):
    """The document cannot be turned into questions.

    Subclasses ``ValueError`` so callers that already treat bad input as a
    value problem keep working, and carries ``line`` (1-based) so an API can
    point the author at the exact place to fix.
    """

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


class TooManyQuestions(ParseError):
    """The document holds more questions than the caller takes (``max_questions``).

    Raised as soon as question ``limit + 1`` is found, before any answer is rendered,
    so an oversized upload costs one pass over its lines and no more.
    """

    def __init__(self, limit: int, *, line: int) -> None:
        super().__init__(f"more than {limit} questions", line=line)
        self.limit = limit


# Line kinds in the fence mask: ordinary text, a fence delimiter, code inside a fence.
_TEXT = 0
_DELIM = 1
_CODE = 2

# Question numbers longer than this are refused rather than converted: Python
# limits int() on huge digit strings, and no real document has a billion questions.
_MAX_NUMBER_DIGITS = 9
# A paragraph-format question is a single line; longer lines are answer prose.
_MAX_PROMPT_CHARS = 300
_MAX_IMPERATIVE_CHARS = 200
# Lines after a "...:" lead that are at most this long are read as list items.
_MAX_ITEM_CHARS = 120

_NUMBERED_RE = re.compile(r"([0-9]+)\.\s+(\S.*)")
_FENCE_OPEN_RE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_FENCE_CLOSE_RE = re.compile(r" {0,3}(`{3,}|~{3,})")
_BULLET_RE = re.compile(r"[-*+\u2022\u00b7]\s+(\S.*)")
_SENTENCE_BREAK_RE = re.compile(r"[.!?]\s+[A-Z]")

# Lines that, on their own, are almost certainly Python rather than prose.
_STRONG_CODE_RE = re.compile(
    r"""
    (?:from\s+[\w.]+\s+import\s+\S
    |import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*$
    |(?:async\s+)?def\s+\w+\s*\(
    |class\s+\w+\s*[:(]
    |@[A-Za-z_][\w.]*(?:\(.*\))?$
    )
    """,
    re.VERBOSE,
)
# Compound-statement headers; strong only when the next line is indented deeper.
_HEADER_RE = re.compile(
    r"(?:if|elif|else|for|while|with|try|except|finally|async\s+(?:for|with))\b.*:$"
)
# Lines that look like code but could be prose; they only extend a code block.
_WEAK_CODE_RE = re.compile(
    r"""
    (?:(?:return|pass|break|continue|raise|yield|assert|del|global|nonlocal|print)\b
    |[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*(?://|\*\*|>>|<<|[-+*/%|&^@])?=(?!=)
    |[A-Za-z_][\w.]*\(.*\)$
    |\#
    |[)\]}]
    )
    """,
    re.VERBOSE,
)

_IMPERATIVES = frozenset(
    {
        "Compare",
        "Contrast",
        "Define",
        "Demonstrate",
        "Describe",
        "Differentiate",
        "Discuss",
        "Distinguish",
        "Elaborate",
        "Explain",
        "Give",
        "Identify",
        "Illustrate",
        "Implement",
        "List",
        "Mention",
        "Name",
        "Outline",
        "Summarise",
        "Summarize",
        "Tell",
        "Walk",
        "Write",
    }
)
_CLOSERS = "\"')]}\u2019\u201d"
_SENTENCE_END = (".", "!", "?", ":", ";", "\u2026")


def parse_qa_text(text: str, *, max_questions: int | None = None) -> list[ParsedQuestion]:
    """Parse a plain-text Q&A document into questions, in document order.

    The layout (numbered or paragraphs) is detected automatically so that
    callers can feed any seed file without knowing how it was written.
    Line numbers in errors refer to the input as given (CRLF counts as one
    line break), so they match what the author sees in an editor.

    Raises:
        ParseError: the text is empty, holds no questions, has a question
            without an answer, has an unclosed code fence, or (numbered
            layout) repeats or decreases a question number.
        TooManyQuestions: (a ParseError) it holds more than ``max_questions``.
    """
    lines = _split_lines(text)
    start, end = _unwrap_fence(lines)
    mask = _fence_mask(lines, start, end)

    found = _find_numbered(lines, mask, start, end, max_questions)
    if not found:
        found = _find_paragraph_questions(lines, mask, start, end, max_questions)
    if not found:
        raise ParseError("no questions found", line=start + 1)

    questions: list[ParsedQuestion] = []
    for n, (position, prompt, index) in enumerate(found):
        stop = found[n + 1][2] if n + 1 < len(found) else end
        answer = _render_answer(lines, mask, index + 1, stop)
        if not answer:
            raise ParseError(
                f"question {position} ({_preview(prompt)}) has no answer", line=index + 1
            )
        questions.append(ParsedQuestion(position=position, prompt=prompt, answer=answer))
    return questions


# --------------------------------------------------------------------------- layout


def _split_lines(text: str) -> list[str]:
    """Normalise BOM, line endings and trailing whitespace before any parsing.

    Doing it once up front keeps every later rule free of CR/BOM special cases,
    so a file saved on Windows parses exactly like the same file on Unix.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def _unwrap_fence(lines: list[str]) -> tuple[int, int]:
    """Return the content range, dropping a fence that wraps the whole document.

    Some seed files were pasted inside a ```` ``` ```` block; that fence is
    packaging, not content, and would otherwise swallow every question.
    """
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        raise ParseError("document is empty", line=1)
    last = len(lines) - 1
    while not lines[last]:
        last -= 1
    opening = _FENCE_OPEN_RE.fullmatch(lines[first])
    closing = _FENCE_CLOSE_RE.fullmatch(lines[last])
    if (
        first < last
        and opening is not None
        and not (opening.group(1)[0] == "`" and "`" in opening.group(2))
        and closing is not None
        and closing.group(1)[0] == opening.group(1)[0]
        and len(closing.group(1)) >= len(opening.group(1))
    ):
        start, end = first + 1, last
    else:
        start, end = first, last + 1
    if not any(lines[i] for i in range(start, end)):
        raise ParseError("document is empty", line=first + 1)
    return start, end


def _fence_mask(lines: list[str], start: int, end: int) -> bytearray:
    """Mark fence delimiters and fenced code so no rule looks inside code.

    Code can legitimately contain lines such as ``1. x`` or ``What?``; they must
    never be mistaken for questions.
    """
    mask = bytearray(len(lines))
    open_char = ""
    open_len = 0
    open_index = 0
    for i in range(start, end):
        line = lines[i]
        if open_char:
            close = _FENCE_CLOSE_RE.fullmatch(line)
            if close and close.group(1)[0] == open_char and len(close.group(1)) >= open_len:
                mask[i] = _DELIM
                open_char = ""
            else:
                mask[i] = _CODE
            continue
        opening = _FENCE_OPEN_RE.match(line)
        if opening is None:
            continue
        fence, info = opening.groups()
        if fence[0] == "`" and "`" in info:
            continue  # inline code such as ```x``` is not a fence
        mask[i] = _DELIM
        open_char, open_len, open_index = fence[0], len(fence), i
    if open_char:
        raise ParseError("code fence is never closed", line=open_index + 1)
    return mask


def _check_count(found: list, limit: int | None, index: int) -> None:
    if limit is not None and len(found) >= limit:
        raise TooManyQuestions(limit, line=index + 1)


def _find_numbered(
    lines: list[str], mask: bytearray, start: int, end: int, limit: int | None = None
) -> list[tuple[int, str, int]]:
    """Find ``"N. question"`` lines as (number, prompt, line index).

    Numbers must strictly increase: a repeat or a step back almost always means
    two documents were concatenated or an answer contains a numbered list, and
    silently reordering would attach answers to the wrong questions.
    """
    found: list[tuple[int, str, int]] = []
    first_seen: dict[int, int] = {}
    for i in range(start, end):
        line = lines[i]
        if mask[i] or not line or not ("0" <= line[0] <= "9"):
            continue
        match = _NUMBERED_RE.match(line)
        if match is None:
            continue
        digits, prompt = match.groups()
        if len(digits) > _MAX_NUMBER_DIGITS:
            raise ParseError(f"question number {digits[:12]}... is too large", line=i + 1)
        number = int(digits)
        if number < 1:
            raise ParseError("question numbers start at 1", line=i + 1)
        if number in first_seen:
            raise ParseError(
                f"duplicate question number {number} (first used on line {first_seen[number] + 1})",
                line=i + 1,
            )
        if found and number < found[-1][0]:
            previous, _, previous_index = found[-1]
            raise ParseError(
                f"question number {number} is lower than the previous question "
                f"number {previous} (line {previous_index + 1})",
                line=i + 1,
            )
        first_seen[number] = i
        _check_count(found, limit, i)
        found.append((number, prompt.strip(), i))
    return found


def _find_paragraph_questions(
    lines: list[str], mask: bytearray, start: int, end: int, limit: int | None = None
) -> list[tuple[int, str, int]]:
    """Find one-line question paragraphs as (ordinal, prompt, line index)."""
    found: list[tuple[int, str, int]] = []
    for i in range(start, end):
        line = lines[i]
        if mask[i] or not line or line[0].isspace():
            continue
        starts_paragraph = i == start or not lines[i - 1] or mask[i - 1] == _DELIM
        ends_paragraph = i + 1 >= end or not lines[i + 1] or mask[i + 1] == _DELIM
        if starts_paragraph and ends_paragraph and _looks_like_question(line):
            _check_count(found, limit, i)
            found.append((len(found) + 1, line.strip(), i))
    return found


def _looks_like_question(line: str) -> bool:
    """Decide whether a standalone line is a question rather than answer prose.

    Interview documents phrase questions either as real questions (``?``) or as
    short one-sentence imperatives (``Explain X.``); intro lines end in ``:``
    and answers are usually longer or multi-sentence.
    """
    text = line.strip()
    if len(text) > _MAX_PROMPT_CHARS or _BULLET_RE.match(text):
        return False
    core = text.rstrip(_CLOSERS)
    if core.endswith("?"):
        return True
    if len(text) > _MAX_IMPERATIVE_CHARS or not core or core[-1] in ":;,":
        return False
    if text.split(None, 1)[0] not in _IMPERATIVES:
        return False
    return _SENTENCE_BREAK_RE.search(core[:-1]) is None


# --------------------------------------------------------------------------- answers


def _render_answer(lines: list[str], mask: bytearray, lo: int, hi: int) -> str:
    """Render the answer lines ``lines[lo:hi]`` as normalised Markdown.

    Text is first cut into paragraphs and fenced blocks; paragraphs are then
    classified as code or prose so that bare code pasted without fences still
    renders as code, and prose split by a stray blank line is rejoined.
    """
    blocks: list[tuple[str, list[str]]] = []
    for kind, a, b, gap in _segments(lines, mask, lo, hi):
        if kind == "fence":
            blocks.append(("fence", lines[a:b]))
            continue
        paragraph = lines[a:b]
        previous = blocks[-1][0] if blocks else ""
        split = _code_start(paragraph, continuing=previous == "code")
        if split == 0 and previous == "code":
            blocks[-1][1].extend([""] * gap)
            blocks[-1][1].extend(paragraph)
            continue
        prose, code = paragraph[:split], paragraph[split:]
        if prose:
            if previous == "prose" and _is_continuation(blocks[-1][1], prose):
                blocks[-1][1].extend(prose)
            else:
                blocks.append(("prose", prose))
        if code:
            blocks.append(("code", code))

    rendered: list[str] = []
    for kind, body in blocks:
        if kind == "prose":
            rendered.extend(_render_prose(body))
        elif kind == "code":
            code_text = textwrap.dedent("\n".join(body)).strip("\n")
            rendered.append(f"```python\n{code_text}\n```")
        else:
            rendered.append("\n".join(body))
    return "\n\n".join(rendered)


def _segments(
    lines: list[str], mask: bytearray, lo: int, hi: int
) -> list[tuple[str, int, int, int]]:
    """Split a line range into (kind, start, stop, blank lines before) segments."""
    segments: list[tuple[str, int, int, int]] = []
    gap = 0
    i = lo
    while i < hi:
        if mask[i] == _DELIM:
            j = i + 1
            while mask[j] != _DELIM:  # fences are balanced and never cross a question
                j += 1
            segments.append(("fence", i, j + 1, gap))
            gap = 0
            i = j + 1
        elif not lines[i]:
            gap += 1
            i += 1
        else:
            j = i
            while j < hi and lines[j] and mask[j] == _TEXT:
                j += 1
            segments.append(("para", i, j, gap))
            gap = 0
            i = j
    return segments


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _code_start(paragraph: list[str], *, continuing: bool) -> int:
    """Return the index where bare code begins in a paragraph (len if none).

    Code is a run of code-like lines reaching the end of the paragraph that
    contains at least one line which is unmistakably Python (an import, a
    ``def``, a decorator ...).  Weaker lines such as ``x = 1`` only count when
    they continue a code block, so ordinary prose is never turned into code.
    """
    n = len(paragraph)
    k = n
    while k > 0 and _is_code_like(paragraph[k - 1]):
        k -= 1
    if k == n:
        return n
    if continuing and k == 0:
        return 0
    if any(_is_strong_code(paragraph, i) for i in range(k, n)):
        return k
    return n


def _is_strong_code(paragraph: list[str], i: int) -> bool:
    stripped = paragraph[i].lstrip()
    if _STRONG_CODE_RE.match(stripped):
        return True
    return (
        _HEADER_RE.match(stripped) is not None
        and i + 1 < len(paragraph)
        and _indent(paragraph[i + 1]) > _indent(paragraph[i])
    )


def _is_code_like(line: str) -> bool:
    if line.startswith(("    ", "\t")):
        return True
    stripped = line.lstrip()
    return bool(
        _STRONG_CODE_RE.match(stripped)
        or _HEADER_RE.match(stripped)
        or _WEAK_CODE_RE.match(stripped)
    )


def _is_continuation(previous: list[str], paragraph: list[str]) -> bool:
    """Tell whether a paragraph is the tail of a sentence cut by a stray blank line.

    Hand-edited documents sometimes break a sentence in two ("...by following
    best" / blank / " practices such as ...").  An indented lowercase start
    after text that did not finish its sentence is rejoined instead of being
    published as two fragments.
    """
    first = paragraph[0]
    if not first[:1].isspace() or not first.lstrip()[:1].islower():
        return False
    tail = previous[-1].strip()
    if _BULLET_RE.match(tail):
        return False
    return not tail.rstrip(_CLOSERS).endswith(_SENTENCE_END)


def _render_prose(raw: list[str]) -> list[str]:
    """Render prose lines as Markdown paragraphs and ``- `` lists.

    Wrapped lines are joined with a space; bullet lines (``-``, ``*``, ``+``,
    ``•``) become ``- `` items; and a line ending in ``:`` followed by at least
    two short lines to the end of the paragraph is read as a lead-in plus a
    list, which is how such lists are typically typed in plain text.
    """
    stripped = [line.strip() for line in raw]
    n = len(stripped)
    blocks: list[str] = []
    words: list[str] = []
    i = 0
    while i < n:
        line = stripped[i]
        if _BULLET_RE.match(line):
            items: list[str] = []
            while i < n and (bullet := _BULLET_RE.match(stripped[i])):
                items.append(bullet.group(1))
                i += 1
            if words:
                blocks.append(" ".join(words))
                words = []
            blocks.append("\n".join(f"- {item}" for item in items))
            continue
        words.append(line)
        i += 1
        if line.endswith(":"):
            j = i
            while (
                j < n
                and len(stripped[j]) <= _MAX_ITEM_CHARS
                and not stripped[j].endswith(":")
                and not _BULLET_RE.match(stripped[j])
            ):
                j += 1
            if j - i >= 2 and (j == n or _BULLET_RE.match(stripped[j])):
                blocks.append(" ".join(words))
                words = []
                blocks.append("\n".join(f"- {item}" for item in stripped[i:j]))
                i = j
    if words:
        blocks.append(" ".join(words))
    return blocks


def _preview(prompt: str, limit: int = 60) -> str:
    """Quote a prompt for an error message without echoing a huge line."""
    return repr(prompt if len(prompt) <= limit else prompt[: limit - 3] + "...")
