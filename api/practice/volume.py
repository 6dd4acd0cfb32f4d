"""How much one learner may write: a daily attempt quota, a bound on a batch's answer text,
and when an offline attempt may say it was answered.

A self-registered account is cheap, so these bound what one account can store: the quota
counts every attempt stored since midnight UTC (batches included, a batch is refused whole),
and a batch's answers together stay under a byte bound whatever the 1 MiB body limit allows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from api.accounts.models import User
from api.extensions import db
from api.platform.errors import ApiError, InvalidBody
from api.practice.models import Attempt


class AttemptQuotaExceeded(ApiError):
    status = 429
    slug = "attempt-quota-exceeded"


class BatchTooLarge(ApiError):
    status = 413
    slug = "batch-too-large"


_attempts = Attempt.__table__
_users = User.__table__
_USED_TODAY = (
    select(func.count())
    .select_from(_attempts)
    .where(
        _attempts.c.user_id == bindparam("quota_user_id"),
        _attempts.c.created_at >= bindparam("quota_since"),
    )
)
# Two concurrent requests of one learner must count one after the other, or together they
# could pass the quota. On PostgreSQL the learner's row is locked first (FOR NO KEY UPDATE,
# which still lets their other rows' foreign keys be checked), in a statement of its own:
# a statement's snapshot is taken when it starts, so a count in the locking statement would
# not see the attempts the transaction it waited for committed. SQLite write requests
# already hold the database's write lock (BEGIN IMMEDIATE, api/platform/db_events.py).
_LOCK_LEARNER = (
    select(_users.c.id)
    .where(_users.c.id == bindparam("quota_user_id"))
    .with_for_update(key_share=True)
)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def claim_attempts(*, user_id: int, adding: int, per_day: int, now: datetime) -> None:
    """Refuse (429) `adding` more attempts if they would take today's past `per_day`.

    Call it inside the transaction that stores them; 0 for `per_day` means no quota.
    """
    if per_day <= 0:
        return
    since = day_start(now)
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_LEARNER, {"quota_user_id": user_id})
    params = {"quota_user_id": user_id, "quota_since": since}
    used = connection.execute(_USED_TODAY, params).scalar_one()
    if used + adding <= per_day:
        return
    resets = since + timedelta(days=1)
    wait = max(1, math.ceil((resets - now).total_seconds()))
    left = max(0, per_day - used)
    adds = f" This request adds {adding}, and {left} are left." if adding > 1 else ""
    raise AttemptQuotaExceeded(
        f"You have stored {used} of your {per_day} attempts for today (UTC).{adds} "
        f"The quota resets at {resets.isoformat()}.",
        headers={"Retry-After": str(wait)},
        limit=per_day,
        used=used,
        resets_at=resets.isoformat(),
    )


def check_batch_size(items: list[dict[str, Any]], *, max_bytes: int) -> None:
    """Refuse (413) a batch whose answers come to more than `max_bytes` of UTF-8 in all."""
    total = sum(len(item["answer"].encode()) for item in items if item.get("answer"))
    if total > max_bytes:
        raise BatchTooLarge(
            f"The batch's answers come to {total} bytes (UTF-8); a batch may carry at most "
            f"{max_bytes}. Send them in smaller batches.",
            limit=max_bytes,
            size=total,
        )


def check_answered_at(
    items: list[dict[str, Any]], *, account_created: datetime, now: datetime, skew: timedelta
) -> None:
    """Refuse (422) answer times in the future beyond `skew`, or before the account existed.

    The account's creation is taken to the whole second, as clients often send times.
    """
    joined = account_created.replace(microsecond=0)
    errors: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        at = item["answered_at"]
        if at > now + skew:
            errors[f"attempts.{i}.answered_at"] = [
                f"In the future (more than {_span(skew)} ahead of the server's clock)."
            ]
        elif at < joined:
            errors[f"attempts.{i}.answered_at"] = [
                f"Before your account was created ({joined.isoformat()})."
            ]
    if errors:
        raise InvalidBody(
            "Some attempts give an answered_at the server cannot accept.", errors=errors
        )


def before_last_review(field: str, last_reviewed_at: datetime) -> InvalidBody:
    """The error for an attempt answered before the learner's card was last reviewed."""
    last = last_reviewed_at.isoformat()
    return InvalidBody(
        f"An attempt cannot be answered before your last review of its question ({last}): "
        "upload offline attempts before answering online.",
        errors={field: [f"Before your last review of this question ({last})."]},
    )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    return f"{seconds // 60} minutes"
