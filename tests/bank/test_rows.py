"""Questions rendered from Core rows (api/bank/rows.py) are what the schema dumps, byte for byte."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from api.bank import rows
from api.bank.models import Question
from api.bank.reading import attach_refs, lean
from api.bank.schemas import questions_schema, questions_with_answers_schema
from api.extensions import db

SCHEMAS = {False: questions_schema, True: questions_with_answers_schema}


def _through_the_schema(ids: list[int], with_answer: bool) -> list[dict]:
    loaded = {q.id: q for q in db.session.scalars(lean(select(Question)))}
    return SCHEMAS[with_answer].dump(attach_refs([loaded[i] for i in ids]))


def _same_bytes(ours: list[dict], theirs: list[dict]) -> None:
    # Key order too: the body a client receives is the same text either way.
    assert json.dumps(ours) == json.dumps(theirs)


@pytest.mark.parametrize("with_answer", [False, True], ids=["public", "with-answer"])
def test_every_question_of_the_bank_renders_as_the_schema_dumps_it(app, with_answer):
    with app.app_context():
        ids = list(db.session.scalars(select(Question.id).order_by(Question.id.desc())))
        assert len(ids) > 100
        ours = rows.rendered_questions(ids, with_answer=with_answer)
        _same_bytes(ours, _through_the_schema(ids, with_answer))
        assert [q["id"] for q in ours] == ids  # the order asked for, not the table's
        assert any(q["topics"] and q["tags"] for q in ours)
        assert ("answer" in ours[0]) is with_answer


def test_optional_fields_render_as_the_schema_dumps_them(app):
    """Weights, explanations, notes, several sources: what the seed bank may not hold."""
    with app.app_context():
        choice = db.session.scalars(
            select(Question).where(Question.type == "multiple_choice").limit(1)
        ).one()
        count = len(choice.choices)
        choice.correct_choices = [0]
        choice.choice_weights = [100.0] + [-25.5] * (count - 1)
        choice.explanations = [f"why {i}" for i in range(count)]
        choice.note = 'A note, with "quotes" and ünïcode.'
        choice.sources = [{"document": "a.md", "position": 3}, {"document": "b.md", "position": 1}]
        choice.related_group = "group-x"
        db.session.flush()
        try:
            for with_answer in (False, True):
                ours = rows.rendered_questions([choice.id], with_answer=with_answer)
                _same_bytes(ours, _through_the_schema([choice.id], with_answer))
            assert ours[0]["choice_weights"] == [100.0] + [-25.5] * (count - 1)
        finally:
            db.session.rollback()


def test_missing_ids_are_left_out_and_nothing_is_asked_for_none(app):
    with app.app_context():
        first = db.session.scalars(select(Question.id).order_by(Question.id)).first()
        assert [
            q["id"] for q in rows.rendered_questions([2**31 - 1, first], with_answer=False)
        ] == [first]
        assert rows.rendered_questions([], with_answer=True) == []
