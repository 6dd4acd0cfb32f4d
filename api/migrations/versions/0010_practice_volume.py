"""practice volume: indexes for the daily attempt quota and the idempotency purge

Revision ID: 0010_practice_volume
Revises: 0009_refresh_rotation
Create Date: 2026-12-03 07:20:00

The daily attempt quota counts a learner's attempts stored since midnight UTC
(`attempts (user_id, created_at)`); `flask purge-idempotency` deletes idempotency records
older than their lifetime (`idempotency_records (created_at)`).
"""

from alembic import op

revision = "0010_practice_volume"
down_revision = "0009_refresh_rotation"
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api).
INDEXES = {
    "ix_attempts_user_id_created_at": "attempts (user_id, created_at)",
    "ix_idempotency_records_created_at": "idempotency_records (created_at)",
}


def upgrade():
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {columns}")


def downgrade():
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
