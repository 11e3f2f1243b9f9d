"""What changes between a stored object and the desired one, as a plan shows it.

Each field that differs is ``field old -> new`` with values as the file writes them (lists
comma-separated, maps as ``a=b``, ``-`` for nothing, money in USD, intervals as ``1d``,
overrides as JSON by part). A secret is never shown: a key replaced by another says
``key: changed``, other key changes how many come and go (``keys 2 -> 3 (1 added)``),
and header overrides only the headers' names. Money that traffic spends (balance, quota,
used) is never compared: it is set when an object is created (``model``). A desired
invite code, inviter, key hash or key hint of None keeps what is stored, so it is not
compared either. Budgets are compared by their amounts (``budgets 20/month -> 30/month``),
never what their windows spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from burncloud.money import format_usd
from burncloud.services.budgets import BudgetSpec
from burncloud.services.groups import format_ratio
from burncloud.services.manifest.budget_lists import budget_text
from burncloud.services.manifest.channel_form import HEADERS, interval_data, json_text
from burncloud.services.manifest.model import ChannelSpec, PlanSpec, TokenSpec, UserSpec
from burncloud.services.price_sync import Change as PriceChange

Value = str | int | bool | Decimal | tuple[str, ...] | frozenset[str] | Mapping[str, str] | None


def channel_details(before: ChannelSpec, after: ChannelSpec) -> tuple[str, ...]:
    """The channel's changed fields; ``after.keys`` None keeps the stored keys, and keys
    in another order are the same keys."""
    alert_below = _amount(after.balance_alert_below)
    found = _changed(
        ("type", before.type, after.type),
        ("base_url", before.base_url, after.base_url),
        ("key_selection", before.key_selection, after.key_selection),
        ("models", before.models, after.models),
        ("groups", before.groups, after.groups),
        ("tags", before.tags, after.tags),
        ("weight", before.weight, after.weight),
        ("priority", before.priority, after.priority),
        ("model_map", before.model_map, after.model_map),
        ("config", before.config, after.config),
        ("cost_ratio", before.cost_ratio, after.cost_ratio),
        ("rpm", before.rpm, after.rpm),
        ("tpm", before.tpm, after.tpm),
        ("max_concurrency", before.max_concurrency, after.max_concurrency),
        ("auto_sync", _interval(before.auto_sync), _interval(after.auto_sync)),
        ("balance_api", before.balance_api, after.balance_api),
        ("balance_every", _interval(before.balance_every), _interval(after.balance_every)),
        ("balance_alert_below", _amount(before.balance_alert_below), alert_below),
        ("enabled", before.enabled, after.enabled),
    )
    return found + _overrides(before.overrides, after.overrides) + _keys(before.keys, after.keys)


def keys_differ(before: tuple[str, ...] | None, after: tuple[str, ...] | None) -> bool:
    """Whether ``after`` (None: kept) names other keys than ``before``, in any order."""
    return after is not None and set(after) != set(before or ())


def _keys(before: tuple[str, ...] | None, after: tuple[str, ...] | None) -> tuple[str, ...]:
    """``key: changed`` for one key replaced by another, else how many keys come and go;
    never a key."""
    if not keys_differ(before, after):
        return ()
    assert after is not None
    old, new = set(before or ()), set(after)
    if len(old) == len(new) == 1:
        return ("key: changed",)
    moves = ((len(new - old), "added"), (len(old - new), "removed"))
    shown = ", ".join(f"{count} {what}" for count, what in moves if count)
    return (f"keys {len(old)} -> {len(new)} ({shown})",)


def _overrides(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Each changed part of the overrides; a header's value is never shown (it may be a
    credential): only which headers are added, changed or removed."""
    found = []
    for part in sorted({*before, *after}):
        old, new = before.get(part), after.get(part)
        if json_text(old) == json_text(new):
            continue
        if part == HEADERS and _is_map(old) and _is_map(new):
            found.append(f"overrides.{part}: {_header_moves(old or {}, new or {})}")
        else:
            found.append(f"overrides.{part} {_json(old)} -> {_json(new)}")
    return tuple(found)


