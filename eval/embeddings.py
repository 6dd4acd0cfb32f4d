"""An approach beyond word matching, measured beside the adopted grader: WordLlama.

WordLlama (MIT licence, https://github.com/dleemiller/WordLlama) ships a 256-dimension
static token-embedding model inside its PyPI package, so nothing is fetched at run time
(``disable_download=True`` below makes sure of it). Here a key point counts as covered
when the lexical grader covers it, or when one of its phrasings embeds close enough to a
clause of the answer (cosine similarity at least ``--threshold``); the score and pass rule
are the grader's. ``python -m eval.embeddings`` prints the same table as ``make eval``
for both graders; eval/README.md records what was measured and what was decided.
Install the extra first: ``.venv/bin/pip install -e '.[eval]'``.
"""

from __future__ import annotations

import argparse
import re
import sys
from functools import lru_cache
from pathlib import Path

import wordllama
import yaml
from wordllama import WordLlama

from api.practice import grading
from eval.run import ROOT, SPLITS, SplitResult, key_points_by_slug, table

_CLAUSES = re.compile(r"[.;:!?\n]+")


@lru_cache(maxsize=1)
def model() -> WordLlama:
    # The package's own weights and tokenizer (WordLlama.load looks in a "tokenizer"
    # folder, the wheel ships "tokenizers": point cache_dir at the package instead).
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def embedded_grade(answer: str, key_points: list, threshold: float) -> tuple[float, bool]:
    """The grader's score, with a missed (not contradicted) point covered by similarity."""
    lexical = grading.grade_free_text(answer=answer, key_points=key_points)
    clauses = [c.strip() for c in _CLAUSES.split(answer) if c.strip()] or [answer]
    credits = []
    for point, result in zip(
        (grading.KeyPoint.of(p) for p in key_points), lexical.points, strict=True
    ):
        if result.covered:
            credits.append(result.credit)
            continue
        if result.contradicted_by:
            credits.append(0.0)
            continue
        best = max(
            float(model().similarity(phrasing, clause))
            for phrasing in point.phrasings
            for clause in clauses
        )
        credits.append(grading.PART_CREDIT if best >= threshold else 0.0)
    score = round(sum(credits) / len(credits), 3)
    return score, score >= grading.PASS_MARK


def evaluate(split: str, items: list[dict], key_points: dict, threshold: float) -> SplitResult:
    agree = correct = correct_passed = wrong = wrong_passed = 0
    scores: dict[str, dict[str, list[float]]] = {}
    for item in items:
        score, passed = embedded_grade(item["answer"], key_points[item["question"]], threshold)
        label_pass = item["label"] == "pass"
        agree += passed == label_pass
        if label_pass:
            correct += 1
            correct_passed += passed
        else:
            wrong += 1
            wrong_passed += passed
        scores.setdefault(item["question"], {"pass": [], "fail": []})[item["label"]].append(score)
    judged = [s for s in scores.values() if s["pass"] and s["fail"]]
    return SplitResult(
        split=f"{split} (+ WordLlama >= {threshold})",
        answers=len(items),
        agreement=agree / len(items),
        correct_pass=correct_passed / correct,
        wrong_pass=wrong_passed / wrong,
        separation=sum(min(s["pass"]) > max(s["fail"]) for s in judged) / len(judged),
        questions=len(judged),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--split", choices=SPLITS, action="append")
    args = parser.parse_args(argv)
    key_points = key_points_by_slug(ROOT / "seeds" / "bank.yaml")
    results = []
    for split in args.split or SPLITS:
        data = yaml.safe_load((ROOT / "eval" / "grading" / f"{split}.yaml").read_text("utf-8"))
        results.append(evaluate(split, data["answers"], key_points, args.threshold))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
