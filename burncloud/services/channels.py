"""Channels: upstream provider accounts, their encrypted keys, and the abilities they give.

A channel's key is stored only encrypted (``key_enc``) and shown only masked (``key_hint``).
Every write runs in one transaction that also rebuilds the channel's abilities (one row per
group x model) and bumps the config version, so running routers pick the change up; each
has a tx-level form (``insert_channel``, ``write_channel``, ...) for a caller that makes
several changes in one transaction. A base URL the operator gives passes the caller's
``check_url`` first (the gateway's address guard: services do not import the gateway),
outside the transaction, as it may resolve a name. Names are unique: configuration as code
(``services.manifest``) matches channels by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from burncloud.crypto import SecretBox
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import format_usd
from burncloud.providers.registry import ENDPOINTS_CONFIG
from burncloud.services.audit import record_change, row_fields
from burncloud.services.balance_apis import check_balance_api
from burncloud.services.channel_keys import (
    SealedKey,
    check_key_selection,
    clean_keys,
    insert_keys,
    key_summary,
    replace_keys,
    seal_key,
)
from burncloud.services.channel_overrides import ChannelOverrides, overrides_from
from burncloud.services.channel_types import (
    check_config,
    check_int,
    clean_config,
    clean_endpoints,
    clean_model_map,
    clean_name,
    clean_names,
    default_url,
    get_channel_type,
    normalize_base_url,
)
from burncloud.services.clock import now
from burncloud.services.groups import format_ratio, parse_ratio
from burncloud.services.settings import bump_config_version
from burncloud.services.tokens import split_list
from burncloud.services.users import require_group

CHANNEL_STATUSES = ("enabled", "disabled", "auto_disabled")
UrlCheck = Callable[[str], Awaitable[None]]  # raises InvalidRequest for a refused base URL
MIN_AUTO_SYNC = 300  # seconds: a model sync more often than every 5 minutes helps nobody
T = TypeVar("T")
_COUNTERS = ("used", "latency_ms", "tested_at", "success_count", "failure_count")
_UNAUDITED = frozenset(("id", *_COUNTERS, "created_at", "updated_at"))  # not in the audit trail


@dataclass(frozen=True, slots=True)
class ChannelCaps:
    """A channel's own limits (the upstream account's): None is none."""

    rpm: int | None
    tpm: int | None
    max_concurrency: int | None


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    type: str
    name: str
    key_hint: str
    base_url: str
    models: tuple[str, ...]
    groups: tuple[str, ...]
    weight: int
    priority: int
    model_map: dict[str, str]
    config: dict[str, str]
    status: str
    status_reason: str
    latency_ms: int | None
    tested_at: int | None
    success_count: int
    failure_count: int
    used: int
    created_at: int
    updated_at: int
    cost_ratio: Decimal
    key_selection: str = "random"
    tags: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    auto_sync: int | None = None  # seconds between model syncs; None: off
    balance_api: str | None = None  # None: detected from the base URL's host
    balance_every: int | None = None  # seconds; None: the default, 0: never
    balance_alert_below: str | None = None  # decimal, the balance's currency; None: default

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Channel:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["models"] = split_list(row["models"])
        values["groups"] = split_list(row["groups"])
        values["tags"] = split_list(row["tags"])
        values["model_map"] = orjson.loads(row["model_map"])
        values["config"] = orjson.loads(row["config"])
        values["overrides"] = orjson.loads(row["overrides"])
        values["cost_ratio"] = Decimal(row["cost_ratio"])
        return cls(**values)

    @property
    def caps(self) -> ChannelCaps | None:
        """The channel's caps, None when it has none."""
        if self.rpm is None and self.tpm is None and self.max_concurrency is None:
            return None
        return ChannelCaps(self.rpm, self.tpm, self.max_concurrency)

    def to_json(self) -> dict[str, Any]:
        """The channel as JSON: never the key, only its hint; ``used`` and ``cost_ratio``
        as decimal strings."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["models"] = list(self.models)
        data["groups"] = list(self.groups)
        data["tags"] = list(self.tags)
        data["model_map"] = dict(self.model_map)
        data["config"] = dict(self.config)
        data["used"] = format_usd(self.used)
        data["cost_ratio"] = format_ratio(self.cost_ratio)
        data["overrides"] = overrides_from(self.overrides).public_data()
        return data


@dataclass(frozen=True, slots=True)
class ChannelFields:
    """A channel's writable fields but key and status; ``base_url`` None means the default.
    The tx-level writes (``insert_channel``, ``write_channel``) take them whole."""

    type: str
    name: str
    base_url: str | None
    models: Sequence[str]
    groups: Sequence[str]
    weight: int
    priority: int
    model_map: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    cost_ratio: str | int | Decimal = 1
    key_selection: str = "random"
    tags: Sequence[str] = ()
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    auto_sync: int | None = None
    balance_api: str | None = None
    balance_every: int | None = None
    balance_alert_below: str | None = None

    def columns(self) -> dict[str, Any]:
        """The fields as column values (lists comma-separated, maps as JSON, the cost
        ratio as its decimal string)."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "models": ",".join(self.models),
            "groups": ",".join(self.groups),
            "tags": ",".join(self.tags),
            "model_map": orjson.dumps(self.model_map).decode(),
            "config": orjson.dumps(self.config).decode(),
            "overrides": orjson.dumps(self.overrides).decode(),
            "cost_ratio": format_ratio(parse_cost_ratio(self.cost_ratio)),
        }


