"""Automatic channel status changes: health checks disable and re-enable, operators win.

A channel the upstream calls unusable (bad key, no credit) becomes ``auto_disabled``; a
successful probe makes it ``enabled`` again. Both are conditional updates, so they never
override an operator: a channel an operator ``disabled`` is neither auto-disabled (it keeps
the operator's reason) nor re-enabled, even when several routers race on the same channel.
"""

from __future__ import annotations

from burncloud.db.base import Database, Executor
from burncloud.services.channels import Channel, commit_channel_write
from burncloud.services.clock import now

MAX_REASON = 500  # an upstream error message can be long; the reason is for a status line


async def auto_disable(db: Database, channel_id: int, reason: str) -> bool:
    """Take an ``enabled`` channel out of rotation as ``auto_disabled``; whether it changed."""
    return await _move(db, channel_id, "enabled", "auto_disabled", _clean(reason))


async def auto_enable(db: Database, channel_id: int) -> bool:
    """Put an ``auto_disabled`` channel back in rotation; whether it changed."""
    return await _move(db, channel_id, "auto_disabled", "enabled", "")


async def auto_disabled_channels(db: Executor) -> list[Channel]:
    """The channels health checks took out of rotation, by id (never operator-disabled ones)."""
    rows = await db.fetch_all("SELECT * FROM channels WHERE status = 'auto_disabled' ORDER BY id")
    return [Channel.from_row(row) for row in rows]


async def _move(db: Database, channel_id: int, old: str, new: str, reason: str) -> bool:
    """Set status ``new`` only where it is ``old``; rebuild abilities and bump the version."""
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "UPDATE channels SET status = :new, status_reason = :reason, updated_at = :t"
            " WHERE id = :id AND status = :old RETURNING *",
            {"new": new, "old": old, "reason": reason, "t": now(), "id": channel_id},
        )
        if row is None:
            return False
        await commit_channel_write(tx, Channel.from_row(row))
        return True


def _clean(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON]
