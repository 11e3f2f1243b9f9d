"""Keeping a channel's models in step with what its upstream offers.

A channel's models are the public names clients ask for; its model map may send one to
another upstream name. The diff (``plan_sync``, pure) is by upstream name: a model is
still offered when the upstream lists the name it maps to. A model the upstream offers
and no model of the channel reaches is added under its upstream name; a model whose
upstream name is no longer listed vanished, and is removed (with its map entry) unless
the sync is ``add_only``. A sync writes through ``update_channel`` (audited, routers
reload), is recorded in ``channel_model_syncs`` (when, what it added and removed, or why
it failed), and, when automatic, raises the ``channel-models`` alert when models appeared
or vanished. An upstream that lists nothing leaves the channel as it is: no sync empties
a channel.

Models without a list price are listed as such: as for any model, the relay serves one
only once it is priced (``burncloud price set``; 403 ``model_price_not_set`` until then).
Automatic syncs are claimed per channel with a conditional upsert on ``synced_at``, so one
router of a fleet syncs a channel once per interval (``claim_due_syncs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from burncloud.crypto import SecretBox
from burncloud.db.base import Database, Executor
from burncloud.errors import BurncloudError, UpstreamError
from burncloud.services.alerts.events import CHANNEL_MODELS, Event
from burncloud.services.alerts.outbox import raise_event
from burncloud.services.channels import Channel, get_channel, update_channel
from burncloud.services.clock import now
from burncloud.services.model_listing import JsonGetter, UpstreamModels, fetch_upstream_models
from burncloud.services.prices import load_price_table
from burncloud.services.tokens import split_list

RETRY_FAILED = 3600  # seconds before a failed automatic sync is tried again (if sooner)
SHOWN_IN_ALERT = 20  # model names an alert's text lists of each change, at most


@dataclass(frozen=True, slots=True)
class ModelDiff:
    """What a sync changes: ``models`` and ``model_map`` are the channel's afterwards."""

    added: tuple[str, ...]
    vanished: tuple[str, ...]  # the upstream no longer offers them
    removed: tuple[str, ...]  # the vanished that leave the channel (none when add-only)
    models: tuple[str, ...]
    model_map: dict[str, str]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass(frozen=True, slots=True)
class ChannelModel:
    """One model of a channel: the name clients use, the upstream's, and if it is priced."""

    model: str
    upstream: str
    priced: bool

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "upstream": self.upstream, "priced": self.priced}


@dataclass(frozen=True, slots=True)
class OfferedModel:
    """One model an upstream offers: the channel model serving it, if any, and whether
    that model (or, for a new one, its upstream name) is priced."""

    model: str
    served_as: str | None
    priced: bool

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "served_as": self.served_as, "priced": self.priced}


@dataclass(frozen=True, slots=True)
class SyncResult:
    """A sync's outcome; ``applied`` when the channel changed (never on a dry run)."""

    channel_id: int
    name: str
    offered: tuple[str, ...]
    added: tuple[str, ...]
    vanished: tuple[str, ...]
    removed: tuple[str, ...]
    models: tuple[str, ...]
    unpriced: tuple[str, ...]  # of ``models``: never served until priced
    source: str  # "upstream" or "config" (``UpstreamModels.source``)
    add_only: bool
    dry_run: bool
    applied: bool

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: list(value) if isinstance(value := getattr(self, f.name), tuple) else value
            for f in fields(self)
        }


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """A channel's last sync as stored: when, what it added and removed, or its error."""

    channel_id: int
    synced_at: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "synced_at": self.synced_at,
            "added": list(self.added),
            "removed": list(self.removed),
            "error": self.error,
        }


