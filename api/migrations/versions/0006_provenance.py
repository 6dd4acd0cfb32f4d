"""nothing lost: seed records, tombstones, ids never reused on SQLite

Revision ID: 0006_provenance
Revises: 0005_identity
Create Date: 2026-12-02 14:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006_provenance"
down_revision = "0005_identity"
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api); later changes go in new
# revisions. SQLite can only give a table AUTOINCREMENT by rebuilding it: create the new
# table, copy the rows (ids kept), drop the old one, rename, then recreate its indexes and
# the triggers that were dropped with it (full-text search, bank version). env.py turns
# foreign key enforcement off around the migration, so dropping the old table cascades to
# nothing, and checks the keys before committing.
SQLITE_QUESTIONS = """CREATE TABLE questions_rebuilt (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	slug VARCHAR(120) NOT NULL,
	prompt TEXT NOT NULL,
	answer TEXT NOT NULL,
	key_points JSON NOT NULL,
	note TEXT,
	difficulty SMALLINT NOT NULL,
	type VARCHAR(20) NOT NULL,
	choices JSON,
	correct_choices JSON,
	alternate_prompts JSON NOT NULL,
	sources JSON NOT NULL,
	search_text TEXT NOT NULL,
	version INTEGER NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT ck_questions_difficulty_range CHECK (difficulty BETWEEN 1 AND 3),
	CONSTRAINT ck_questions_type_allowed CHECK (type IN ('open', 'multiple_choice', 'true_false')),
	CONSTRAINT uq_questions_slug UNIQUE (slug)
)"""
SQLITE_QUESTIONS_COLUMNS = (
    "id, slug, prompt, answer, key_points, note, difficulty, type, choices, correct_choices, "
    "alternate_prompts, sources, search_text, version, created_at, updated_at"
)
SQLITE_QUESTIONS_AFTER = [
    "CREATE INDEX ix_questions_created_at_id ON questions (created_at, id)",
    "CREATE INDEX ix_questions_difficulty_id ON questions (difficulty, id)",
    "CREATE INDEX ix_questions_type_id ON questions (type, id)",
    "CREATE INDEX ix_questions_updated_at_id ON questions (updated_at, id)",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_ai AFTER INSERT ON questions BEGIN
        INSERT INTO questions_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_ad AFTER DELETE ON questions BEGIN
        INSERT INTO questions_fts(questions_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS questions_fts_au AFTER UPDATE OF search_text ON questions
    BEGIN
        INSERT INTO questions_fts(questions_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO questions_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    *(
        f"CREATE TRIGGER IF NOT EXISTS bank_version_questions_{event.lower()} "
        f"AFTER {event} ON questions BEGIN "
        "INSERT INTO bank_version (id, version) VALUES (1, random()) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
]
SQLITE_TOPICS = """CREATE TABLE topics_rebuilt (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	slug VARCHAR(64) NOT NULL,
	name VARCHAR(120) NOT NULL,
	description TEXT NOT NULL,
	version INTEGER NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT uq_topics_slug UNIQUE (slug)
)"""
SQLITE_TOPICS_COLUMNS = "id, slug, name, description, version, created_at, updated_at"
SQLITE_TOPICS_AFTER = [
    f"CREATE TRIGGER IF NOT EXISTS bank_version_topics_{event.lower()} "
    f"AFTER {event} ON topics BEGIN "
    "INSERT INTO bank_version (id, version) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version; END"
    for event in ("INSERT", "UPDATE", "DELETE")
]


def _rebuild(bind, table, create, columns, after):
    bind.execute(sa.text(create))
    bind.execute(
        sa.text(f"INSERT INTO {table}_rebuilt ({columns}) SELECT {columns} FROM {table}")
    )
    bind.execute(sa.text(f"DROP TABLE {table}"))
    bind.execute(sa.text(f"ALTER TABLE {table}_rebuilt RENAME TO {table}"))
    for statement in after:
        bind.execute(sa.text(statement))


def upgrade():
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('question', 'topic')", name=op.f("ck_tombstones_kind_allowed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tombstones_deleted_at_id", "tombstones", ["deleted_at", "id"])
    op.create_index("ix_tombstones_kind_row_id", "tombstones", ["kind", "row_id"])
    op.create_table(
        "seed_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seed_key", sa.String(length=120), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('question', 'topic')", name=op.f("ck_seed_records_kind_allowed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_records")),
        sa.UniqueConstraint("kind", "seed_key", name="uq_seed_records_kind_seed_key"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # PostgreSQL's sequences never hand out an id twice; SQLite without AUTOINCREMENT
        # gives the id of a deleted newest row to the next one.
        _rebuild(bind, "questions", SQLITE_QUESTIONS, SQLITE_QUESTIONS_COLUMNS,
                 SQLITE_QUESTIONS_AFTER)
        _rebuild(bind, "topics", SQLITE_TOPICS, SQLITE_TOPICS_COLUMNS, SQLITE_TOPICS_AFTER)


def downgrade():
    # The SQLite tables keep AUTOINCREMENT: ids that were never reused stay that way.
    op.drop_table("seed_records")
    op.drop_index("ix_tombstones_kind_row_id", table_name="tombstones")
    op.drop_index("ix_tombstones_deleted_at_id", table_name="tombstones")
    op.drop_table("tombstones")