@dataclass(frozen=True, slots=True)
class _Update:
    """The fields ``update_channel`` was given; None leaves a field as it is."""

    type: str | None = None
    name: str | None = None
    base_url: str | None = None
    models: Sequence[str] | None = None
    groups: Sequence[str] | None = None
    weight: int | None = None
    priority: int | None = None
    model_map: Mapping[str, str] | None = None
    config: Mapping[str, str] | None = None
    cost_ratio: str | int | Decimal | None = None
    endpoints: Sequence[str] | None = None  # () drops the channel's own list
    key_selection: str | None = None
    tags: Sequence[str] | None = None  # () drops every tag
    rpm: int | None = None  # 0 clears a cap (as for the three)
    tpm: int | None = None
    max_concurrency: int | None = None
    overrides: Mapping[str, Any] | None = None
    auto_sync: int | None = None  # 0 turns it off
    balance_api: str | None = None  # '' goes back to detecting it
    balance_every: int | None = None
    balance_alert_below: str | None = None  # '' goes back to the default

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def applied_to(self, old: Channel) -> ChannelFields:
        """``old``'s fields with these changes; a base URL that was the old type's default
        is left to the new default when the type or config changes."""
        base_url = self.base_url
        if base_url is None:
            retyped = self.type is not None or self.config is not None
            base_url = _kept_base_url(old) if retyped else old.base_url
        return ChannelFields(
            type=old.type if self.type is None else self.type,
            name=old.name if self.name is None else self.name,
            base_url=base_url,
            models=old.models if self.models is None else self.models,
            groups=old.groups if self.groups is None else self.groups,
            weight=old.weight if self.weight is None else self.weight,
            priority=old.priority if self.priority is None else self.priority,
            model_map=old.model_map if self.model_map is None else self.model_map,
            config=with_endpoints(
                old.config if self.config is None else self.config, self.endpoints
            ),
            cost_ratio=old.cost_ratio if self.cost_ratio is None else self.cost_ratio,
            key_selection=_given(self.key_selection, old.key_selection),
            tags=_given(self.tags, old.tags),
            rpm=_given(self.rpm, old.rpm),
            tpm=_given(self.tpm, old.tpm),
            max_concurrency=_given(self.max_concurrency, old.max_concurrency),
            overrides=_given(self.overrides, old.overrides),
            auto_sync=_given(self.auto_sync, old.auto_sync),
            balance_api=_given(self.balance_api, old.balance_api),
            balance_every=_given(self.balance_every, old.balance_every),
            balance_alert_below=_given(self.balance_alert_below, old.balance_alert_below),
        )


def _given(new: T | None, old: T) -> T:
    return old if new is None else new


