"""The upstream keys of a channel: many per channel, each with its own status and counters.

A channel serves while any of its keys is ``enabled``. A key is ``disabled`` by an operator
or ``auto_disabled`` by a health check (the upstream called it invalid or out of credit),
with the reason; the prober re-enables an auto-disabled key that works again. When a
channel's last enabled key is auto-disabled the channel becomes ``auto_disabled`` too (the
``channel-disabled`` alert), and the first key to come back brings it back. Keys are
stored only encrypted and shown only masked (``key_hint``); ``channels.key_hint`` is the
summary (the one key's hint, or how many). Every change is audited and bumps the config
version, so routers pick keys up within a second or two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from burncloud.crypto import SecretBox, mask_secret
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import format_usd
from burncloud.services.audit import record_change, row_fields
from burncloud.services.channel_types import check_int, clean_key
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version

KEY_STATUSES = ("enabled", "disabled", "auto_disabled")
KEY_SELECTIONS = ("random", "round-robin")
SealedKey = tuple[str, str]  # an upstream key encrypted, and its masked hint
MAX_REASON = 500
_UNAUDITED = frozenset(("id", "success_count", "failure_count", "used", "created_at", "updated_at"))


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """One key of a channel as operators see it (never the key itself)."""

    id: int
    channel_id: int
    key_hint: str
    weight: int
    status: str
    status_reason: str
    success_count: int
    failure_count: int
    used: int
    created_at: int
    updated_at: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ChannelKey:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["used"] = format_usd(self.used)
        return data


@dataclass(frozen=True, slots=True)
class ChannelSecret:
    """One enabled key in plain text, for a call to the upstream outside the relay."""

    id: int
    key: str


def seal_key(box: SecretBox, key: str) -> SealedKey:
    """The encrypted key and its masked hint; InvalidRequest for an empty or spaced key."""
    key = clean_key(key)
    return box.encrypt(key), mask_secret(key)


def clean_keys(keys: Sequence[str]) -> list[str]:
    """The keys given, each checked, duplicates dropped in order; at least one."""
    cleaned = list(dict.fromkeys(clean_key(key) for key in keys))
    if not cleaned:
        raise InvalidRequest("a channel needs a key")
    return cleaned


def parse_keys_file(text: str) -> list[str]:
    """The keys of a keys file: one per line; blank lines and ``#`` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def check_key_selection(value: str) -> str:
    """``random`` or ``round-robin``; InvalidRequest naming both otherwise."""
    if value not in KEY_SELECTIONS:
        raise InvalidRequest(f"unknown key selection {value!r}: use {' or '.join(KEY_SELECTIONS)}")
    return value


def key_summary(hints: Sequence[str]) -> str:
    """``channels.key_hint``: the one key's hint, or how many keys there are."""
    return hints[0] if len(hints) == 1 else f"{len(hints)} keys"


async def insert_keys(
    tx: Executor, channel_id: int, sealed: Sequence[SealedKey], weight: int = 1
) -> list[int]:
    """Add sealed keys to channel ``channel_id`` in ``tx`` (no summary, no version bump:
    the caller's channel write does both); their ids."""
    at = now()
    ids = []
    for key_enc, key_hint in sealed:
        row = await tx.fetch_one(
            "INSERT INTO channel_keys (channel_id, key_enc, key_hint, weight, created_at,"
            " updated_at) VALUES (:c, :enc, :hint, :w, :t, :t) RETURNING *",
            {"c": channel_id, "enc": key_enc, "hint": key_hint, "w": weight, "t": at},
        )
        assert row is not None
        await _record(tx, None, row)
        ids.append(int(row["id"]))
    return ids


async def replace_keys(tx: Executor, channel_id: int, sealed: Sequence[SealedKey]) -> None:
    """Make ``sealed`` channel ``channel_id``'s only keys, in ``tx`` (``channel update
    --key``); the summary and version are the caller's channel write's."""
    for row in await tx.fetch_all(
        "SELECT * FROM channel_keys WHERE channel_id = :c ORDER BY id", {"c": channel_id}
    ):
        await tx.execute("DELETE FROM channel_keys WHERE id = :id", {"id": row["id"]})
        await _record(tx, row, None)
    await insert_keys(tx, channel_id, sealed)


async def sync_keys(
    tx: Executor, box: SecretBox, channel_id: int, keys: Sequence[str]
) -> tuple[int, int]:
    """Make ``keys`` the channel's keys in ``tx``: a key it has stays as it is (id, status,
    weight, counters), the others are added, those ``keys`` lacks removed (audited); then
    the summary, and an auto-disabled channel with an enabled key again comes back.
    (added, removed)."""
    wanted = clean_keys(keys)
    held = {box.decrypt(row["key_enc"]): row for row in await _key_rows(tx, channel_id)}
    removed = [row for key, row in held.items() if key not in wanted]
    for row in removed:
        await tx.execute("DELETE FROM channel_keys WHERE id = :id", {"id": row["id"]})
        await _record(tx, row, None)
    added = [seal_key(box, key) for key in wanted if key not in held]
    await insert_keys(tx, channel_id, added)
    await _after_status_change(tx, channel_id)
    return len(added), len(removed)


