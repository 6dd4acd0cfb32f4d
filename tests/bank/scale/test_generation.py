"""The gen-bank command, and the generator word the search tests count on."""

from __future__ import annotations

import pytest

from api.bank.synthetic import TAGS, TOPICS, WORDS
from api.extensions import db
from tests.support.apps import build_app
from tests.support.scale import URL, WORD, Bank

pytestmark = pytest.mark.slow


def test_gen_bank_command(backend, database_factory):
    """`flask gen-bank N` adds N questions with their topics and tags, and runs again."""
    app = build_app(database_factory(backend, "qbank_scale_cli"))
    with app.app_context():
        cli_bank = Bank(backend, app, db.engine)
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(args=["gen-bank", "40", "--seed", "7"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "generated 40 questions"
        result = runner.invoke(args=["gen-bank", "3"])
        assert result.exit_code == 0, result.output

        ids = [row[0] for row in cli_bank.sql("SELECT id FROM questions ORDER BY id")]
        assert ids == list(range(1, 44))
        assert cli_bank.sql("SELECT count(*) FROM topics") == [(TOPICS,)]
        assert cli_bank.sql("SELECT count(*) FROM tags") == [(TAGS,)]
        unlinked = "SELECT count(*) FROM questions WHERE id NOT IN (SELECT question_id FROM {})"
        assert cli_bank.sql(unlinked.format("question_topics")) == [(0,)]
        assert cli_bank.sql(unlinked.format("question_tags")) == [(0,)]
        response, _ = cli_bank.get(f"{URL}?per_page=100")
        assert response.headers["X-Total-Count"] == "43"
        assert [q["id"] for q in response.get_json()["data"]] == ids
    finally:
        cli_bank.engine.dispose()


def test_generated_words_are_the_generator_vocabulary():
    """WORD must stay a word no other generated word starts with (see WORD above)."""
    assert WORD in WORDS
    assert [w for w in WORDS if w.startswith(WORD[:4])] == [WORD]