async def add_channel(
    db: Database,
    box: SecretBox,
    *,
    type: str,
    name: str,
    key: str | Sequence[str],
    models: Sequence[str],
    base_url: str | None = None,
    groups: Sequence[str] = ("default",),
    weight: int = 1,
    priority: int = 0,
    model_map: Mapping[str, str] | None = None,
    config: Mapping[str, str] | None = None,
    cost_ratio: str | int | Decimal = 1,
    endpoints: Sequence[str] | None = None,
    check_url: UrlCheck | None = None,
    **options: Any,
) -> Channel:
    """Create a channel with its key (or keys) encrypted; its abilities exist when this
    returns. ``cost_ratio`` is the share of the list price the upstream charges us;
    ``endpoints`` (openai-compatible channels) the endpoint names it serves instead of its
    kind's; ``options`` the other ``ChannelFields`` (key selection, tags, caps, ...)."""
    sealed = [seal_key(box, one) for one in clean_keys([key] if isinstance(key, str) else key)]
    if check_url is not None and base_url:
        await check_url(base_url)
    draft = ChannelFields(
        type,
        name,
        base_url,
        models,
        groups,
        weight,
        priority,
        model_map or {},
        with_endpoints(config or {}, endpoints),
        cost_ratio,
        **options,
    )
    async with db.transaction() as tx:
        return await insert_channel(tx, draft, sealed)


async def insert_channel(
    tx: Executor, draft: ChannelFields, sealed: Sequence[SealedKey]
) -> Channel:
    """Create an enabled channel in ``tx`` from ``draft``, checked as ``add_channel`` checks
    it, with its keys from ``seal_key``; its abilities exist when this returns."""
    spec = await _validate(tx, draft)
    keys = _sealed_list(sealed)
    row = await tx.fetch_one(
        "INSERT INTO channels (type, name, key_hint, base_url, models, groups, weight,"
        " priority, model_map, config, cost_ratio, key_selection, tags, rpm, tpm,"
        " max_concurrency, overrides, auto_sync, balance_api, balance_every,"
        " balance_alert_below, status, status_reason, created_at, updated_at) VALUES (:type,"
        " :name, :key_hint, :base_url, :models, :groups, :weight, :priority, :model_map,"
        " :config, :cost_ratio, :key_selection, :tags, :rpm, :tpm, :max_concurrency,"
        " :overrides, :auto_sync, :balance_api, :balance_every, :balance_alert_below,"
        " 'enabled', '', :t, :t)"
        " RETURNING *",
        {**spec.columns(), "key_hint": key_summary([hint for _, hint in keys]), "t": now()},
    )
    assert row is not None
    await _record(tx, None, row)
    await insert_keys(tx, row["id"], keys)
    return await commit_channel_write(tx, Channel.from_row(row))


def _sealed_list(sealed: Sequence[SealedKey]) -> list[SealedKey]:
    """The sealed keys, at least one."""
    if not sealed:
        raise InvalidRequest("a channel needs a key")
    return list(sealed)


async def update_channel(
    db: Database,
    box: SecretBox | None,
    channel_id: int,
    *,
    key: str | Sequence[str] | None = None,
    check_url: UrlCheck | None = None,
    **changes: Any,
) -> Channel:
    """Change only the given fields (``_Update``'s names; ``box`` is needed only for a new
    key, which replaces every key the channel had); empty ``endpoints`` puts the channel
    back on its kind's list."""
    update = _Update(**changes)
    if update.is_empty() and key is None:
        raise InvalidRequest("nothing to update: give at least one option")
    sealed: list[SealedKey] | None = None
    if key is not None:
        if box is None:
            raise ValueError("update_channel needs the secret box to store a new key")
        sealed = [seal_key(box, one) for one in clean_keys([key] if isinstance(key, str) else key)]
    base_url = update.base_url
    if check_url is not None and base_url:
        await check_url(base_url)
    async with db.transaction() as tx:
        old = await _fetch(tx, channel_id)
        return await write_channel(tx, channel_id, update.applied_to(old), sealed)