def plan_sync(
    models: Sequence[str],
    model_map: Mapping[str, str],
    offered: Sequence[str],
    add_only: bool = False,
) -> ModelDiff:
    """The change that brings a channel with ``models`` and ``model_map`` in step with the
    upstream models ``offered``; UpstreamError when nothing is offered."""
    if not offered:
        raise UpstreamError("the upstream lists no models: the channel is left as it is")
    listed = set(offered)
    reached = {model_map.get(model, model) for model in models}
    added = tuple(sorted(m for m in listed if m not in reached and m not in models))
    vanished = tuple(m for m in models if model_map.get(m, m) not in listed)
    removed = () if add_only else vanished
    kept = tuple(m for m in models if m not in removed) + added
    kept_map = {model: target for model, target in model_map.items() if model in kept}
    return ModelDiff(added, vanished, removed, kept, kept_map)


async def channel_models(db: Executor, channel_id: int) -> list[ChannelModel]:
    """A channel's models with their upstream names and whether each is priced."""
    channel = await get_channel(db, channel_id)
    prices = await load_price_table(db)
    return [
        ChannelModel(model, channel.model_map.get(model, model), model in prices)
        for model in channel.models
    ]


async def offered_models(
    db: Executor, channel: Channel, upstream: UpstreamModels
) -> list[OfferedModel]:
    """The upstream's models as the channel sees them: which of its models serves each."""
    prices = await load_price_table(db)
    serving = {channel.model_map.get(model, model): model for model in channel.models}
    return [
        OfferedModel(model, serving.get(model), serving.get(model, model) in prices)
        for model in upstream.models
    ]


async def sync_channel_models(
    db: Database,
    box: SecretBox,
    channel_id: int,
    getter: JsonGetter,
    *,
    add_only: bool = False,
    dry_run: bool = False,
    alert: bool = False,
) -> SyncResult:
    """Bring channel ``channel_id``'s models in step with its upstream (``plan_sync``);
    a dry run changes and records nothing. ``alert``: raise ``channel-models`` when models
    appeared or vanished (the automatic syncs do). A failed listing is recorded, then
    raised."""
    channel = await get_channel(db, channel_id)
    at = now()
    try:
        upstream = await fetch_upstream_models(db, box, channel_id, getter)
        diff = plan_sync(channel.models, channel.model_map, upstream.models, add_only)
        if diff.changed and not dry_run:
            await update_channel(db, None, channel_id, models=diff.models, model_map=diff.model_map)
    except BurncloudError as exc:
        if not dry_run:
            await record_failure(db, channel_id, at, exc.message)
        raise
    result = await _result(db, channel, upstream, diff, add_only, dry_run)
    if not dry_run:
        async with db.transaction() as tx:
            await _record(tx, channel_id, at, diff.added, diff.removed, "")
            if alert and (diff.added or diff.vanished):
                await raise_event(tx, models_event(channel, result, at), at)
    return result


async def _result(
    db: Executor,
    channel: Channel,
    upstream: UpstreamModels,
    diff: ModelDiff,
    add_only: bool,
    dry_run: bool,
) -> SyncResult:
    prices = await load_price_table(db)
    return SyncResult(
        channel_id=channel.id,
        name=channel.name,
        offered=upstream.models,
        added=diff.added,
        vanished=diff.vanished,
        removed=diff.removed,
        models=diff.models,
        unpriced=tuple(model for model in diff.models if model not in prices),
        source=upstream.source,
        add_only=add_only,
        dry_run=dry_run,
        applied=diff.changed and not dry_run,
    )


