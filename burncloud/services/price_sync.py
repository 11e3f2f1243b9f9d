"""Syncing stored prices with a catalog: what the database holds as a catalog, the diff
between two catalogs, and applying a diff in one transaction.

A diff compares prices field by field ("input", "above 200000 input", "unit image
1024x1024/standard", "alias"), as the catalog writes them (USD strings), so exporting and
importing again finds no change. Prices the file does not name are kept unless the import
prunes them. Applying writes through ``services.prices`` (save_price, set_alias,
delete_price): each change is a new price version, checked and announced like any other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from burncloud.db.base import Database, Executor
from burncloud.errors import InvalidRequest
from burncloud.services import prices
from burncloud.services.litellm_prices import LitellmImport, import_litellm
from burncloud.services.price_catalog import (
    FILE_FORMATS,
    Catalog,
    load_catalog,
    price_fields,
)
from burncloud.services.pricing import Price
from burncloud.services.settings import bump_config_version

READ_FORMATS = (*FILE_FORMATS, "litellm")
Action = Literal["added", "changed", "removed"]
_ID_KEY = re.compile(r"#(\d+)")
_MARK = {"added": "+", "changed": "~", "removed": "-"}


@dataclass(frozen=True, slots=True)
class ChannelKeys:
    """How a catalog names channels: by name when no other channel has it (and it does
    not read as an id), else ``#ID``."""

    keys: Mapping[int, str]  # channel id -> its key
    names: Mapping[str, tuple[int, ...]]  # channel name -> the ids that have it

    def resolve(self, key: str) -> int:
        """The id of the channel ``key`` names; InvalidRequest if none or several."""
        match = _ID_KEY.fullmatch(key)
        if match is not None and int(match[1]) in self.keys:
            return int(match[1])
        ids = self.names.get(key, ())
        if len(ids) == 1:
            return ids[0]
        if ids:
            refs = ", ".join(f"#{channel_id}" for channel_id in ids)
            raise InvalidRequest(f"channels {refs} are all named {key!r}: key them by #ID")
        raise InvalidRequest(f"no channel {key!r} (name a channel, or #ID)")


@dataclass(frozen=True, slots=True)
class Change:
    """One price the import adds, changes or removes: the stored price (``before``, None
    when added), the file's (``after``, None when removed), and the fields that differ as
    (field, old, new), None for "not named"."""

    action: Action
    model: str
    channel: str | None  # the channel's key for a channel's cost price
    before: Price | None
    after: Price | None
    fields: tuple[tuple[str, str | None, str | None], ...]

    def describe(self) -> str:
        """One line: "~ gpt-4o: input 2.5 -> 3, cached - -> 1.25"."""
        where = self.model if self.channel is None else f"{self.model} (channel {self.channel})"
        if self.action == "removed":
            return f"- {where}"
        if self.action == "added":
            parts = [f"{name} {new}" for name, _, new in self.fields]
        else:
            parts = [f"{name} {old or '-'} -> {new or '-'}" for name, old, new in self.fields]
        return f"{_MARK[self.action]} {where}: {', '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model,
            "channel": self.channel,
            "fields": {name: {"old": old, "new": new} for name, old, new in self.fields},
        }


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """The changes an import makes, and how many stored prices it leaves as they are
    because the file does not name them (``kept``: only without pruning)."""

    changes: tuple[Change, ...]
    kept: int

    def counts(self) -> Counter[str]:
        return Counter(change.action for change in self.changes)

    def to_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "changes": [change.to_json() for change in self.changes],
            **{action: counts[action] for action in ("added", "changed", "removed")},
            "kept": self.kept,
        }

    def summary(self) -> str:
        """ "2 added, 1 changed, 0 removed" or "no changes", and what was kept."""
        counts = self.counts()
        text = (
            ", ".join(f"{counts[action]} {action}" for action in ("added", "changed", "removed"))
            if self.changes
            else "no changes"
        )
        if self.kept:
            text += f"; {self.kept} stored prices not in the file kept (--prune deletes them)"
        return text