async def write_channel(
    tx: Executor,
    channel_id: int,
    draft: ChannelFields,
    sealed: Sequence[SealedKey] | None = None,
) -> Channel:
    """Replace channel ``channel_id``'s fields with ``draft``, checked as ``add_channel``
    checks them, and its keys when ``sealed`` (``seal_key``) is given; status stays."""
    spec = await _validate(tx, draft, channel_id)
    values = spec.columns()
    if sealed is not None:
        keys = _sealed_list(sealed)
        values["key_hint"] = key_summary([hint for _, hint in keys])
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    before = await _row(tx, channel_id)
    row = await tx.fetch_one(
        f"UPDATE channels SET {assignments}, updated_at = :t WHERE id = :id RETURNING *",
        {**values, "t": now(), "id": channel_id},
    )
    assert row is not None  # the row read above, in this transaction
    await _record(tx, before, row)
    if sealed is not None:
        await replace_keys(tx, channel_id, keys)
        if row["status"] == "auto_disabled":  # its new keys are untried, not known bad
            return await write_channel_status(tx, channel_id, "enabled", "")
    return await commit_channel_write(tx, Channel.from_row(row))


async def enable_channel(db: Database, channel_id: int) -> Channel:
    """Put a channel back in rotation and clear why it was disabled."""
    return await set_channel_status(db, channel_id, "enabled", "")


async def disable_channel(db: Database, channel_id: int, reason: str = "") -> Channel:
    """Take a channel out of rotation by the operator's hand."""
    return await set_channel_status(db, channel_id, "disabled", reason)


async def set_channel_status(
    db: Database, channel_id: int, status: str, reason: str = ""
) -> Channel:
    """Set a channel's status (``auto_disabled`` is for health checks) and its abilities."""
    if status not in CHANNEL_STATUSES:
        raise InvalidRequest(f"unknown channel status {status!r}")
    async with db.transaction() as tx:
        return await write_channel_status(tx, channel_id, status, reason)


async def write_channel_status(
    tx: Executor, channel_id: int, status: str, reason: str = ""
) -> Channel:
    """``set_channel_status`` in transaction ``tx`` (``status`` one of CHANNEL_STATUSES)."""
    before = await _row(tx, channel_id)
    row = await tx.fetch_one(
        "UPDATE channels SET status = :status, status_reason = :reason, updated_at = :t"
        " WHERE id = :id RETURNING *",
        {"status": status, "reason": " ".join(reason.split()), "t": now(), "id": channel_id},
    )
    assert row is not None  # the row read above, in this transaction
    await _record(tx, before, row)
    return await commit_channel_write(tx, Channel.from_row(row))


async def set_status_by_tag(db: Database, tag: str, status: str, reason: str = "") -> list[Channel]:
    """Enable or disable every channel tagged ``tag``, in one transaction; the channels
    changed. NotFound when no channel has the tag."""
    if status not in ("enabled", "disabled"):
        raise InvalidRequest(f"channels are enabled or disabled by tag, not {status!r}")
    async with db.transaction() as tx:
        tagged = await tagged_channels(tx, tag)
        return [await write_channel_status(tx, c.id, status, reason) for c in tagged]


async def tagged_channels(db: Executor, tag: str) -> list[Channel]:
    """The channels tagged ``tag``, by id; NotFound when there are none."""
    found = [channel for channel in await list_channels(db) if tag in channel.tags]
    if not found:
        raise NotFound(f"no channel has the tag {tag!r}")
    return found


async def delete_channel(db: Database, channel_id: int) -> None:
    """Delete a channel and its abilities."""
    async with db.transaction() as tx:
        await remove_channel(tx, channel_id)


async def remove_channel(tx: Executor, channel_id: int) -> None:
    """``delete_channel`` in transaction ``tx`` (its cost prices go with it)."""
    before = await _row(tx, channel_id)
    await tx.execute("DELETE FROM abilities WHERE channel_id = :id", {"id": channel_id})
    await tx.execute("DELETE FROM channels WHERE id = :id", {"id": channel_id})
    await _record(tx, before, None)
    await bump_config_version(tx)


