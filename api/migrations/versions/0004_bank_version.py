"""bank version: a token every write to the bank's tables changes (response caching)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 22:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api); later changes go in new revisions.
# SQLite: row triggers on questions, topics, tags and their links set a new random version.
SQLITE_VERSIONING = [
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_questions_insert "
        "AFTER INSERT ON questions BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_questions_update "
        "AFTER UPDATE ON questions BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_questions_delete "
        "AFTER DELETE ON questions BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_topics_insert "
        "AFTER INSERT ON topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_topics_update "
        "AFTER UPDATE ON topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_topics_delete "
        "AFTER DELETE ON topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_tags_insert "
        "AFTER INSERT ON tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_tags_update "
        "AFTER UPDATE ON tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_tags_delete "
        "AFTER DELETE ON tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_topics_insert "
        "AFTER INSERT ON question_topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_topics_update "
        "AFTER UPDATE ON question_topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_topics_delete "
        "AFTER DELETE ON question_topics BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_tags_insert "
        "AFTER INSERT ON question_tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_tags_update "
        "AFTER UPDATE ON question_tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS bank_version_question_tags_delete "
        "AFTER DELETE ON question_tags BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    ),
]
# PostgreSQL: one BEFORE ... FOR EACH STATEMENT trigger per bank table, one shared function.
POSTGRESQL_VERSIONING = [
    """CREATE OR REPLACE FUNCTION bank_version_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO bank_version (id, version) VALUES (1, (random() * 1e18)::bigint)
        ON CONFLICT (id) DO UPDATE SET version = excluded.version;
        RETURN NULL;
    END
    $$""",
    (
        "CREATE TRIGGER bank_version_questions "
        "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON questions "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
    ),
    (
        "CREATE TRIGGER bank_version_topics "
        "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON topics "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
    ),
    (
        "CREATE TRIGGER bank_version_tags "
        "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tags "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
    ),
    (
        "CREATE TRIGGER bank_version_question_topics "
        "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON question_topics "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
    ),
    (
        "CREATE TRIGGER bank_version_question_tags "
        "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON question_tags "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
    ),
]
# The one row the triggers update (both dialects).
SEED_ROW = "INSERT INTO bank_version (id, version) VALUES (1, 1)"
SQLITE_VERSIONING_DROP = [
    "DROP TRIGGER IF EXISTS bank_version_questions_insert",
    "DROP TRIGGER IF EXISTS bank_version_questions_update",
    "DROP TRIGGER IF EXISTS bank_version_questions_delete",
    "DROP TRIGGER IF EXISTS bank_version_topics_insert",
    "DROP TRIGGER IF EXISTS bank_version_topics_update",
    "DROP TRIGGER IF EXISTS bank_version_topics_delete",
    "DROP TRIGGER IF EXISTS bank_version_tags_insert",
    "DROP TRIGGER IF EXISTS bank_version_tags_update",
    "DROP TRIGGER IF EXISTS bank_version_tags_delete",
    "DROP TRIGGER IF EXISTS bank_version_question_topics_insert",
    "DROP TRIGGER IF EXISTS bank_version_question_topics_update",
    "DROP TRIGGER IF EXISTS bank_version_question_topics_delete",
    "DROP TRIGGER IF EXISTS bank_version_question_tags_insert",
    "DROP TRIGGER IF EXISTS bank_version_question_tags_update",
    "DROP TRIGGER IF EXISTS bank_version_question_tags_delete",
]
POSTGRESQL_VERSIONING_DROP = [
    "DROP TRIGGER IF EXISTS bank_version_questions ON questions",
    "DROP TRIGGER IF EXISTS bank_version_topics ON topics",
    "DROP TRIGGER IF EXISTS bank_version_tags ON tags",
    "DROP TRIGGER IF EXISTS bank_version_question_topics ON question_topics",
    "DROP TRIGGER IF EXISTS bank_version_question_tags ON question_tags",
    "DROP FUNCTION IF EXISTS bank_version_bump()",
]


def _execute_for_dialect(sqlite_statements, postgresql_statements):
    bind = op.get_bind()
    statements = sqlite_statements if bind.dialect.name == "sqlite" else postgresql_statements
    for statement in statements:
        bind.execute(sa.text(statement))


def upgrade():
    op.create_table('bank_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_bank_version_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_version'))
    )
    # Triggers on questions, topics, tags and their links, and the one row they update.
    _execute_for_dialect(SQLITE_VERSIONING, POSTGRESQL_VERSIONING)
    op.get_bind().execute(sa.text(SEED_ROW))


def downgrade():
    _execute_for_dialect(SQLITE_VERSIONING_DROP, POSTGRESQL_VERSIONING_DROP)
    op.drop_table('bank_version')
