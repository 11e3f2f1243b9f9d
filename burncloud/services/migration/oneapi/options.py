"""The peer's ``options`` table (``key``, ``value`` text): the money unit, the ratio and
price tables, group ratios and the invitation rewards, read as exact decimals.

An option row exists only once an operator saved it; until then the peer uses its
built-in value. ``QuotaPerUnit`` then is 500,000 and ``GroupRatio`` is
``{"default": 1, "vip": 1, "svip": 1}`` (both peers' ``InitOptionMap``); a ratio table
that is not set is None here and said so in the report (its built-in table is not copied).
A table that does not parse is what the peer itself could not load: reported, then treated
as not set. Each table replaces the built-in one whole when set, as the peers load them.

Sources: songquanpeng/one-api ``model/option.go`` and ``common/config``; QuantumNous/new-api
``model/option.go`` and ``setting/ratio_setting`` (``ModelPrice``, ``CacheRatio``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.services.groups import parse_ratio
from burncloud.services.invites import INVITEE_REWARD_KEY, INVITER_REWARD_KEY
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.money import (
    DEFAULT_QUOTA_PER_UNIT,
    NANO_PER_USD,
    units_text,
    units_to_nano,
    usd_text,
)

TABLES = ("ModelRatio", "CompletionRatio", "GroupRatio", "ModelPrice", "CacheRatio")
PEER_DEFAULT_GROUPS: Mapping[str, Decimal] = {
    "default": Decimal(1),
    "vip": Decimal(1),
    "svip": Decimal(1),
}
INVITE_OPTIONS = {"QuotaForInviter": INVITER_REWARD_KEY, "QuotaForInvitee": INVITEE_REWARD_KEY}
READ = frozenset({"QuotaPerUnit", *TABLES, *INVITE_OPTIONS})


@dataclass(frozen=True, slots=True)
class PeerOptions:
    """The options the import uses; a table is None when the peer does not set it."""

    quota_per_unit: Decimal = DEFAULT_QUOTA_PER_UNIT
    model_ratio: Mapping[str, Decimal] | None = None
    completion_ratio: Mapping[str, Decimal] | None = None
    group_ratio: Mapping[str, Decimal] | None = None
    model_price: Mapping[str, Decimal] | None = None
    cache_ratio: Mapping[str, Decimal] | None = None
    values: Mapping[str, str] | None = None  # every option row, by key

    def value(self, key: str) -> str | None:
        """The text of option ``key``, None when the peer has no such row."""
        return (self.values or {}).get(key)


def read_options(rows: Iterable[Mapping[str, Any]], found: Findings) -> PeerOptions:
    """The options of the peer's ``options`` rows; problems go to ``found``."""
    values = {str(row["key"]): "" if row["value"] is None else str(row["value"]) for row in rows}
    tables = {key: _table(key, values[key], found) if key in values else None for key in TABLES}
    return PeerOptions(
        quota_per_unit=_quota_per_unit(values.get("QuotaPerUnit"), found),
        model_ratio=tables["ModelRatio"],
        completion_ratio=tables["CompletionRatio"],
        group_ratio=tables["GroupRatio"],
        model_price=tables["ModelPrice"],
        cache_ratio=tables["CacheRatio"],
        values=values,
    )


def _quota_per_unit(text: str | None, found: Findings) -> Decimal:
    if text is None:
        found.note("QuotaPerUnit is not set at the peer: 500000 units = $1 (its default)")
        return DEFAULT_QUOTA_PER_UNIT
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or value <= 0:
        found.skip("option", "QuotaPerUnit", f"{text!r} is not a positive number: using 500000")
        return DEFAULT_QUOTA_PER_UNIT
    found.map("option", "QuotaPerUnit", f"{text.strip()} units = $1")
    return value


def _table(key: str, text: str, found: Findings) -> dict[str, Decimal] | None:
    """A ratio or price table (JSON object of numbers); None when it does not parse."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal) if text.strip() else {}
    except (ValueError, RecursionError):
        found.skip("option", key, "not valid JSON: the peer could not load it either")
        return None
    if not isinstance(data, dict):
        found.skip("option", key, "not a JSON object: the peer could not load it either")
        return None
    table: dict[str, Decimal] = {}
    for name, value in data.items():
        if isinstance(value, Decimal) and value.is_finite() and value >= 0:
            table[str(name)] = value
        else:
            shown = str(value) if isinstance(value, Decimal) else json.dumps(value)
            found.skip("option", f"{key}[{name}]", f"{shown} is not a number >= 0")
    return table


def clean_group(name: str) -> str | None:
    """A peer group name as ours (stripped), None when ours cannot hold it."""
    cleaned = name.strip()
    if not cleaned or any(ch.isspace() or ch == "," for ch in cleaned):
        return None
    return cleaned


def convert_groups(
    options: PeerOptions, used: Collection[str], found: Findings
) -> dict[str, Decimal]:
    """Every group of ``GroupRatio`` (the peer's default table when unset) and every group
    in ``used`` by users or channels (ratio 1 when the table does not name it)."""
    named = options.group_ratio
    if named is None:
        found.note("GroupRatio is not set at the peer: its default (default, vip, svip at 1)")
        named = PEER_DEFAULT_GROUPS
    groups: dict[str, Decimal] = {}
    for raw, ratio in sorted(named.items()):
        name = clean_group(raw)
        try:
            value = parse_ratio(str(ratio))
        except InvalidRequest as exc:
            found.skip("group", raw, exc.message)
            continue
        if name is None:
            found.skip("group", raw, "a group name cannot hold spaces or commas")
            continue
        groups[name] = value
        found.map("group", name, f"ratio {format(value, 'f')} (GroupRatio)")
    for name in sorted(set(used) - set(groups)):
        groups[name] = Decimal(1)
        found.map("group", name, "ratio 1: used by users or channels, not named in GroupRatio")
    return groups


def invite_settings(options: PeerOptions, found: Findings) -> dict[str, str]:
    """The invitation rewards (``QuotaForInviter`` / ``QuotaForInvitee`` units) as our
    settings, in nano-USD as they are stored."""
    settings: dict[str, str] = {}
    for option, key in INVITE_OPTIONS.items():
        text = options.value(option)
        if text is None:
            continue
        try:
            units = int(Decimal(text.strip()))
        except (InvalidOperation, ValueError):
            found.skip("option", option, f"{text!r} is not a whole number of units")
            continue
        converted = units_to_nano(max(units, 0), options.quota_per_unit)
        settings[key] = str(converted.nano)
        rounded = "" if converted.exact else " (rounded to the nano-dollar)"
        usd = usd_text(Fraction(converted.nano, NANO_PER_USD))
        before = units_text(units, options.quota_per_unit)
        found.map("setting", option, f"{before} -> {key} {usd}{rounded}")
    return settings


def leftover_options(options: PeerOptions, found: Findings) -> None:
    """One line naming the option keys nothing here reads (their values are not shown:
    some are secrets)."""
    left = sorted(set(options.values or {}) - READ)
    if left:
        listed = ", ".join(left)
        found.skip("option", f"{len(left)} other options", f"no burncloud equivalent: {listed}")