async def list_channels(db: Executor) -> list[Channel]:
    """Every channel, by id."""
    rows = await db.fetch_all("SELECT * FROM channels ORDER BY id")
    return [Channel.from_row(row) for row in rows]


async def get_channel(db: Executor, channel_id: int) -> Channel:
    """The channel with ``channel_id``; NotFound if there is none."""
    return await _fetch(db, channel_id)


async def _fetch(db: Executor, channel_id: int) -> Channel:
    row = await db.fetch_one("SELECT * FROM channels WHERE id = :id", {"id": channel_id})
    if row is None:
        raise _not_found(channel_id)
    return Channel.from_row(row)


def _not_found(channel_id: int) -> NotFound:
    return NotFound(f"no channel with id {channel_id}")


async def _row(tx: Executor, channel_id: int) -> Row:
    """Channel ``channel_id``'s row before a write, locked on PostgreSQL so a health check
    cannot change it between this read and the write; NotFound if there is none."""
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""  # SQLite: one writer at a time
    row = await tx.fetch_one(f"SELECT * FROM channels WHERE id = :id{lock}", {"id": channel_id})
    if row is None:
        raise _not_found(channel_id)
    return row


async def _record(tx: Executor, before: Row | None, after: Row | None) -> None:
    """Put a channel's creation, change or deletion in the audit trail (its key masked)."""
    row = after if after is not None else before
    assert row is not None
    await record_change(
        tx,
        "channel",
        row["id"],
        row["name"],
        None if before is None else _audited(before),
        None if after is None else _audited(after),
    )


def _audited(row: Row) -> dict[str, Any]:
    """A channel row's audited fields, its overrides' secret-like header values masked."""
    found = row_fields(row, _UNAUDITED)
    if found.get("overrides"):
        public = overrides_from(orjson.loads(found["overrides"])).public_data()
        found["overrides"] = orjson.dumps(public).decode()
    return found


async def commit_channel_write(tx: Executor, channel: Channel) -> Channel:
    """Finish a write: rebuild the channel's abilities and bump the config version."""
    await tx.execute("DELETE FROM abilities WHERE channel_id = :id", {"id": channel.id})
    for group in channel.groups:
        for model in channel.models:
            await tx.execute(
                "INSERT INTO abilities (group_name, model, channel_id, enabled, priority, weight)"
                " VALUES (:group, :model, :id, :enabled, :priority, :weight)",
                {
                    "group": group,
                    "model": model,
                    "id": channel.id,
                    "enabled": 1 if channel.status == "enabled" else 0,
                    "priority": channel.priority,
                    "weight": channel.weight,
                },
            )
    await bump_config_version(tx)
    return channel


def _kept_base_url(old: Channel) -> str | None:
    """The old base URL, or None (the new default) when it was the old type's default."""
    try:
        default = default_url(get_channel_type(old.type), old.config)
    except (InvalidRequest, KeyError):
        return old.base_url
    return None if old.base_url == default else old.base_url


async def _validate(
    tx: Executor, draft: ChannelFields, channel_id: int | None = None
) -> ChannelFields:
    """Check every field of channel ``channel_id`` (None: a new one) against the database
    too: its groups exist and no other channel has its name."""
    spec = clean_channel_fields(draft)
    for group in spec.groups:
        await require_group(tx, group)
    await _require_free_name(tx, spec.name, channel_id)
    return spec


async def _require_free_name(tx: Executor, name: str, channel_id: int | None) -> None:
    """Refuse a name another channel has: config as code (``manifest``) matches by name.
    A channel that keeps its name passes (a database from before names were unique may
    hold twins; each can still be changed, and renamed apart)."""
    if channel_id is not None:
        current = await tx.fetch_value(
            "SELECT name FROM channels WHERE id = :id", {"id": channel_id}
        )
        if current == name:
            return
    taken = await tx.fetch_value(
        "SELECT MIN(id) FROM channels WHERE name = :n AND id <> :id",
        {"n": name, "id": -1 if channel_id is None else channel_id},
    )
    if taken is not None:
        raise InvalidRequest(f"channel name {name!r} is taken by channel {taken}")


