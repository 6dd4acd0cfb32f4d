"""The bank version: a token that changes with every write to the question bank.

Triggers on the bank's tables (questions, topics, tags and the links between them) set
`bank_version.version` to a new random value in the writing transaction, so the new
value becomes visible exactly when the written rows do. Public reads of the bank are
cached per worker under that token (api/platform/http_cache.py): one indexed single-row read tells a
worker whether what it rendered before still holds.

- SQLite: row triggers (SQLite has no statement triggers); writers are serialised by
  the database lock anyway.
- PostgreSQL: one BEFORE ... FOR EACH STATEMENT trigger per table, so a writing
  statement takes the version row's lock before any row lock of its own. Bank writers
  thus queue on that one row in a single order and cannot deadlock one another over it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from psycopg import pq
from sqlalchemy import BigInteger, CheckConstraint, Integer, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db


class BankVersion(db.Model):
    """One row whose `version` every write to the bank's tables replaces, in its transaction.

    Database triggers set it (below), so a write from any worker,
    replica, CLI command or SQL console changes it. It is an opaque random token rather
    than a counter: a database restored from a backup or rebuilt from scratch never
    brings back a value that meant different content. Readers use it as a cache key.
    """

    __tablename__ = "bank_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


BANK_TABLES = ("questions", "topics", "tags", "question_topics", "question_tags")
SEED_ROW = "INSERT INTO bank_version (id, version) VALUES (1, 1)"

_SQLITE_BUMP = (
    "INSERT INTO bank_version (id, version) VALUES (1, random()) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version"
)
SQLITE_DDL = [
    f"CREATE TRIGGER IF NOT EXISTS bank_version_{table}_{event_name.lower()} "
    f"AFTER {event_name} ON {table} BEGIN {_SQLITE_BUMP}; END"
    for table in BANK_TABLES
    for event_name in ("INSERT", "UPDATE", "DELETE")
]
POSTGRESQL_DDL = [
    """CREATE OR REPLACE FUNCTION bank_version_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO bank_version (id, version) VALUES (1, (random() * 1e18)::bigint)
        ON CONFLICT (id) DO UPDATE SET version = excluded.version;
        RETURN NULL;
    END
    $$""",
    *(
        f"CREATE TRIGGER bank_version_{table} "
        f"BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION bank_version_bump()"
        for table in BANK_TABLES
    ),
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS bank_version_{table}_{event_name}"
    for table in BANK_TABLES
    for event_name in ("insert", "update", "delete")
]
POSTGRESQL_DROP = [
    *(f"DROP TRIGGER IF EXISTS bank_version_{table} ON {table}" for table in BANK_TABLES),
    "DROP FUNCTION IF EXISTS bank_version_bump()",
]


def install_versioning(connection: Connection) -> None:
    """The triggers and the row, for a schema made from the models (api/schema.py)."""
    statements = SQLITE_DDL if connection.dialect.name == "sqlite" else POSTGRESQL_DDL
    for statement in statements:
        connection.execute(text(statement))
    connection.execute(text(SEED_ROW))


def uninstall_versioning(connection: Connection) -> None:
    statements = SQLITE_DROP if connection.dialect.name == "sqlite" else POSTGRESQL_DROP
    for statement in statements:
        connection.execute(text(statement))


_READ_SQL = "SELECT version FROM bank_version WHERE id = 1"
_PREPARED = b"qbank_bank_version"
RETRY_AFTER_FAILURE = 1.0  # seconds
_READ = text(_READ_SQL)


def current() -> int | None:
    """The bank's version as this request's session sees it (None: no row)."""
    return db.session.execute(_READ).scalar()


class VersionReader:
    """This process's own autocommit connection, for reading the version on every request.

    One indexed single-row SELECT on a connection kept aside from the pool: no session,
    no transaction to open and roll back, no pre-ping. Each answer is read at the moment
    of asking, so it is never older than the last commit. Any failure (the database
    restarted, went away) drops the connection and answers None; the request then takes
    the ordinary path, which reconnects or fails as every other request does.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self._pgconn: Any = None
        self._pid = 0
        self._retry_at = 0.0
        event.listen(engine, "engine_disposed", self._on_dispose)

    def read(self) -> int | None:
        if self._connection is None or self._pid != os.getpid():
            self._connection = None  # a forked child never uses its parent's socket
            # After a failure, requests go straight to the ordinary path for a moment
            # rather than each waiting on a connect to a database that is away.
            if time.monotonic() < self._retry_at or not self._connect():
                return None
        try:
            value = self._query()
        except Exception:  # noqa: BLE001  (any driver error: fall back, reconnect later)
            self.close()
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE
            return None
        return None if value is None else int(value)

    def _query(self) -> Any:
        connection = self._connection
        if self._pgconn is not None:
            # libpq directly (psycopg.pq): a prepared statement, no cursor, no adaptation.
            # A quarter of the client CPU of cursor.execute, on every request.
            result = self._pgconn.exec_prepared(_PREPARED, None)
            if result.status != pq.ExecStatus.TUPLES_OK:
                raise RuntimeError(f"bank version read failed: {result.status.name}")
            return None if result.ntuples == 0 else result.get_value(0, 0)
        cursor = connection.cursor()
        try:
            cursor.execute(_READ_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else row[0]

    def _connect(self) -> bool:
        try:
            pooled = self._engine.raw_connection()
            pooled.detach()  # ours for good: the pool neither recycles nor hands it out
            connection = pooled.dbapi_connection
            pgconn = None
            if self._engine.dialect.name == "postgresql":
                connection.autocommit = True
                pgconn = connection.pgconn
                prepared = pgconn.prepare(_PREPARED, _READ_SQL.encode())
                if prepared.status != pq.ExecStatus.COMMAND_OK:
                    raise RuntimeError("could not prepare the bank version read")
        except Exception:  # noqa: BLE001
            logging.getLogger("api.db").warning("version reader could not connect")
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE
            return False
        self._connection, self._pgconn, self._pid = connection, pgconn, os.getpid()
        return True

    def close(self) -> None:
        connection, self._connection, self._pgconn = self._connection, None, None
        if connection is not None and self._pid == os.getpid():
            try:
                connection.close()
            except Exception:  # noqa: BLE001  (already broken: nothing left to release)
                pass

    def _on_dispose(self, _engine: Engine) -> None:
        self.close()
