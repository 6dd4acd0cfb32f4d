"""refresh token rotation: the refresh tokens already exchanged

Revision ID: 0009_refresh_rotation
Revises: 0008_content
Create Date: 2026-12-03 07:00:00

Each refresh now returns a new refresh token and spends the one presented. A spent
token's `jti` is kept (with its session and its own expiry) in `spent_refresh_tokens`:
presented again, it is reuse and its session is revoked. Its primary key makes one of
two concurrent refreshes with the same token win. Rows can go once the token expires.
Refresh tokens issued before this revision have no row: their first refresh spends them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_refresh_rotation"
down_revision = "0008_content"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "spent_refresh_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "spent_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_spent_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_spent_refresh_tokens")),
    )
    op.create_index("ix_spent_refresh_tokens_expires_at", "spent_refresh_tokens", ["expires_at"])
    op.create_index("ix_spent_refresh_tokens_user_id", "spent_refresh_tokens", ["user_id"])


def downgrade():
    op.drop_index("ix_spent_refresh_tokens_user_id", table_name="spent_refresh_tokens")
    op.drop_index("ix_spent_refresh_tokens_expires_at", table_name="spent_refresh_tokens")
    op.drop_table("spent_refresh_tokens")