def clean_channel_fields(draft: ChannelFields) -> ChannelFields:
    """``draft`` in its stored form (kind, config, lists, base URL or the kind's default);
    InvalidRequest with a one-line reason for a wrong field. The database is not read."""
    kind = get_channel_type(draft.type)
    config = clean_endpoints(kind, clean_config(draft.config))
    check_config(kind, config)
    models = clean_names(draft.models, "model")
    groups = clean_names(draft.groups, "group")
    return ChannelFields(
        type=kind.name,
        name=clean_name(draft.name),
        base_url=normalize_base_url(kind, draft.base_url or default_url(kind, config)),
        models=models,
        groups=groups,
        weight=check_int(draft.weight, "weight", minimum=0),
        priority=check_int(draft.priority, "priority"),
        model_map=clean_model_map(draft.model_map, models),
        config=config,
        cost_ratio=parse_cost_ratio(draft.cost_ratio),
        key_selection=check_key_selection(draft.key_selection),
        tags=clean_names(draft.tags, "tag") if draft.tags else (),
        rpm=_cap(draft.rpm, "rpm"),
        tpm=_cap(draft.tpm, "tpm"),
        max_concurrency=_cap(draft.max_concurrency, "max concurrency"),
        overrides=clean_overrides(draft.overrides),
        auto_sync=_auto_sync(draft.auto_sync),
        balance_api=check_balance_api(draft.balance_api) if draft.balance_api else None,
        balance_every=_balance_every(draft.balance_every),
        balance_alert_below=_alert_below(draft.balance_alert_below),
    )


def clean_overrides(overrides: ChannelOverrides | Mapping[str, Any]) -> dict[str, Any]:
    """The overrides in their stored form (validated: InvalidRequest names what is wrong)."""
    if not isinstance(overrides, ChannelOverrides):
        overrides = overrides_from(dict(overrides))
    return overrides.to_data()


def _alert_below(text: str | None) -> str | None:
    """The balance under which the upstream-balance alert goes: a non-negative decimal,
    None or '' for the default."""
    if not text:
        return None
    try:
        amount = Decimal(text)
    except ArithmeticError:
        raise InvalidRequest(f"balance alert threshold {text!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidRequest(f"balance alert threshold {text!r} must be 0 or more")
    return str(amount)


def _cap(value: int | None, what: str) -> int | None:
    """A per-channel cap: None or 0 is none, else at least 1."""
    if value is None:
        return None
    return check_int(value, what, minimum=0) or None


def _auto_sync(seconds: int | None) -> int | None:
    """Seconds between model syncs: None or 0 is off, else at least ``MIN_AUTO_SYNC``."""
    if not seconds:
        return None
    return check_int(seconds, "auto-sync interval (seconds)", minimum=MIN_AUTO_SYNC)


def _balance_every(seconds: int | None) -> int | None:
    """Seconds between balance checks: None is the default, 0 never, else at least 60."""
    if seconds is None or seconds == 0:
        return seconds
    return check_int(seconds, "balance interval (seconds)", minimum=60)


def with_endpoints(config: Mapping[str, str], endpoints: Sequence[str] | None) -> dict[str, str]:
    """``config`` with its ``endpoints`` entry set to ``endpoints`` (comma-separated items
    allowed), dropped when they are empty, kept when None."""
    if endpoints is None:
        return dict(config)
    rest = {key: value for key, value in config.items() if key != ENDPOINTS_CONFIG}
    listed = ",".join(
        part.strip() for item in endpoints for part in item.split(",") if part.strip()
    )
    return {**rest, ENDPOINTS_CONFIG: listed} if listed else rest


def parse_cost_ratio(text: str | int | Decimal) -> Decimal:
    """A channel's cost ratio (the share of the list price its upstream charges): a
    non-negative finite decimal; InvalidRequest naming the cost ratio otherwise."""
    try:
        return parse_ratio(text)
    except InvalidRequest as exc:
        raise InvalidRequest(f"cost {exc.message}") from None