def wanted_catalog(
    text: str, file_format: str, only: Iterable[str] = ()
) -> tuple[Catalog, LitellmImport | None]:
    """The catalog a file of ``file_format`` (yaml, json or litellm) holds, and for
    LiteLLM's file what the conversion left behind; ``only`` selects LiteLLM models."""
    only = list(only)
    if file_format not in READ_FORMATS:
        raise InvalidRequest(f"unknown format {file_format!r}: one of {', '.join(READ_FORMATS)}")
    if file_format != "litellm":
        if only:
            raise InvalidRequest("only selects models of LiteLLM's file (format litellm)")
        return load_catalog(text, file_format), None
    found = import_litellm(text, only)
    return Catalog(prices=found.prices, channels={}), found


async def sync_prices(
    db: Database, wanted: Catalog, *, prune: bool = False, dry_run: bool = False
) -> CatalogDiff:
    """The diff of importing ``wanted``, applied in one transaction unless ``dry_run``.

    The diff applied is the one read in that transaction after bumping the config version,
    as every price writer does first: on PostgreSQL that row lock keeps another writer
    from changing the prices between the read and the writes (SQLite's transaction holds
    the write lock from its start). An import that changes nothing bumps nothing."""
    if dry_run:
        current, keys = await read_catalog(db)
        return diff_catalogs(current, wanted, keys, prune=prune)
    async with db.transaction() as tx:
        current, keys = await read_catalog(tx)
        diff = diff_catalogs(current, wanted, keys, prune=prune)
        if not diff.changes:
            return diff
        await bump_config_version(tx)
        current, keys = await read_catalog(tx)
        diff = diff_catalogs(current, wanted, keys, prune=prune)
        await apply_diff(tx, diff, keys.resolve)
    return diff


async def read_catalog(db: Executor) -> tuple[Catalog, ChannelKeys]:
    """Every stored price as a catalog (aliases unresolved), and the channels' keys."""
    keys = await channel_keys(db)
    channel_prices = await prices.load_channel_prices(db)
    catalog = Catalog(
        prices=await prices.raw_price_table(db),
        channels={keys.keys[cid]: table for cid, table in channel_prices.items() if table},
    )
    return catalog, keys


async def channel_keys(db: Executor) -> ChannelKeys:
    """Each channel's key in a catalog."""
    rows = await db.fetch_all("SELECT id, name FROM channels ORDER BY id")
    names: dict[str, tuple[int, ...]] = {}
    for row in rows:
        names[row["name"]] = (*names.get(row["name"], ()), row["id"])
    keys = {row["id"]: _key(row["id"], row["name"], names) for row in rows}
    return ChannelKeys(keys=keys, names=names)


def _key(channel_id: int, name: str, names: Mapping[str, tuple[int, ...]]) -> str:
    """The name, unless another channel has it or it reads as an id ("#12")."""
    unique = len(names[name]) == 1 and _ID_KEY.fullmatch(name) is None
    return name if unique else f"#{channel_id}"


def diff_catalogs(
    current: Catalog, wanted: Catalog, keys: ChannelKeys, *, prune: bool = False
) -> CatalogDiff:
    """What importing ``wanted`` over ``current`` changes; the file's channels are named
    by their keys in ``keys`` (InvalidRequest for an unknown or ambiguous channel)."""
    wanted = Catalog(prices=wanted.prices, channels=_by_key(wanted.channels, keys))
    return diff_keyed_catalogs(current, wanted, prune=prune)


def diff_keyed_catalogs(current: Catalog, wanted: Catalog, *, prune: bool = False) -> CatalogDiff:
    """``diff_catalogs`` of two catalogs that already key each channel the same way."""
    if prune:
        _check_aliases_kept(wanted)
    changes = list(_table_changes(current.prices, wanted.prices, None, prune))
    kept = 0 if prune else len(set(current.prices) - set(wanted.prices))
    for key in sorted(set(current.channels) | set(wanted.channels)):
        old, new = current.channels.get(key, {}), wanted.channels.get(key)
        if new is None and not prune:
            kept += len(old)
            continue
        changes += _table_changes(old, new or {}, key, prune)
        kept += 0 if prune else len(set(old) - set(new or {}))
    return CatalogDiff(changes=tuple(changes), kept=kept)