async def add_keys(
    db: Database, box: SecretBox, channel_id: int, keys: Sequence[str], weight: int = 1
) -> list[ChannelKey]:
    """Add ``keys`` to a channel (each of ``weight`` within it); a key it already has is
    refused, naming its id."""
    cleaned = clean_keys(keys)
    weight = check_key_weight(weight)
    async with db.transaction() as tx:
        await _channel_row(tx, channel_id)
        held = {box.decrypt(row["key_enc"]): row["id"] for row in await _key_rows(tx, channel_id)}
        for key in cleaned:
            if key in held:
                raise InvalidRequest(f"channel {channel_id} already has this key (key {held[key]})")
        sealed = [seal_key(box, key) for key in cleaned]
        ids = await insert_keys(tx, channel_id, sealed, weight)
        await _keys_changed(tx, channel_id)
        rows = [await _key_row(tx, channel_id, key_id) for key_id in ids]
    return [ChannelKey.from_row(row) for row in rows]


async def remove_key(db: Database, channel_id: int, key_id: int) -> ChannelKey:
    """Delete a key; a channel's last key stays (delete the channel, or add another first)."""
    async with db.transaction() as tx:
        row = await _key_row(tx, channel_id, key_id)
        count = await tx.fetch_value(
            "SELECT COUNT(*) FROM channel_keys WHERE channel_id = :c", {"c": channel_id}
        )
        if int(count or 0) <= 1:
            raise InvalidRequest(
                f"key {key_id} is channel {channel_id}'s only key: add another first,"
                " or delete the channel"
            )
        await tx.execute("DELETE FROM channel_keys WHERE id = :id", {"id": key_id})
        await _record(tx, row, None)
        await _after_status_change(tx, channel_id)
    return ChannelKey.from_row(row)


async def set_key_status(
    db: Database, channel_id: int, key_id: int, status: str, reason: str = ""
) -> ChannelKey:
    """An operator enables or disables one key. Disabling the channel's last enabled key is
    refused (disable the channel instead); enabling a key of a channel that health checks
    took out brings the channel back."""
    if status not in ("enabled", "disabled"):
        raise InvalidRequest(f"a key is enabled or disabled by hand, not {status!r}")
    async with db.transaction() as tx:
        before = await _key_row(tx, channel_id, key_id)
        if status == "disabled" and before["status"] == "enabled":
            others = await tx.fetch_value(
                "SELECT COUNT(*) FROM channel_keys WHERE channel_id = :c AND id <> :k"
                " AND status = 'enabled'",
                {"c": channel_id, "k": key_id},
            )
            if not others:
                raise InvalidRequest(
                    f"key {key_id} is channel {channel_id}'s last enabled key: disable the"
                    f" channel instead (`burncloud channel disable {channel_id}`)"
                )
        after = await _write_status(tx, key_id, status, reason)
        await _after_status_change(tx, channel_id)
    return ChannelKey.from_row(after)


async def set_key_weight(db: Database, channel_id: int, key_id: int, weight: int) -> ChannelKey:
    """How often a key is picked within its channel (``random`` selection), relative to the
    others; 0 makes it a last resort."""
    weight = check_key_weight(weight)
    async with db.transaction() as tx:
        before = await _key_row(tx, channel_id, key_id)
        after = await tx.fetch_one(
            "UPDATE channel_keys SET weight = :w, updated_at = :t WHERE id = :id RETURNING *",
            {"w": weight, "t": now(), "id": key_id},
        )
        assert after is not None
        await _record(tx, before, after)
        await bump_config_version(tx)
    return ChannelKey.from_row(after)


async def list_keys(db: Executor, channel_id: int) -> list[ChannelKey]:
    """A channel's keys by id; NotFound when there is no such channel."""
    await _channel_row(db, channel_id)
    return [ChannelKey.from_row(row) for row in await _key_rows(db, channel_id)]


async def keys_of_channels(db: Executor) -> dict[int, list[ChannelKey]]:
    """Every channel's keys, by channel id (for listings)."""
    rows = await db.fetch_all("SELECT * FROM channel_keys ORDER BY channel_id, id")
    found: dict[int, list[ChannelKey]] = {}
    for row in rows:
        found.setdefault(row["channel_id"], []).append(ChannelKey.from_row(row))
    return found


