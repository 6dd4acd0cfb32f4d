"""The curated bank: it covers both raw documents exactly, and seeding is idempotent."""

from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import func, select

from api.bank.models import Question, Tag, Topic
from api.bank.transfer.seeding import OUTCOMES, seed_bank
from api.bank.transfer.textparse import parse_qa_text
from api.bank.transfer.writing import read_bank_file
from api.cli import DEFAULT_BANK
from api.extensions import db
from api.platform.errors import InvalidBody
from tests.support.apps import SEED_DOCS, SEED_QUESTIONS, build_app

DOCS = ("000_becfa4df0abd7808.txt", "003_ae11068e3ef71790.txt")
BANK = read_bank_file(DEFAULT_BANK)
# A seed run's report with every outcome at zero.
NOTHING = dict.fromkeys(OUTCOMES, 0)


def parsed_docs():
    for name in DOCS:
        for item in parse_qa_text((SEED_DOCS / name).read_text(encoding="utf-8")):
            yield name, item


def test_bank_holds_every_seed_question_once():
    sources = [(s["document"], s["position"]) for q in BANK["questions"] for s in q["sources"]]
    assert len(sources) == 61
    assert len(set(sources)) == 61
    assert set(sources) == {(name, item.position) for name, item in parsed_docs()}


def test_every_phrasing_is_kept_verbatim():
    by_source = {(s["document"], s["position"]): q for q in BANK["questions"] for s in q["sources"]}
    for name, item in parsed_docs():
        question = by_source[(name, item.position)]
        assert item.prompt in [question["prompt"], *question["alternate_prompts"]]


FROM_SEED_DOCUMENTS = [q for q in BANK["questions"] if q["sources"]]
WRITTEN_FOR_THE_BANK = [q for q in BANK["questions"] if not q["sources"]]


def test_questions_asked_twice_are_merged():
    merged = [q for q in FROM_SEED_DOCUMENTS if len(q["sources"]) > 1]
    assert len(merged) == 9
    assert len(FROM_SEED_DOCUMENTS) == 61 - len(merged)
    for q in merged:
        assert len(q["alternate_prompts"]) == len(q["sources"]) - 1


def test_every_question_is_curated():
    topics = {t["slug"] for t in BANK["topics"]}
    for q in BANK["questions"]:
        assert q["topics"] and set(q["topics"]) <= topics, q["slug"]
        assert q["tags"], q["slug"]
        assert q["difficulty"] in ("easy", "medium", "hard")
        assert q["answer"].strip()
        if q["type"] == "open":
            assert 3 <= len(q["key_points"]) <= 5, q["slug"]
            assert all(p["alternatives"] for p in q["key_points"]), q["slug"]
        else:  # every choice says why it is right or wrong
            assert len(q["explanations"]) == len(q["choices"]), q["slug"]
            assert all(e.strip() for e in q["explanations"]), q["slug"]


def test_the_bank_covers_interviews_beyond_the_seeds():
    choice = [q for q in BANK["questions"] if q["type"] != "open"]
    assert len(choice) >= 40
    new_open = [q for q in WRITTEN_FOR_THE_BANK if q["type"] == "open"]
    assert len(new_open) >= 45
    assert sum(q["difficulty"] == "hard" for q in new_open) >= 15
    covered = {t for q in new_open for t in q["topics"]}
    assert {"configuration", "testing", "async", "signals", "logging", "cli"} <= covered


def test_questions_asked_again_in_other_words_are_related():
    groups: dict[str, set[str]] = {}
    for q in BANK["questions"]:
        if q.get("related_group"):
            groups.setdefault(q["related_group"], set()).add(q["slug"])
    assert groups["migrations"] == {
        "create-and-migrate-schema-flask-sqlalchemy",
        "flask-migrate",
        "database-migrations",
        "alembic-migrations-flask-sqlalchemy",
    }
    assert len(groups["authentication"]) == 4
    assert all(len(members) >= 2 for members in groups.values())


def test_rewritten_answers_keep_the_original_wording():
    rewritten = [q for q in FROM_SEED_DOCUMENTS if q.get("original_answer")]
    assert len(rewritten) >= 40
    database = next(q for q in BANK["questions"] if q["slug"] == "configure-database")
    assert "Flask-SQL." in database["original_answer"]
    assert "Flask-SQL." not in database["answer"]
    for q in rewritten:
        assert q["original_answer"].strip() != q["answer"].strip(), q["slug"]


