"""choice weights: partial credit for multiple-choice questions

Revision ID: 0011_choice_weights
Revises: 0010_practice_volume
Create Date: 2026-12-03 11:00:00

Moodle's multiple-choice answers carry a fraction each (50%, 33.33333%, -100%...). An
import keeps them in `questions.choice_weights` (a JSON list, one percentage per choice,
NULL when the correct choices are simply right and the others wrong), an export writes
them back, and a choice attempt is scored by them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_choice_weights"
down_revision = "0010_practice_volume"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("questions", sa.Column("choice_weights", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("choice_weights")
