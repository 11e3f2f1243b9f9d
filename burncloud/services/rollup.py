"""How long the per-minute rollup is kept, and pruning it.

``log_minutes`` holds one row per minute and model, channel, token and user: kept forever
it would outgrow the logs' own index. Minutes older than ``MINUTES_KEPT`` are deleted
(whole hours at a time; ``log_hours`` keeps their totals), and the first minute still kept
is recorded, so a stats window that starts before it starts at its hour instead of
silently missing minutes.
"""

from __future__ import annotations

from burncloud.db.base import Database, Executor

MINUTES_KEPT = 48 * 3600  # seconds of per-minute rows kept
_KEPT_FROM = "rollup.minutes_kept_from"


async def prune_minutes(db: Database, now: int) -> int:
    """Delete the minute rows from before ``now - MINUTES_KEPT`` (an hour boundary); how many."""
    cutoff = now - MINUTES_KEPT
    cutoff -= cutoff % 3600
    async with db.transaction() as tx:
        deleted = await tx.execute("DELETE FROM log_minutes WHERE minute < :c", {"c": cutoff})
        kept_from = await minutes_kept_from(tx)
        if cutoff > kept_from:  # not a config change: no version bump, no reloads
            await tx.execute(
                "INSERT INTO settings (key, value) VALUES (:k, :v)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"k": _KEPT_FROM, "v": str(cutoff)},
            )
    return deleted


async def minutes_kept_from(db: Executor) -> int:
    """The first minute whose rows are still kept (0: nothing was pruned yet)."""
    value = await db.fetch_value("SELECT value FROM settings WHERE key = :k", {"k": _KEPT_FROM})
    return int(value) if value is not None else 0
