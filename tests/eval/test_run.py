"""eval/run.py's bookkeeping: what agreement, pass rates and separation mean (no real set)."""

from __future__ import annotations

from eval.run import SplitResult, evaluate, main, meets_targets

KEY_POINTS = {"q": ["application factory", "create_app function"]}
RIGHT = "An application factory: a create_app function that builds and returns the app."


def test_rates_and_separation_follow_the_labels():
    items = [
        {"question": "q", "label": "pass", "answer": RIGHT},
        {"question": "q", "label": "fail", "answer": "I don't know."},
        # A person says pass, the grader fails it: a disagreement, and a correct answer lost.
        {"question": "q", "label": "pass", "answer": "No idea at all."},
    ]
    result = evaluate("dev", items, KEY_POINTS)
    assert result.answers == 3
    assert result.agreement == 2 / 3
    assert result.correct_pass == 1 / 2
    assert result.wrong_pass == 0.0
    assert result.separation == 0.0  # one correct answer scores no higher than the wrong one
    assert result.questions == 1


def test_targets_are_the_issues():
    good = SplitResult("heldout", 400, 0.95, 0.93, 0.02, 0.91, 52)
    assert all(meets_targets(good).values())
    bad = SplitResult("heldout", 400, 0.95, 0.93, 0.04, 0.91, 52)
    assert meets_targets(bad) == {
        "agreement": True,
        "correct_pass": True,
        "wrong_pass": False,
        "separation": True,
    }


def test_make_eval_prints_both_splits(capsys):
    assert main([]) == 0  # without --check the exit status says nothing about the numbers
    out = capsys.readouterr().out
    assert "| dev |" in out and "| heldout |" in out and "held-out:" in out


def test_tuning_reads_the_dev_split_alone(capsys):
    """What tuning uses (`--split dev --show-dev`) never grades or prints held-out answers."""
    assert main(["--split", "dev", "--show-dev"]) == 0
    out = capsys.readouterr().out
    assert "| dev |" in out
    assert "heldout" not in out and "held-out:" not in out
