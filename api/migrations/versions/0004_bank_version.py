"""bank version: a token every write to the bank's tables changes (response caching)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 22:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

from api.services.versioning import install_versioning, uninstall_versioning


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_bank_version_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_version'))
    )
    # Triggers on questions, topics, tags and their links, and the one row they update.
    install_versioning(op.get_bind())


def downgrade():
    uninstall_versioning(op.get_bind())
    op.drop_table('bank_version')
