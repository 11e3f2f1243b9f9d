"""Automatic channel status changes: health checks disable and re-enable, operators win.

A channel the upstream calls unusable (bad key, no credit) becomes ``auto_disabled``; a
successful probe makes it ``enabled`` again. Both are conditional updates, so they never
override an operator: a channel an operator ``disabled`` is neither auto-disabled (it keeps
the operator's reason) nor re-enabled, even when several routers race on the same channel.
Each change raises its alert (``channel-disabled`` with the reason, ``channel-enabled``) in
the transaction that makes it, so the router that won the race raises it, once.
"""

from __future__ import annotations

from burncloud.db.base import Database, Executor
from burncloud.services.alerts.events import CHANNEL_DISABLED, CHANNEL_ENABLED, Event
from burncloud.services.alerts.outbox import raise_event
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
    at = now()
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "UPDATE channels SET status = :new, status_reason = :reason, updated_at = :t"
            " WHERE id = :id AND status = :old RETURNING *",
            {"new": new, "old": old, "reason": reason, "t": at, "id": channel_id},
        )
        if row is None:
            return False
        channel = await commit_channel_write(tx, Channel.from_row(row))
        await raise_event(tx, _status_event(channel, old, at), at)
        return True


def _status_event(channel: Channel, old: str, at: int) -> Event:
    """The alert for ``channel``'s move out of status ``old`` at ``at``."""
    name = f"Channel {channel.name!r} (id {channel.id}, {channel.type})"
    data = {"channel_id": channel.id, "name": channel.name, "type": channel.type}
    if channel.status == "enabled":
        text = f"{name} answered a probe and is back in rotation (it was {old.replace('_', '-')})."
        return Event(CHANNEL_ENABLED, f"channel-enabled:{channel.id}:{at}", text, data)
    text = f"{name} was auto-disabled: {channel.status_reason or 'no reason given'}."
    data["reason"] = channel.status_reason
    return Event(CHANNEL_DISABLED, f"channel-disabled:{channel.id}:{at}", text, data)


def _clean(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON]
