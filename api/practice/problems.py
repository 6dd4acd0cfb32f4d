"""The problem types of practice (see api/platform/problems.py)."""

from api.platform.problems import register

register(
    "attempt-quota-exceeded",
    429,
    "Daily attempt quota exceeded",
    "The learner has stored `ATTEMPTS_PER_DAY` attempts today (UTC); a batch that would "
    "pass the quota is refused whole. The problem gives `limit`, `used` and `resets_at`.",
    "Wait until `resets_at` (midnight UTC, also in `Retry-After`); nothing was stored.",
)
register(
    "batch-too-large",
    413,
    "Batch too large",
    "The answers of a batch come to more than `BATCH_ANSWER_MAX_BYTES` bytes of UTF-8.",
    "Send the attempts in smaller batches; nothing was stored.",
)
