"""Idempotent POSTs: a repeated `Idempotency-Key` gets the first response back.

The record is written in the same transaction as the work it stands for, so a
request either leaves both or neither. Two concurrent requests with one key race
on the unique (user, key) constraint: the loser rolls back its work and replays
the winner's response.

A record is kept for IDEMPOTENCY_KEY_LIFETIME (24 hours by default): after that its key is
treated as new (the request runs again and a new record replaces the old one), and
`flask purge-idempotency` deletes the expired records (`purge_expired`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from api.extensions import db
from api.platform.db_types import utcnow
from api.platform.errors import InvalidBody
from api.practice.models import IdempotencyRecord

KEY_MAX = 255


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    location: str | None = None
    replayed: bool = False


def request_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Core statements built once: a keyed POST runs both (the ORM would add a load and a flush).
_records = IdempotencyRecord.__table__
_THIS_KEY = (
    _records.c.user_id == bindparam("record_user_id"),
    _records.c.key == bindparam("record_key"),
)
_STORED = select(
    _records.c.request_hash,
    _records.c.status,
    _records.c.body,
    _records.c.location,
    _records.c.created_at,
).where(*_THIS_KEY)
_INSERT = insert(_records)
_FORGET = delete(_records).where(*_THIS_KEY, _records.c.created_at < bindparam("record_before"))


def _stored(user_id: int, key: str) -> Row | None:
    params = {"record_user_id": user_id, "record_key": key}
    return db.session.connection().execute(_STORED, params).first()


def _replay(record: Row, fingerprint: str) -> Outcome:
    if record.request_hash != fingerprint:
        raise InvalidBody(
            "This Idempotency-Key was used for a different request; use a new key.",
            errors={"Idempotency-Key": ["Already used with a different body."]},
        )
    return Outcome(record.status, record.body, record.location, replayed=True)


def run_once(
    *,
    user_id: int,
    key: str | None,
    fingerprint: str,
    action: Callable[[], Outcome],
    lifetime: timedelta,
) -> Outcome:
    """Run `action` (which flushes but never commits) and commit it, at most once per key.

    A key's record older than `lifetime` is expired: it is deleted (with the new work, in
    one transaction) and the request runs as if the key were new.
    """
    if key is not None:
        found = _stored(user_id, key)
        if found is not None:
            expired_before = utcnow() - lifetime
            if found.created_at >= expired_before:
                db.session.rollback()
                return _replay(found, fingerprint)
            db.session.connection().execute(
                _FORGET,
                {"record_user_id": user_id, "record_key": key, "record_before": expired_before},
            )
    try:
        outcome = action()
        if key is not None:
            db.session.connection().execute(
                _INSERT,
                {
                    "user_id": user_id,
                    "key": key,
                    "request_hash": fingerprint,
                    "status": outcome.status,
                    "body": outcome.body,
                    "location": outcome.location,
                },
            )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        found = _stored(user_id, key) if key is not None else None
        if found is None:
            raise
        return _replay(found, fingerprint)
    except Exception:
        db.session.rollback()
        raise
    return outcome


def purge_expired(*, lifetime: timedelta, now: datetime | None = None) -> int:
    """Delete the records older than `lifetime` (their keys count as new anyway); how many."""
    before = (now or utcnow()) - lifetime
    deleted = db.session.execute(delete(_records).where(_records.c.created_at < before))
    db.session.commit()
    return deleted.rowcount