def models_event(channel: Channel, result: SyncResult, at: int) -> Event:
    """The ``channel-models`` alert for a sync that saw models appear or vanish."""
    name = f"Channel {channel.name!r} (id {channel.id}, {channel.type})"
    parts = []
    if result.added:
        parts.append(f"offers {len(result.added)} new model(s), added: {_names(result.added)}")
    if result.removed:
        parts.append(f"dropped {len(result.removed)}, removed: {_names(result.removed)}")
    kept = tuple(model for model in result.vanished if model not in result.removed)
    if kept:
        parts.append(f"dropped {len(kept)}, kept (add-only): {_names(kept)}")
    text = f"{name}: the upstream {'; '.join(parts)}."
    new_unpriced = [model for model in result.added if model in result.unpriced]
    if new_unpriced:
        text += f" {len(new_unpriced)} new model(s) have no price: not served until priced."
    data = {
        "channel_id": channel.id,
        "name": channel.name,
        "type": channel.type,
        "added": list(result.added),
        "vanished": list(result.vanished),
        "removed": list(result.removed),
        "unpriced": new_unpriced,
    }
    return Event(CHANNEL_MODELS, f"channel-models:{channel.id}:{at}", text, data)


def _names(models: Sequence[str]) -> str:
    shown = ", ".join(models[:SHOWN_IN_ALERT])
    return (
        shown
        if len(models) <= SHOWN_IN_ALERT
        else f"{shown} and {len(models) - SHOWN_IN_ALERT} more"
    )


async def record_failure(db: Database, channel_id: int, at: int, error: str) -> None:
    """Record a sync of channel ``channel_id`` that failed at ``at`` with ``error``."""
    async with db.transaction() as tx:
        await _record(tx, channel_id, at, (), (), error or "failed")


async def _record(
    tx: Executor,
    channel_id: int,
    at: int,
    added: Sequence[str],
    removed: Sequence[str],
    error: str,
) -> None:
    await tx.execute(
        "INSERT INTO channel_model_syncs (channel_id, synced_at, added, removed, error)"
        " VALUES (:c, :t, :a, :r, :e) ON CONFLICT (channel_id) DO UPDATE SET"
        " synced_at = excluded.synced_at, added = excluded.added,"
        " removed = excluded.removed, error = excluded.error",
        {"c": channel_id, "t": at, "a": ",".join(added), "r": ",".join(removed), "e": error},
    )


async def stored_syncs(db: Executor) -> dict[int, SyncRecord]:
    """Every channel's last sync, by channel id (for ``channel show`` and listings)."""
    rows = await db.fetch_all("SELECT * FROM channel_model_syncs ORDER BY channel_id")
    return {
        row["channel_id"]: SyncRecord(
            int(row["channel_id"]),
            int(row["synced_at"]),
            split_list(row["added"]),
            split_list(row["removed"]),
            row["error"],
        )
        for row in rows
    }


async def claim_due_syncs(db: Database, at: int, retry: int = RETRY_FAILED) -> list[int]:
    """Claim the enabled channels whose automatic sync is due at ``at`` (their interval
    since the last sync, or ``retry`` s after a failed one, if sooner): for each, one
    conditional upsert of ``synced_at`` that only one router wins. The won ids."""
    rows = await db.fetch_all(
        "SELECT c.id, c.auto_sync FROM channels c"
        " LEFT JOIN channel_model_syncs s ON s.channel_id = c.id"
        " WHERE c.auto_sync IS NOT NULL AND c.status = 'enabled' AND (s.synced_at IS NULL"
        " OR s.synced_at <= :t - c.auto_sync OR (s.error <> '' AND s.synced_at <= :t - :retry))"
        " ORDER BY c.id",
        {"t": at, "retry": retry},
    )
    claimed = []
    for row in rows:
        interval = int(row["auto_sync"])
        won = await db.fetch_value(
            "INSERT INTO channel_model_syncs (channel_id, synced_at) VALUES (:c, :t)"
            " ON CONFLICT (channel_id) DO UPDATE SET synced_at = excluded.synced_at"
            " WHERE channel_model_syncs.synced_at <= :due OR (channel_model_syncs.error <> ''"
            " AND channel_model_syncs.synced_at <= :retry_due) RETURNING channel_id",
            {"c": row["id"], "t": at, "due": at - interval, "retry_due": at - min(retry, interval)},
        )
        if won is not None:
            claimed.append(int(won))
    return claimed