def _header_moves(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    moves = [f"{name} added" for name in sorted(new.keys() - old.keys())]
    kept = sorted(old.keys() & new.keys())
    moves += [f"{name} changed" for name in kept if old[name] != new[name]]
    moves += [f"{name} removed" for name in sorted(old.keys() - new.keys())]
    return ", ".join(moves)


def _is_map(value: Any) -> bool:
    return value is None or isinstance(value, Mapping)


def _json(value: Any) -> str:
    return "-" if value in (None, {}, []) else json_text(value)


def _interval(seconds: int | None) -> str | None:
    shown = interval_data(seconds)
    return None if shown is None else str(shown)


def _amount(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def plan_details(before: PlanSpec, after: PlanSpec) -> tuple[str, ...]:
    """The plan's changed fields, whether it is the default among them."""
    return _changed(
        ("models", before.models, after.models),
        ("rpm", before.rpm, after.rpm),
        ("tpm", before.tpm, after.tpm),
        ("group", before.group, after.group),
        ("budgets", _budgets(before.budgets), _budgets(after.budgets)),
        ("default", before.default, after.default),
    )


def user_details(before: UserSpec, after: UserSpec) -> tuple[str, ...]:
    """The user's changed fields, never its balance or use."""
    return _changed(
        ("role", before.role, after.role),
        ("group", before.group, after.group),
        ("plan", before.plan, after.plan),
        ("enabled", before.enabled, after.enabled),
        ("rpm", before.rpm, after.rpm),
        ("tpm", before.tpm, after.tpm),
        ("max_concurrency", before.max_concurrency, after.max_concurrency),
        ("budgets", _budgets(before.budgets), _budgets(after.budgets)),
        *_given("invite_code", before.invite_code, after.invite_code),
        *_given("inviter", before.inviter, after.inviter),
    )


def token_details(before: TokenSpec, after: TokenSpec) -> tuple[str, ...]:
    """The token's changed fields, never its quota or use; a new key hash says only
    ``key_sha256: changed``."""
    found = _changed(
        ("expires", expiry_text(before.expires_at), expiry_text(after.expires_at)),
        ("models", before.models, after.models),
        ("ips", before.ips, after.ips),
        ("rpm", before.rpm, after.rpm),
        ("tpm", before.tpm, after.tpm),
        ("max_concurrency", before.max_concurrency, after.max_concurrency),
        ("budgets", _budgets(before.budgets), _budgets(after.budgets)),
        ("scopes", before.scopes, after.scopes),
        ("active", before.active, after.active),
        *_given("key_hint", before.key_hint, after.key_hint),
    )
    if after.key_sha256 is not None and after.key_sha256 != before.key_sha256:
        found += ("key_sha256: changed",)
    return found


def ratio_details(before: Decimal, after: Decimal) -> tuple[str, ...]:
    return _changed(("ratio", before, after))


def usd_details(before: str, after: str) -> tuple[str, ...]:
    """A setting stored as nano-USD digits, shown in USD."""
    old, new = format_usd(int(before)), format_usd(int(after))
    return () if old == new else (f"{old} -> {new}",)


def price_details(change: PriceChange) -> tuple[str, ...]:
    """A changed price's fields as ``price_sync`` compares them (USD strings)."""
    if change.action != "changed":
        return ()
    return tuple(f"{name} {old or '-'} -> {new or '-'}" for name, old, new in change.fields)


def expiry_text(at: int | None) -> str:
    """An expiry as the file writes it: ``never`` or ``2027-01-31T00:00:00Z``."""
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _budgets(specs: tuple[BudgetSpec, ...]) -> tuple[str, ...]:
    return tuple(budget_text(spec) for spec in specs)


def _given(name: str, before: Value, after: Value) -> tuple[tuple[str, Value, Value], ...]:
    """The field to compare, unless the desired value is None (keep what is stored)."""
    return () if after is None else ((name, before, after),)


def _changed(*fields: tuple[str, Value, Value]) -> tuple[str, ...]:
    return tuple(
        f"{name} {_shown(old)} -> {_shown(new)}"
        for name, old, new in fields
        if _shown(old) != _shown(new)
    )


def _shown(value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_ratio(value)
    if isinstance(value, int | str):
        return str(value) if value != "" else "-"
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "-"
    if isinstance(value, tuple):
        return ",".join(value) or "-"
    return ",".join(f"{key}={value[key]}" for key in sorted(value)) or "-"
