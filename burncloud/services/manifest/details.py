"""What changes between a stored object and the desired one, as a plan shows it.

Each field that differs is ``field old -> new`` with values as the file writes them (lists
comma-separated, maps as ``a=b``, ``-`` for nothing, money in USD); a secret only says
``key: changed``. Money that traffic spends (balance, quota, used) is never compared: it is
set when an object is created (``model``). A desired invite code, inviter, key hash or key
hint of None keeps what is stored, so it is not compared either. Budgets are compared by
their amounts (``budgets 20/month -> 30/month``), never what their windows spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from burncloud.money import format_usd
from burncloud.services.budgets import BudgetSpec
from burncloud.services.groups import format_ratio
from burncloud.services.manifest.budget_lists import budget_text
from burncloud.services.manifest.model import ChannelSpec, PlanSpec, TokenSpec, UserSpec
from burncloud.services.price_sync import Change as PriceChange

Value = str | int | bool | Decimal | tuple[str, ...] | frozenset[str] | Mapping[str, str] | None


def channel_details(before: ChannelSpec, after: ChannelSpec) -> tuple[str, ...]:
    """The channel's changed fields; ``after.key`` None keeps the stored key."""
    found = _changed(
        ("type", before.type, after.type),
        ("base_url", before.base_url, after.base_url),
        ("models", before.models, after.models),
        ("groups", before.groups, after.groups),
        ("weight", before.weight, after.weight),
        ("priority", before.priority, after.priority),
        ("model_map", before.model_map, after.model_map),
        ("config", before.config, after.config),
        ("cost_ratio", before.cost_ratio, after.cost_ratio),
        ("enabled", before.enabled, after.enabled),
    )
    if after.key is not None and after.key != before.key:
        found += ("key: changed",)
    return found


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
