"""A `limits` storage in a SQLite file: rate-limit counters shared by every worker of a machine.

Without Redis, Flask-Limiter's ``memory://`` storage counts per process, so with gunicorn's
N workers a limit let N times its value through and ``X-RateLimit-Remaining`` depended on
which worker answered. This storage keeps the counters in one SQLite file (the default is
``instance/ratelimits.sqlite3``, see config.py) that every worker opens: one
``INSERT ... ON CONFLICT ... RETURNING`` statement increments a counter and starts a new
window when the old one has expired, atomically, whichever worker runs it. The file is in
WAL mode, so reads never wait for a writer; writers queue on SQLite's lock (a busy timeout,
not an error). It serves the fixed-window strategy the limiter uses (ratelimit.py); a
negative increment (a refund) never starts a window below zero.

``limits`` picks a storage class by the URI's scheme from the subclasses of
:class:`limits.storage.Storage`, so defining this class is what makes ``sqlite://`` a
storage URI: ``sqlite:///absolute/path.sqlite3`` (``sqlite:////absolute/...``, SQLAlchemy's
spelling, means the same). The limiter's error handling applies as to Redis: a file that
cannot be written makes it fall back to per-process memory with a warning (ratelimit.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import Storage

# Seconds a counter update waits for another worker's write before it fails (and the
# limiter falls back to memory): far longer than any single-row write takes.
BUSY_TIMEOUT = 5.0
# Expired counters are deleted by whichever worker first writes after this many seconds.
PURGE_EVERY = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""
INCREMENT = """
INSERT INTO counters (key, value, expires_at) VALUES (:key, MAX(:amount, 0), :now + :expiry)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN expires_at <= :now THEN MAX(:amount, 0) ELSE value + :amount END,
    expires_at = CASE WHEN expires_at <= :now THEN :now + :expiry ELSE expires_at END
RETURNING value
"""


def database_path(uri: str) -> Path:
    """The file of ``sqlite:///path`` (or ``sqlite:////path``); only absolute paths."""
    _, _, rest = uri.partition("://")
    if rest.startswith("//"):
        rest = rest[1:]
    path = Path(rest)
    if not path.is_absolute():
        raise ValueError(f"rate-limit storage {uri!r}: give an absolute path, sqlite:///dir/file")
    return path


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file, one connection per process and thread."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = database_path(uri)
        self._local = threading.local()
        self._next_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened anew in a forked worker (never shared across a fork)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: each statement commits on its own, as one atomic write.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a crash may lose the last counts only
            conn.execute(SCHEMA)
            local.conn, local.pid = conn, os.getpid()
        return local.conn

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        conn = self._connection()
        (value,) = conn.execute(
            INCREMENT, {"key": key, "amount": amount, "now": now, "expiry": expiry}
        ).fetchone()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            conn.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return int(value)

    def get(self, key: str) -> int:
        row = (
            self._connection()
            .execute(
                "SELECT value FROM counters WHERE key = ? AND expires_at > ?", (key, time.time())
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = (
            self._connection()
            .execute("SELECT expires_at FROM counters WHERE key = ? AND expires_at > ?", (key, now))
            .fetchone()
        )
        return float(row[0]) if row else now

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1 FROM counters LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counters WHERE key = ?", (key,))
