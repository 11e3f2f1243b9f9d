"""Automatic key and channel status changes: health checks disable and re-enable, operators win.

A key the upstream calls unusable (invalid, no credit) becomes ``auto_disabled`` with the
reason; when it was its channel's last enabled key, the channel becomes ``auto_disabled``
too. A successful probe makes the key ``enabled`` again, and its channel with it. All are
conditional updates, so they never override an operator: a key or channel an operator
``disabled`` is neither auto-disabled (it keeps the operator's reason) nor re-enabled,
even when several routers race on the same key. Each change raises its alert
(``channel-disabled`` with the reason, ``channel-enabled``) in the transaction that makes
it, so the router that won the race raises it, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from burncloud.db.base import Database, Executor
from burncloud.services.alerts.events import CHANNEL_DISABLED, CHANNEL_ENABLED, Event
from burncloud.services.alerts.outbox import raise_event
from burncloud.services.channel_keys import ChannelKey, enabled_key_count, summarise_keys
from burncloud.services.channels import Channel, commit_channel_write
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version

MAX_REASON = 500  # an upstream error message can be long; the reason is for a status line


@dataclass(frozen=True, slots=True)
class DisabledKey:
    """An auto-disabled key and its channel, for the prober."""

    channel: Channel
    key: ChannelKey


async def auto_disable(db: Database, channel_id: int, key_id: int, reason: str) -> bool:
    """Take an ``enabled`` key out of rotation as ``auto_disabled``, and its channel when
    no enabled key is left; whether the key changed."""
    reason, at = _clean(reason), now()
    async with db.transaction() as tx:
        if not await _move_key(tx, channel_id, key_id, "enabled", "auto_disabled", reason, at):
            return False
        if await enabled_key_count(tx, channel_id):
            await _key_event(tx, channel_id, key_id, reason, at)
            await bump_config_version(tx)
        elif not await _move(tx, channel_id, "enabled", "auto_disabled", reason, at):
            await bump_config_version(tx)  # the channel's move bumps it itself
        return True


async def auto_enable(db: Database, channel_id: int, key_id: int) -> bool:
    """Put an ``auto_disabled`` key back in rotation, and its channel when health checks
    had taken it out; whether the key changed."""
    at = now()
    async with db.transaction() as tx:
        if not await _move_key(tx, channel_id, key_id, "auto_disabled", "enabled", "", at):
            return False
        if not await _move(tx, channel_id, "auto_disabled", "enabled", "", at):
            await bump_config_version(tx)
        return True


async def auto_disabled_keys(db: Executor) -> list[DisabledKey]:
    """The keys health checks took out of rotation, by id, of channels an operator did not
    disable (never operator-disabled keys)."""
    channels = {
        row["id"]: Channel.from_row(row)
        for row in await db.fetch_all("SELECT * FROM channels WHERE status <> 'disabled'")
    }
    rows = await db.fetch_all(
        "SELECT * FROM channel_keys WHERE status = 'auto_disabled' ORDER BY id"
    )
    return [
        DisabledKey(channels[row["channel_id"]], ChannelKey.from_row(row))
        for row in rows
        if row["channel_id"] in channels
    ]


async def _move_key(
    tx: Executor, channel_id: int, key_id: int, old: str, new: str, reason: str, at: int
) -> bool:
    """Set a key's status ``new`` only where it is ``old`` and an operator has not disabled
    its channel."""
    row = await tx.fetch_one(
        "UPDATE channel_keys SET status = :new, status_reason = :reason, updated_at = :t"
        " WHERE id = :id AND channel_id = :c AND status = :old AND channel_id IN"
        " (SELECT id FROM channels WHERE status <> 'disabled') RETURNING id",
        {"new": new, "old": old, "reason": reason, "t": at, "id": key_id, "c": channel_id},
    )
    if row is None:
        return False
    await summarise_keys(tx, channel_id)
    return True


async def _key_event(tx: Executor, channel_id: int, key_id: int, reason: str, at: int) -> None:
    """The alert for one key of a channel that still serves being auto-disabled."""
    row = await tx.fetch_one("SELECT * FROM channels WHERE id = :id", {"id": channel_id})
    if row is None:
        return
    channel = Channel.from_row(row)
    left = await enabled_key_count(tx, channel_id)
    text = (
        f"Key {key_id} of channel {channel.name!r} (id {channel.id}, {channel.type}) was"
        f" auto-disabled: {reason or 'no reason given'}. {left} enabled key(s) still serve."
    )
    data = {
        "channel_id": channel.id,
        "name": channel.name,
        "type": channel.type,
        "key_id": key_id,
        "reason": reason,
    }
    event = Event(CHANNEL_DISABLED, f"channel-key-disabled:{key_id}:{at}", text, data)
    await raise_event(tx, event, at)


async def _move(tx: Executor, channel_id: int, old: str, new: str, reason: str, at: int) -> bool:
    """Set the channel's status ``new`` only where it is ``old``; rebuild its abilities and
    raise its alert."""
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
