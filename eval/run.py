"""`make eval`: how well the free-text grader agrees with people, on each labelled split.

Reads eval/grading/dev.yaml and eval/grading/heldout.yaml (answers labelled pass/fail by a
person) and the bank's key points (seeds/bank.yaml), grades every answer with the API's
grader, and prints per split: agreement with the labels, the share of correct answers that
pass, the share of wrong answers that pass, and per-question separation (every correct
answer scores above every wrong one). Only aggregates are printed: the held-out answers
are never shown, and nothing here is tuned on them. A benchmark, not a test: it asserts
no rate; `--check` makes the exit status say whether the issue's held-out targets are met.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from api.practice.grading import grade_free_text

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("dev", "heldout")
# The targets for the held-out split (the grading issue).
TARGETS = {"agreement": 0.92, "correct_pass": 0.90, "wrong_pass": 0.03, "separation": 0.90}


@dataclass(frozen=True)
class SplitResult:
    split: str
    answers: int
    agreement: float
    correct_pass: float  # share of answers labelled pass that the grader passes
    wrong_pass: float  # share of answers labelled fail that the grader passes
    separation: float  # share of questions whose pass answers all outscore their fail ones
    questions: int


def key_points_by_slug(bank_path: Path) -> dict[str, list[str]]:
    bank = yaml.safe_load(bank_path.read_text(encoding="utf-8"))
    return {q["slug"]: q["key_points"] for q in bank["questions"]}


def evaluate(split: str, items: list[dict], key_points: dict[str, list[str]]) -> SplitResult:
    agree = correct = correct_passed = wrong = wrong_passed = 0
    scores: dict[str, dict[str, list[float]]] = {}
    for item in items:
        grade = grade_free_text(answer=item["answer"], key_points=key_points[item["question"]])
        label_pass = item["label"] == "pass"
        agree += grade.passed == label_pass
        if label_pass:
            correct += 1
            correct_passed += grade.passed
        else:
            wrong += 1
            wrong_passed += grade.passed
        scores.setdefault(item["question"], {"pass": [], "fail": []})[item["label"]].append(
            grade.score
        )
    judged = [s for s in scores.values() if s["pass"] and s["fail"]]
    separated = sum(min(s["pass"]) > max(s["fail"]) for s in judged)
    return SplitResult(
        split=split,
        answers=len(items),
        agreement=agree / len(items) if items else 0.0,
        correct_pass=correct_passed / correct if correct else 0.0,
        wrong_pass=wrong_passed / wrong if wrong else 0.0,
        separation=separated / len(judged) if judged else 0.0,
        questions=len(judged),
    )


def show_disagreements(items: list[dict], key_points: dict[str, list]) -> None:
    """Print the dev answers graded against their label, with what the grader saw."""
    for item in items:
        grade = grade_free_text(answer=item["answer"], key_points=key_points[item["question"]])
        if grade.passed == (item["label"] == "pass"):
            continue
        print(f"--- {item['question']} [{item['kind']}] label={item['label']} score={grade.score}")
        print(f"    {item['answer']}")
        for point in grade.points:
            mark = "+" if point.covered else ("x" if point.contradicted_by else "-")
            said = f" (contradicted by: {point.contradicted_by})" if point.contradicted_by else ""
            print(f"    {mark} {point.key_point} {list(point.words)}{said}")
    print()


def meets_targets(result: SplitResult) -> dict[str, bool]:
    return {
        "agreement": result.agreement >= TARGETS["agreement"],
        "correct_pass": result.correct_pass >= TARGETS["correct_pass"],
        "wrong_pass": result.wrong_pass <= TARGETS["wrong_pass"],
        "separation": result.separation >= TARGETS["separation"],
    }


def table(results: list[SplitResult]) -> str:
    lines = [
        "| split | answers | agreement | correct answers passing | wrong answers passing "
        "| questions separated |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.split} | {r.answers} | {r.agreement:.1%} | {r.correct_pass:.1%} "
            f"| {r.wrong_pass:.1%} | {r.separation:.1%} of {r.questions} |"
        )
    target = TARGETS
    lines.append(
        f"\nHeld-out targets: agreement >= {target['agreement']:.0%}, correct passing >= "
        f"{target['correct_pass']:.0%}, wrong passing <= {target['wrong_pass']:.0%}, "
        f"separation >= {target['separation']:.0%}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, default=ROOT / "seeds" / "bank.yaml")
    parser.add_argument("--sets", type=Path, default=ROOT / "eval" / "grading")
    parser.add_argument("--check", action="store_true", help="exit 1 unless held-out meets targets")
    parser.add_argument(
        "--show-dev",
        action="store_true",
        help="also list the dev answers the grader disagrees with (never the held-out ones)",
    )
    parser.add_argument(
        "--split", choices=SPLITS, action="append", help="only these splits (default: all)"
    )
    args = parser.parse_args(argv)
    key_points = key_points_by_slug(args.bank)
    if args.show_dev:
        dev = yaml.safe_load((args.sets / "dev.yaml").read_text(encoding="utf-8"))
        show_disagreements(dev["answers"], key_points)
    results = []
    for split in args.split or SPLITS:
        data = yaml.safe_load((args.sets / f"{split}.yaml").read_text(encoding="utf-8"))
        results.append(evaluate(split, data["answers"], key_points))
    print(table(results))
    heldout = next((r for r in results if r.split == "heldout"), None)
    if heldout is None:
        return 0
    met = meets_targets(heldout)
    print("held-out: " + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items()))
    return 0 if (not args.check or all(met.values())) else 1


if __name__ == "__main__":
    sys.exit(main())
