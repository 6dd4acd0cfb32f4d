"""What the app's database engine does on connect, checkout and BEGIN.

Registered on the app's own engine by `init_app`, never on SQLAlchemy's global classes,
so an engine made elsewhere (a script, another app in the same process) is untouched.
"""

from __future__ import annotations

import select

import psycopg
from flask import Flask, has_request_context, request
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from api.extensions import db

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine.pool, "checkout", _check_connection_alive)


def _check_connection_alive(dbapi_connection, _record, _proxy) -> None:
    """A pooled PostgreSQL connection whose server went away is replaced, not handed out.

    SQLAlchemy's pre-ping would send a query (three round trips with psycopg's
    autocommit switch) before every request. An idle connection has nothing to read
    unless its server closed it or said it is closing it (a restart, a crash, an
    administrator's kill all do): one non-blocking poll of the socket tells. The pool
    then drops it and connects again. A server that vanished without a word is found
    by the request's first query instead, which answers 503 and invalidates the pool.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return  # SQLite: a file, nothing to lose
    try:
        alive = (
            pgconn.status == pq.ConnStatus.OK and not select.select([pgconn.socket], [], [], 0)[0]
        )
    except (OSError, ValueError, psycopg.Error):
        alive = False
    if not alive:
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL for concurrent readers, enforced foreign keys, and waiting rather than failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The driver's own implicit BEGIN is turned off: _sqlite_begin below chooses the kind.
    dbapi_connection.isolation_level = None


def wants_write_lock() -> bool:
    """A transaction opened outside a request (CLI, seeding) or by a write request."""
    return not has_request_context() or request.method not in READ_METHODS


def _sqlite_begin(connection) -> None:
    """Writers take SQLite's write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is
    locked" when another worker committed in between (WAL snapshots cannot be
    upgraded); taking the lock at BEGIN makes concurrent writers wait their turn
    (busy_timeout) instead. Reads keep plain BEGIN and run alongside writers. Which
    kind a transaction is follows from the HTTP method of the request that opens it.
    """
    if connection.dialect.name != "sqlite":
        return
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        # Asked for no transaction (a migration changing PRAGMA foreign_keys, which SQLite
        # ignores inside one): none is opened.
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if wants_write_lock() else "BEGIN")