def test_the_bank_has_a_licence():
    assert BANK["licence"]["spdx"] == "CC-BY-SA-4.0"
    assert BANK["licence"]["url"].startswith("https://creativecommons.org/licenses/by-sa/4.0")


def test_outdated_answers_carry_notes():
    by_position = {
        s["position"]: q
        for q in BANK["questions"]
        for s in q["sources"]
        if s["document"] == DOCS[0]
    }
    assert "Flask-JWT-Extended" in by_position[35]["note"]
    assert "Flask-RESTX" in by_position[46]["note"]
    assert "Flask-SQL" in by_position[16]["note"]
    assert by_position[7]["note"]
    assert by_position[1]["note"] is None


@pytest.fixture()
def fresh_app(backend, database_factory):
    app = build_app(database_factory(backend, "qbank_seed_idem"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(Question.id))),
        db.session.scalar(select(func.count(Topic.id))),
        db.session.scalar(select(func.count(Tag.id))),
    )


def test_seed_twice_doubles_nothing(fresh_app):
    first = seed_bank(bank=BANK)
    assert first.as_dict() == {**NOTHING, "created": SEED_QUESTIONS}
    after_first = counts()
    second = seed_bank(bank=BANK)
    assert second.as_dict() == {**NOTHING, "unchanged": SEED_QUESTIONS}
    assert counts() == after_first
    assert db.session.scalar(select(func.max(Question.version))) == 1


def test_changed_seed_updates_only_changed_rows(fresh_app):
    seed_bank(bank=BANK)
    changed = copy.deepcopy(BANK)
    target = changed["questions"][0]
    target["answer"] += "\n\nOne more sentence."
    target["tags"] = [*target["tags"], "new-tag"]
    before = db.session.scalar(select(Question).where(Question.slug == target["slug"]))
    stamp = before.updated_at
    report = seed_bank(bank=changed)
    assert report.as_dict() == {**NOTHING, "updated": 1, "unchanged": SEED_QUESTIONS - 1}
    db.session.expire_all()
    row = db.session.scalar(select(Question).where(Question.slug == target["slug"]))
    assert row.version == 2
    assert row.updated_at > stamp
    assert row.answer.endswith("One more sentence.")
    assert "new-tag" in [t.slug for t in row.tags]
    assert db.session.scalar(select(func.max(Question.version)).where(Question.id != row.id)) == 1


def test_cli_seed_and_import_text(fresh_app):
    runner = fresh_app.test_cli_runner()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert f"created {SEED_QUESTIONS}" in result.output
    result = runner.invoke(args=["seed"])
    assert f"unchanged {SEED_QUESTIONS}" in result.output
    for name in DOCS:
        result = runner.invoke(args=["import-text", str(SEED_DOCS / name)])
        assert result.exit_code == 0, result.output
        assert "created 0" in result.output
    assert counts()[0] == SEED_QUESTIONS


def test_import_text_into_empty_bank(fresh_app, tmp_path):
    runner = fresh_app.test_cli_runner()
    result = runner.invoke(args=["import-text", str(SEED_DOCS / DOCS[1])])
    assert result.exit_code == 0, result.output
    assert "created 11" in result.output
    rows = db.session.scalars(select(Question).order_by(Question.id)).all()
    assert [r.sources[0]["position"] for r in rows] == list(range(1, 12))
    assert rows[0].prompt == "What is Flask, and why would you choose it over Django?"
    again = runner.invoke(args=["import-text", str(SEED_DOCS / DOCS[1])])
    assert "created 0" in again.output and "unchanged 11" in again.output


def test_import_text_rejects_a_bad_document(fresh_app, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1. A question with no answer?\n")
    result = fresh_app.test_cli_runner().invoke(args=["import-text", str(bad)])
    assert result.exit_code != 0
    assert "bad.txt" in result.output
    assert counts()[0] == 0


def test_invalid_bank_file_changes_nothing(fresh_app, tmp_path):
    broken = copy.deepcopy(yaml.safe_load(DEFAULT_BANK.read_text()))
    broken["questions"][5]["difficulty"] = "impossible"
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(InvalidBody) as info:
        read_bank_file(path)
    assert "questions.5.difficulty" in str(info.value.errors) or info.value.errors
    bad_topic = copy.deepcopy(BANK)
    bad_topic["questions"][-1]["topics"] = ["no-such-topic"]
    with pytest.raises(InvalidBody):
        seed_bank(bank=bad_topic)
    assert counts() == (0, 0, 0)
