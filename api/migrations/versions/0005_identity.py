"""identity: user ids never reused, a per-account token key, deactivation

Revision ID: 0005_identity
Revises: 0004
Create Date: 2026-11-23 10:00:00.000000

SQLite gave a deleted newest account's id to the next registration (`users.id` had no
AUTOINCREMENT), so that account's unexpired tokens authenticated the new person. SQLite
cannot add AUTOINCREMENT to a table: `users` is rebuilt, rows kept (ids included; the
`sqlite_sequence` high-water mark starts at the largest id kept).

PostgreSQL: `users.id` draws from a sequence, which never hands a value out twice, so
only the two columns are added there.

Both: `token_key`, a random key per account that every token carries from now on (each
existing account gets its own), and `deactivated_at`. Tokens issued before this revision
carry no key and are refused: everyone logs in once more.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_identity'
down_revision = '0004'
branch_labels = None
depends_on = None

# DDL frozen as applied at this revision (not imported from api); later changes go in new revisions.
SQLITE_USERS_0005 = """CREATE TABLE users (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    email VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) DEFAULT 'learner' NOT NULL,
    display_name VARCHAR(80) DEFAULT '' NOT NULL,
    timezone VARCHAR(64) DEFAULT 'UTC' NOT NULL,
    token_key VARCHAR(32) NOT NULL,
    deactivated_at DATETIME,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
    CONSTRAINT ck_users_role_allowed CHECK (role IN ('learner', 'editor', 'admin')),
    CONSTRAINT uq_users_email UNIQUE (email)
)"""
SQLITE_COPY_UP = (
    "INSERT INTO users (id, email, password_hash, role, display_name, timezone, token_key, "
    "deactivated_at, created_at, updated_at) "
    "SELECT id, email, password_hash, role, display_name, timezone, lower(hex(randomblob(16))), "
    "NULL, created_at, updated_at FROM users_0004 ORDER BY id"
)
# As 0002 made it.
SQLITE_USERS_0004 = """CREATE TABLE users (
    id INTEGER NOT NULL,
    email VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) DEFAULT 'learner' NOT NULL,
    display_name VARCHAR(80) DEFAULT '' NOT NULL,
    timezone VARCHAR(64) DEFAULT 'UTC' NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT ck_users_role_allowed CHECK (role IN ('learner', 'editor', 'admin')),
    CONSTRAINT uq_users_email UNIQUE (email)
)"""
SQLITE_COPY_DOWN = (
    "INSERT INTO users (id, email, password_hash, role, display_name, timezone, created_at, "
    "updated_at) SELECT id, email, password_hash, role, display_name, timezone, created_at, "
    "updated_at FROM users_0004 ORDER BY id"
)
SQLITE_INDEX = "CREATE INDEX ix_users_role_id ON users (role, id)"

POSTGRESQL_UP = [
    "ALTER TABLE users ADD COLUMN token_key VARCHAR(32)",
    "UPDATE users SET token_key = replace(gen_random_uuid()::text, '-', '')",
    "ALTER TABLE users ALTER COLUMN token_key SET NOT NULL",
    "ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMP WITH TIME ZONE",
]
POSTGRESQL_DOWN = [
    "ALTER TABLE users DROP COLUMN deactivated_at",
    "ALTER TABLE users DROP COLUMN token_key",
]


def _rebuild_sqlite_users(create_sql, copy_sql):
    """Replace `users` by a table made with `create_sql`, its rows copied by `copy_sql`.

    SQLite's own recipe (https://sqlite.org/lang_altertable.html#otheralter). Dropping a
    table with foreign keys enforced first deletes its rows, and with them (ON DELETE
    CASCADE) every attempt, quiz and review state: enforcement is turned off, which
    SQLite only allows outside a transaction, hence the autocommit block and the explicit
    transaction inside it. legacy_alter_table keeps the children's references naming
    `users` while the old table is renamed away. The copy is checked before it commits.
    """
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        run = bind.exec_driver_sql
        foreign_keys = run("PRAGMA foreign_keys").scalar()
        run("PRAGMA foreign_keys=OFF")
        run("PRAGMA legacy_alter_table=ON")
        try:
            run("BEGIN IMMEDIATE")
            try:
                run("ALTER TABLE users RENAME TO users_0004")
                run("DROP INDEX ix_users_role_id")
                run(create_sql)
                run(copy_sql)
                run("DROP TABLE users_0004")
                run(SQLITE_INDEX)
                broken = run("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"users rebuild would break foreign keys: {broken[:5]}")
            except BaseException:
                run("ROLLBACK")
                raise
            run("COMMIT")
        finally:
            run("PRAGMA legacy_alter_table=OFF")
            run(f"PRAGMA foreign_keys={int(bool(foreign_keys))}")


def _users_sql():
    return op.get_bind().exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'"
    ).scalar()


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # The rebuild commits on its own: if the process died before this revision was
        # recorded, the next run finds the table already rebuilt and leaves it.
        if "AUTOINCREMENT" not in _users_sql():
            _rebuild_sqlite_users(SQLITE_USERS_0005, SQLITE_COPY_UP)
    else:
        for statement in POSTGRESQL_UP:
            op.get_bind().execute(sa.text(statement))


def downgrade():
    # Downgrading lets SQLite reuse ids again; tokens stop carrying a checked key.
    if op.get_bind().dialect.name == "sqlite":
        if "AUTOINCREMENT" in _users_sql():
            _rebuild_sqlite_users(SQLITE_USERS_0004, SQLITE_COPY_DOWN)
    else:
        for statement in POSTGRESQL_DOWN:
            op.get_bind().execute(sa.text(statement))
