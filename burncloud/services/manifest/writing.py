"""A ``Manifest`` written as a document (plain data for a ``format: burncloud/1`` file).

Deterministic, so a diff of two exports shows only what changed: sections in a fixed
order, objects sorted (channels, plans and users by name, tokens by owner and name,
redemptions by hash, budgets as ``budget_lists`` sorts them), mapping keys sorted, fields
in the documented order and every default written out; only fields that are None (not
given) are left out. Money is USD decimal text, ``unlimited`` for an unlimited balance or
quota, an expiry ISO-8601 UTC or ``never``, a budget ``20/month`` or ``gpt-4o=10/5h``.
Channel keys follow ``secrets``: ``omit`` (no key field), ``env`` (a ``${VAR}`` reference
per channel, ``key_variable``, whose variable holds the channel's keys one per line) or
``plain`` (``key``, or ``keys`` for several), and so do credential header overrides
(their values null unless ``plain``); see ``channel_form``. Client keys are never written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.budgets import BudgetSpec
from burncloud.services.groups import format_ratio
from burncloud.services.manifest import channel_form as form
from burncloud.services.manifest.budget_lists import budget_text, sorted_budgets
from burncloud.services.manifest.fields import NEVER, UNLIMITED_TEXT
from burncloud.services.manifest.model import (
    FORMAT,
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.price_catalog import Catalog, price_data
from burncloud.services.pricing import Price

SECRETS = ("omit", "env", "plain")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def key_variable(channel_name: str) -> str:
    """The environment variable ``--secrets env`` names for a channel's keys (one per
    line): BURNCLOUD_CHANNEL_<NAME>_KEY, NAME upper-cased with every run of other
    characters as _."""
    return f"BURNCLOUD_CHANNEL_{_NOT_ALNUM.sub('_', channel_name.upper())}_KEY"


def manifest_data(manifest: Manifest, secrets: str) -> dict[str, Any]:
    """The manifest as plain data (text, integers, booleans, lists and mappings); a
    section that is None is left out."""
    if secrets not in SECRETS:
        raise InvalidRequest(f"unknown secrets mode {secrets!r}: use one of {', '.join(SECRETS)}")
    channels = None if manifest.channels is None else sorted(manifest.channels, key=_by_name)
    if secrets == "env" and channels:
        _refuse_shared_variables(channels)
    catalog = manifest.prices
    sections: dict[str, Any] = {
        "format": FORMAT,
        "settings": _maybe(manifest.settings, _settings_data),
        "groups": _maybe(manifest.groups, _groups_data),
        "channels": _maybe(channels, lambda specs: [_channel_data(s, secrets) for s in specs]),
        "prices": None if catalog is None else _prices_data(catalog.prices),
        "channel_prices": None if catalog is None else _channel_prices_data(catalog),
        "plans": _maybe(manifest.plans, _plans_data),
        "users": _maybe(manifest.users, _users_data),
        "tokens": _maybe(manifest.tokens, _tokens_data),
        "redemptions": _maybe(manifest.redemptions, _redemptions_data),
    }
    return _present(sections)


def _channel_data(spec: ChannelSpec, secrets: str) -> dict[str, Any]:
    return _present(
        {
            "name": spec.name,
            "type": spec.type,
            "base_url": spec.base_url,
            **form.keys_data(spec.keys, secrets, key_variable(spec.name)),
            "key_selection": spec.key_selection,
            "models": list(spec.models),
            "groups": list(spec.groups),
            "tags": list(spec.tags),
            "weight": spec.weight,
            "priority": spec.priority,
            "model_map": _sorted(spec.model_map),
            "config": _sorted(spec.config),
            "cost_ratio": format_ratio(spec.cost_ratio),
            "rpm": spec.rpm,
            "tpm": spec.tpm,
            "max_concurrency": spec.max_concurrency,
            "overrides": form.overrides_data(spec.overrides, secrets),
            "auto_sync": form.interval_data(spec.auto_sync),
            "balance_api": spec.balance_api,
            "balance_every": form.interval_data(spec.balance_every),
            "balance_alert_below": spec.balance_alert_below,
            "enabled": spec.enabled,
            "renamed_from": spec.renamed_from,
        }
    )


def _plan_data(spec: PlanSpec) -> dict[str, Any]:
    return _present(
        {
            "name": spec.name,
            "models": list(spec.models),
            "rpm": spec.rpm,
            "tpm": spec.tpm,
            "group": spec.group,
            "budgets": _budgets_data(spec.budgets),
            "default": spec.default,
            "renamed_from": spec.renamed_from,
        }
    )


def _user_data(spec: UserSpec) -> dict[str, Any]:
    return _present(
        {
            "name": spec.name,
            "role": spec.role,
            "group": spec.group,
            "plan": spec.plan,
            "enabled": spec.enabled,
            "balance": _money(spec.balance),
            "used": format_usd(spec.used),
            "rpm": spec.rpm,
            "tpm": spec.tpm,
            "max_concurrency": spec.max_concurrency,
            "budgets": _budgets_data(spec.budgets),
            "invite_code": spec.invite_code,
            "inviter": spec.inviter,
            "renamed_from": spec.renamed_from,
        }
    )


def _token_data(spec: TokenSpec) -> dict[str, Any]:
    return _present(
        {
            "user": spec.user,
            "name": spec.name,
            "quota": _money(spec.quota),
            "used": format_usd(spec.used),
            "expires": _expiry(spec.expires_at),
            "models": list(spec.models),
            "ips": list(spec.ips),
            "rpm": spec.rpm,
            "tpm": spec.tpm,
            "max_concurrency": spec.max_concurrency,
            "budgets": _budgets_data(spec.budgets),
            "scopes": sorted(spec.scopes),
            "active": spec.active,
            "key_sha256": spec.key_sha256,
            "key_hint": spec.key_hint,
            "renamed_from": spec.renamed_from,
        }
    )


def _redemption_data(spec: RedemptionSpec) -> dict[str, Any]:
    return {"code_sha256": spec.code_sha256, "quota": format_usd(spec.quota), "hint": spec.hint}


def _budgets_data(specs: Iterable[BudgetSpec]) -> list[str]:
    return [budget_text(spec) for spec in sorted_budgets(specs)]


def _plans_data(specs: Iterable[PlanSpec]) -> list[dict[str, Any]]:
    return [_plan_data(spec) for spec in sorted(specs, key=_by_name)]


def _users_data(specs: Iterable[UserSpec]) -> list[dict[str, Any]]:
    return [_user_data(spec) for spec in sorted(specs, key=_by_name)]


def _tokens_data(specs: Iterable[TokenSpec]) -> list[dict[str, Any]]:
    return [_token_data(spec) for spec in sorted(specs, key=lambda s: (s.user, s.name))]


def _redemptions_data(specs: Iterable[RedemptionSpec]) -> list[dict[str, Any]]:
    return [_redemption_data(spec) for spec in sorted(specs, key=lambda s: s.code_sha256)]


def _settings_data(settings: Mapping[str, str]) -> dict[str, str]:
    """Settings as stored (nano-USD) written as USD."""
    return {key: format_usd(int(value)) for key, value in sorted(settings.items())}


def _groups_data(groups: Mapping[str, Any]) -> dict[str, str]:
    return {name: format_ratio(ratio) for name, ratio in sorted(groups.items())}


def _prices_data(prices: Mapping[str, Price]) -> dict[str, Any]:
    return {model: price_data(prices[model]) for model in sorted(prices)}


def _channel_prices_data(catalog: Catalog) -> dict[str, Any]:
    return {name: _prices_data(prices) for name, prices in sorted(catalog.channels.items())}


def _refuse_shared_variables(channels: Iterable[ChannelSpec]) -> None:
    """Two channels whose names give the same variable would get each other's key."""
    owners: dict[str, str] = {}
    for spec in channels:
        variable = key_variable(spec.name)
        if variable in owners:
            raise InvalidRequest(
                f"channels {owners[variable]!r} and {spec.name!r} would both take their key"
                f" from {variable}: rename one, or use --secrets omit or plain"
            )
        owners[variable] = spec.name


def _money(units: int) -> str:
    return UNLIMITED_TEXT if units == UNLIMITED else format_usd(units)


def _expiry(at: int | None) -> str:
    if at is None:
        return NEVER
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sorted(pairs: Mapping[str, str]) -> dict[str, str]:
    return dict(sorted(pairs.items()))


def _maybe(value: Any, write: Callable[[Any], Any]) -> Any:
    return None if value is None else write(value)


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ones that are None (not given), in their order."""
    return {name: value for name, value in fields.items() if value is not None}


def _by_name(spec: ChannelSpec | PlanSpec | UserSpec) -> str:
    return spec.name
