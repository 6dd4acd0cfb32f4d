"""grading v2: key points with alternatives, graded attempts say how, learners override

Revision ID: 0007_grading
Revises: 0006_provenance
Create Date: 2026-12-02 16:00:00

Key points were stored as a JSON list of strings; they become a list of
{"text": ..., "alternatives": [...], "contradictions": [...]} objects (each string
becomes a point without alternatives or contradictions). A question's version and updated_at are not changed: its content is not.

Attempts gain the grader's version, its confidence and its per-key-point results, and the
learner's override: the rating they gave, when, and the rating and verdict it replaced.
Attempts graded before this revision keep NULL there (`flask regrade` can grade them again).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007_grading"
down_revision = "0006_provenance"
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api).
ATTEMPT_COLUMNS = {
    "sqlite": [
        "ALTER TABLE attempts ADD COLUMN grader_version SMALLINT",
        "ALTER TABLE attempts ADD COLUMN confidence VARCHAR(16)",
        "ALTER TABLE attempts ADD COLUMN points JSON",
        "ALTER TABLE attempts ADD COLUMN override_rating VARCHAR(8)",
        "ALTER TABLE attempts ADD COLUMN overridden_at DATETIME",
        "ALTER TABLE attempts ADD COLUMN graded_rating SMALLINT",
        "ALTER TABLE attempts ADD COLUMN graded_passed BOOLEAN",
    ],
    "postgresql": [
        "ALTER TABLE attempts ADD COLUMN grader_version SMALLINT",
        "ALTER TABLE attempts ADD COLUMN confidence VARCHAR(16)",
        "ALTER TABLE attempts ADD COLUMN points JSON",
        "ALTER TABLE attempts ADD COLUMN override_rating VARCHAR(8)",
        "ALTER TABLE attempts ADD COLUMN overridden_at TIMESTAMP WITH TIME ZONE",
        "ALTER TABLE attempts ADD COLUMN graded_rating SMALLINT",
        "ALTER TABLE attempts ADD COLUMN graded_passed BOOLEAN",
    ],
}
DROPPED = (
    "graded_passed",
    "graded_rating",
    "overridden_at",
    "override_rating",
    "points",
    "confidence",
    "grader_version",
)


def _rewrite_key_points(convert) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, key_points FROM questions")).fetchall()
    value = "CAST(:key_points AS JSON)" if bind.dialect.name == "postgresql" else ":key_points"
    update = sa.text(f"UPDATE questions SET key_points = {value} WHERE id = :id")
    for row_id, stored in rows:
        points = json.loads(stored) if isinstance(stored, str) else stored
        new = convert(points or [])
        if new != points:
            bind.execute(update, {"id": row_id, "key_points": json.dumps(new)})


def _to_objects(points):
    return [
        p if isinstance(p, dict) else {"text": p, "alternatives": [], "contradictions": []}
        for p in points
    ]


def _to_strings(points):
    return [p["text"] if isinstance(p, dict) else p for p in points]


def upgrade():
    for statement in ATTEMPT_COLUMNS[op.get_bind().dialect.name]:
        op.execute(statement)
    _rewrite_key_points(_to_objects)


def downgrade():
    _rewrite_key_points(_to_strings)
    for column in DROPPED:
        op.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