async def usable_key(db: Executor, box: SecretBox, channel_id: int) -> ChannelSecret:
    """The channel's first enabled key in plain text, for a one-off call (model listing,
    balance, probe); InvalidRequest when it has none."""
    row = await db.fetch_one(
        "SELECT id, key_enc FROM channel_keys WHERE channel_id = :c AND status = 'enabled'"
        " ORDER BY id LIMIT 1",
        {"c": channel_id},
    )
    if row is None:
        await _channel_row(db, channel_id)
        raise InvalidRequest(f"channel {channel_id} has no enabled key")
    return ChannelSecret(int(row["id"]), box.decrypt(row["key_enc"]))


async def key_secret(db: Executor, box: SecretBox, channel_id: int, key_id: int) -> str:
    """Key ``key_id`` of the channel in plain text (a probe of that key)."""
    row = await _key_row(db, channel_id, key_id)
    return box.decrypt(row["key_enc"])


async def write_key_status(tx: Executor, key_id: int, status: str, reason: str) -> Row:
    """Set a key's status in ``tx`` (health checks call it through ``channel_health``)."""
    return await _write_status(tx, key_id, status, reason)


async def enabled_key_count(tx: Executor, channel_id: int) -> int:
    value = await tx.fetch_value(
        "SELECT COUNT(*) FROM channel_keys WHERE channel_id = :c AND status = 'enabled'",
        {"c": channel_id},
    )
    return int(value or 0)


async def summarise_keys(tx: Executor, channel_id: int) -> str:
    """Store and return the channel's key summary (``key_summary``) in ``tx``."""
    hints = [row["key_hint"] for row in await _key_rows(tx, channel_id)]
    summary = key_summary(hints)
    await tx.execute(
        "UPDATE channels SET key_hint = :h WHERE id = :id", {"h": summary, "id": channel_id}
    )
    return summary


def check_key_weight(weight: int) -> int:
    return check_int(weight, "key weight", minimum=0)


async def _keys_changed(tx: Executor, channel_id: int) -> None:
    """After keys were added or removed: the summary, then the version bump."""
    await summarise_keys(tx, channel_id)
    await bump_config_version(tx)


async def _after_status_change(tx: Executor, channel_id: int) -> None:
    """After an operator's key change: an auto-disabled channel with an enabled key again
    comes back; the summary and the version follow."""
    from burncloud.services.channels import write_channel_status  # channels builds on keys

    await summarise_keys(tx, channel_id)
    status = await tx.fetch_value("SELECT status FROM channels WHERE id = :id", {"id": channel_id})
    if status == "auto_disabled" and await enabled_key_count(tx, channel_id):
        await write_channel_status(tx, channel_id, "enabled", "")
        return
    await bump_config_version(tx)


async def _write_status(tx: Executor, key_id: int, status: str, reason: str) -> Row:
    before = await tx.fetch_one("SELECT * FROM channel_keys WHERE id = :id", {"id": key_id})
    if before is None:
        raise NotFound(f"no channel key with id {key_id}")
    after = await tx.fetch_one(
        "UPDATE channel_keys SET status = :s, status_reason = :r, updated_at = :t"
        " WHERE id = :id RETURNING *",
        {"s": status, "r": " ".join(reason.split())[:MAX_REASON], "t": now(), "id": key_id},
    )
    assert after is not None
    await _record(tx, before, after)
    return after


async def _channel_row(db: Executor, channel_id: int) -> Row:
    row = await db.fetch_one("SELECT id, name FROM channels WHERE id = :id", {"id": channel_id})
    if row is None:
        raise NotFound(f"no channel with id {channel_id}")
    return row


async def _key_rows(db: Executor, channel_id: int) -> list[Row]:
    return await db.fetch_all(
        "SELECT * FROM channel_keys WHERE channel_id = :c ORDER BY id", {"c": channel_id}
    )


async def _key_row(db: Executor, channel_id: int, key_id: int) -> Row:
    row = await db.fetch_one(
        "SELECT * FROM channel_keys WHERE id = :k AND channel_id = :c",
        {"k": key_id, "c": channel_id},
    )
    if row is None:
        await _channel_row(db, channel_id)
        raise NotFound(f"channel {channel_id} has no key with id {key_id}")
    return row


async def _record(tx: Executor, before: Row | None, after: Row | None) -> None:
    """A key's creation, change or removal in the audit trail (the key itself masked)."""
    row = after if after is not None else before
    assert row is not None
    await record_change(
        tx,
        "channel_key",
        row["id"],
        f"channel {row['channel_id']} key {row['key_hint']}",
        None if before is None else row_fields(before, _UNAUDITED),
        None if after is None else row_fields(after, _UNAUDITED),
    )