async def apply_diff(tx: Executor, diff: CatalogDiff, channel_id_of: Callable[[str], int]) -> None:
    """Make ``diff``'s changes in transaction ``tx`` (``channel_id_of`` gives the id of a
    channel key, as ``ChannelKeys.resolve``): channels' prices, then list prices, then
    aliases (targets first), then removals (aliases before what they follow)."""
    list_changes = [change for change in diff.changes if change.channel is None]
    for change in diff.changes:
        if change.channel is not None:
            channel_id = channel_id_of(change.channel)
            if change.after is None:
                await prices.delete_price(tx, change.model, channel_id)
            else:
                await prices.save_price(tx, change.after, channel_id)
    wanted = {c.model: c.after for c in list_changes if c.after is not None}
    for price in wanted.values():
        if price.alias_of is None:
            await prices.save_price(tx, price)
    aliases = [price for price in wanted.values() if price.alias_of is not None]
    for price in sorted(aliases, key=lambda p: _depth(p.model, wanted)):
        await prices.set_alias(tx, price.model, price.alias_of or "")
    removed = {c.model: c.before for c in list_changes if c.before and c.after is None}
    for model in sorted(removed, key=lambda m: -_depth(m, removed)):
        await prices.delete_price(tx, model)


def _table_changes(
    old: Mapping[str, Price], new: Mapping[str, Price], channel: str | None, prune: bool
) -> Iterator[Change]:
    for model in sorted(set(old) | set(new)):
        if model not in new:
            if prune:
                yield _change("removed", model, channel, old[model], None)
        elif model not in old:
            yield _change("added", model, channel, None, new[model])
        elif _fields(old[model], new[model]):
            yield _change("changed", model, channel, old[model], new[model])


def _change(
    action: Action, model: str, channel: str | None, before: Price | None, after: Price | None
) -> Change:
    return Change(action, model, channel, before, after, _fields(before, after))


def _fields(old: Price | None, new: Price | None) -> tuple[tuple[str, str | None, str | None], ...]:
    """The fields that differ, in the catalog's order (the new price's first)."""
    before = price_fields(old) if old is not None else {}
    after = price_fields(new) if new is not None else {}
    names = [*after, *(name for name in before if name not in after)]
    return tuple(
        (name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    )


def _by_key(
    channels: Mapping[str, Mapping[str, Price]], keys: ChannelKeys
) -> dict[str, Mapping[str, Price]]:
    """The file's channel tables under each channel's own key (a file may say #ID for a
    channel a name would do); InvalidRequest when two entries are one channel."""
    found: dict[str, Mapping[str, Price]] = {}
    for given, table in channels.items():
        key = keys.keys[keys.resolve(given)]
        if key in found:
            raise InvalidRequest(f"channel {given!r} appears twice in the file (as {key!r})")
        found[key] = table
    return found


def _check_aliases_kept(wanted: Catalog) -> None:
    for price in wanted.prices.values():
        if price.alias_of is not None and price.alias_of not in wanted.prices:
            raise InvalidRequest(
                f"{price.model} is an alias of {price.alias_of}, which the file does not price"
                " (--prune would delete it)"
            )


def _depth(model: str, table: Mapping[str, Price]) -> int:
    """How many aliases lead from ``model`` to a price in ``table`` (stops at a loop)."""
    depth, seen, entry = 0, {model}, table.get(model)
    while entry is not None and entry.alias_of is not None and entry.alias_of not in seen:
        depth += 1
        seen.add(entry.alias_of)
        entry = table.get(entry.alias_of)
    return depth
