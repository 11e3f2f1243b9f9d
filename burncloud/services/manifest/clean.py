"""A desired manifest in the form the database stores, checked by the services' own rules.

A plan compares stored objects with these, so a file that says the same thing in other
words (a base URL left to the kind's default, ``10.0.0.1`` for ``10.0.0.1/32``, a ratio of
"1.50") plans nothing. Each object is checked alone here, without the database: that its
groups, users and channels exist after the apply is the plan's part. Errors name the
object: ``channel 'openai-main': bedrock channels need --config region=...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import ParamSpec, TypeVar

from burncloud.errors import InvalidRequest
from burncloud.money import MAX_UNITS
from burncloud.services.budgets import BudgetSpec
from burncloud.services.channel_keys import clean_keys
from burncloud.services.channel_types import clean_name
from burncloud.services.channels import ChannelFields, clean_channel_fields
from burncloud.services.groups import check_group_name, parse_ratio
from burncloud.services.key_scopes import scopes_text
from burncloud.services.manifest.budget_lists import clean_budget, repeated_budget, sorted_budgets
from burncloud.services.manifest.model import (
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.manifest.read import MANAGED_SETTINGS
from burncloud.services.plans import check_plan_name
from burncloud.services.price_catalog import Catalog
from burncloud.services.price_definitions import check_price
from burncloud.services.prices import check_model
from burncloud.services.pricing import Price
from burncloud.services.quota import validate_quota
from burncloud.services.tokens import MAX_EXPIRY, parse_ips, parse_models
from burncloud.services.users import check_role, check_user_name, parse_limit

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
P = ParamSpec("P")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def clean_manifest(desired: Manifest) -> Manifest:
    """``desired`` with every object in its stored form; InvalidRequest naming the first
    object that breaks a rule, or a name given twice."""

    def each(items: Iterable[T] | None, clean: Callable[[T], T]) -> tuple[T, ...] | None:
        return None if items is None else tuple(clean(item) for item in items)

    cleaned = Manifest(
        channels=each(desired.channels, _channel),
        prices=None if desired.prices is None else _catalog(desired.prices),
        groups=None if desired.groups is None else _groups(desired.groups),
        plans=each(desired.plans, _plan),
        users=each(desired.users, _user),
        tokens=each(desired.tokens, _token),
        redemptions=each(desired.redemptions, _redemption),
        settings=None if desired.settings is None else _settings(desired.settings),
    )
    _refuse_repeats("channel", cleaned.channels, lambda spec: spec.name)
    _refuse_repeats("plan", cleaned.plans, lambda spec: spec.name)
    _refuse_two_defaults(cleaned.plans or ())
    _refuse_repeats("user", cleaned.users, lambda spec: spec.name)
    _refuse_repeats("token", cleaned.tokens, lambda spec: (spec.user, spec.name))
    _refuse_repeats("redemption", cleaned.redemptions, lambda spec: spec.code_sha256)
    return cleaned


def token_label(user: str, name: str) -> str:
    """How a plan names a token: ``alice/laptop``."""
    return f"{user}/{name}"


def channel_fields(spec: ChannelSpec) -> ChannelFields:
    """The channel service's writable fields of ``spec`` (all but its keys and status)."""
    return ChannelFields(
        type=spec.type,
        name=spec.name,
        base_url=spec.base_url,
        models=spec.models,
        groups=spec.groups,
        weight=spec.weight,
        priority=spec.priority,
        model_map=spec.model_map,
        config=spec.config,
        cost_ratio=spec.cost_ratio,
        key_selection=spec.key_selection,
        tags=spec.tags,
        rpm=spec.rpm,
        tpm=spec.tpm,
        max_concurrency=spec.max_concurrency,
        overrides=spec.overrides,
        auto_sync=spec.auto_sync,
        balance_api=spec.balance_api,
        balance_every=spec.balance_every,
        balance_alert_below=spec.balance_alert_below,
    )


def _channel(spec: ChannelSpec) -> ChannelSpec:
    where = f"channel {spec.name!r}"
    fields = _checked(where, clean_channel_fields, channel_fields(spec))
    keys = None if spec.keys is None else tuple(_checked(where, clean_keys, spec.keys))
    return replace(
        spec,
        name=fields.name,
        type=fields.type,
        models=tuple(fields.models),
        base_url=fields.base_url,
        keys=keys,
        groups=tuple(fields.groups),
        weight=fields.weight,
        priority=fields.priority,
        model_map=dict(fields.model_map),
        config=dict(fields.config),
        cost_ratio=Decimal(fields.cost_ratio),
        renamed_from=_checked(where, _old_name, spec.renamed_from, clean_name),
        key_selection=fields.key_selection,
        tags=tuple(fields.tags),
        rpm=fields.rpm,
        tpm=fields.tpm,
        max_concurrency=fields.max_concurrency,
        overrides=dict(fields.overrides),
        auto_sync=fields.auto_sync,
        balance_api=fields.balance_api,
        balance_every=fields.balance_every,
        balance_alert_below=fields.balance_alert_below,
    )


def _plan(spec: PlanSpec) -> PlanSpec:
    def check() -> PlanSpec:
        return replace(
            spec,
            name=check_plan_name(spec.name),
            models=parse_models(spec.models),
            rpm=_limit(spec.rpm, "rpm"),
            tpm=_limit(spec.tpm, "tpm"),
            group=None if spec.group is None else check_group_name(spec.group),
            budgets=_budgets(spec.budgets),
            renamed_from=_old_name(spec.renamed_from, check_plan_name),
        )

    return _checked(f"plan {spec.name!r}", check)


def _user(spec: UserSpec) -> UserSpec:
    where = f"user {spec.name!r}"

    def check() -> UserSpec:
        check_role(spec.role)
        if spec.used < 0:
            raise InvalidRequest("used must not be negative")
        code = None if spec.invite_code is None else spec.invite_code.strip()
        if code is not None and (not code or any(ch.isspace() for ch in code)):
            raise InvalidRequest(f"invalid invite code {spec.invite_code!r}: one word")
        return replace(
            spec,
            name=check_user_name(spec.name),
            group=check_group_name(spec.group),
            plan=_old_name(spec.plan, check_plan_name),
            balance=validate_quota(spec.balance, "balance"),
            rpm=_limit(spec.rpm, "rpm"),
            tpm=_limit(spec.tpm, "tpm"),
            max_concurrency=_limit(spec.max_concurrency, "max concurrency"),
            budgets=_budgets(spec.budgets),
            invite_code=code,
            inviter=_old_name(spec.inviter, check_user_name),
            renamed_from=_old_name(spec.renamed_from, check_user_name),
        )

    return _checked(where, check)


def _token(spec: TokenSpec) -> TokenSpec:
    where = f"token {token_label(spec.user, spec.name)}"

    def check() -> TokenSpec:
        if spec.used < 0:
            raise InvalidRequest("used must not be negative")
        if spec.expires_at is not None and not 0 <= spec.expires_at <= MAX_EXPIRY:
            raise InvalidRequest(f"expiry must be a unix time from 0 to {MAX_EXPIRY}")
        try:
            scopes_text(spec.scopes)
        except ValueError:
            raise InvalidRequest("scopes must be relay, admin or both") from None
        return replace(
            spec,
            user=check_user_name(spec.user),
            name=_token_name(spec.name),
            quota=validate_quota(spec.quota),
            models=parse_models(spec.models),
            ips=parse_ips(spec.ips),
            rpm=_limit(spec.rpm, "rpm"),
            tpm=_limit(spec.tpm, "tpm"),
            max_concurrency=_limit(spec.max_concurrency, "max concurrency"),
            budgets=_budgets(spec.budgets),
            key_sha256=None if spec.key_sha256 is None else _sha256(spec.key_sha256),
            key_hint=None if spec.key_hint is None else spec.key_hint.strip(),
            renamed_from=_old_name(spec.renamed_from, _token_name),
        )

    return _checked(where, check)


def _redemption(spec: RedemptionSpec) -> RedemptionSpec:
    def check() -> RedemptionSpec:
        if not 0 < spec.quota <= MAX_UNITS:
            raise InvalidRequest("a redemption code must be worth more than 0")
        return replace(spec, code_sha256=_sha256(spec.code_sha256), hint=spec.hint.strip())

    return _checked(f"redemption {spec.code_sha256[:12]}", check)


def _catalog(catalog: Catalog) -> Catalog:
    """The catalog as given (its prices are stored as they are), each price checked."""
    tables = [("price", catalog.prices)] + [
        (f"cost price on channel {key!r} of", table) for key, table in catalog.channels.items()
    ]
    for where, table in tables:
        for model, price in table.items():
            _checked(f"{where} {model!r}", _check_price, model, price)
    return catalog


def _check_price(model: str, price: Price) -> None:
    check_model(model)
    if price.alias_of is None:
        check_price(price)
    else:
        check_model(price.alias_of)


def _groups(groups: Mapping[str, Decimal]) -> dict[str, Decimal]:
    cleaned: dict[str, Decimal] = {}
    for name, ratio in groups.items():
        where = f"group {name!r}"
        key = _checked(where, check_group_name, name)
        if key in cleaned:
            raise InvalidRequest(f"duplicate group name {key!r}")
        cleaned[key] = _checked(where, parse_ratio, ratio)
    return cleaned


def _settings(settings: Mapping[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in settings.items():
        if key not in MANAGED_SETTINGS:
            raise InvalidRequest(
                f"setting {key!r}: unknown setting (expected one of: {', '.join(MANAGED_SETTINGS)})"
            )
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_UNITS):
            raise InvalidRequest(f"setting {key!r}: expected nano-USD as digits, got {value!r}")
        cleaned[key] = str(int(text))
    return cleaned


def _budgets(specs: Iterable[BudgetSpec]) -> tuple[BudgetSpec, ...]:
    """Budgets as stored and sorted; InvalidRequest for one given twice."""
    cleaned = [clean_budget(spec) for spec in specs]
    repeat = repeated_budget(cleaned)
    if repeat is not None:
        raise InvalidRequest(repeat[1])
    return sorted_budgets(cleaned)


def _refuse_two_defaults(plans: Iterable[PlanSpec]) -> None:
    defaults = [plan.name for plan in plans if plan.default]
    if len(defaults) > 1:
        raise InvalidRequest(
            f"plans {defaults[0]!r} and {defaults[1]!r} are both the default (one plan at most)"
        )


def _limit(value: int | None, what: str) -> int | None:
    """A rate limit, None for none (a manifest says no limit by leaving it out, not -1)."""
    if value is None:
        return None
    if value == -1:
        raise InvalidRequest(f"{what} must be a positive number (leave it out for no limit)")
    return parse_limit(value, what)


def _token_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidRequest("a token needs a name")
    return cleaned


def _sha256(value: str) -> str:
    cleaned = value.strip().lower()
    if not _SHA256.fullmatch(cleaned):
        raise InvalidRequest("a key hash is 64 hex digits (SHA-256)")
    return cleaned


def _old_name(name: str | None, clean: Callable[[str], str]) -> str | None:
    return None if name is None else clean(name)


def _checked(where: str, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``check(*args)``, its InvalidRequest prefixed with the object it is about."""
    try:
        return check(*args, **kwargs)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}: {exc.message}") from None


def _refuse_repeats(what: str, specs: Iterable[T] | None, key: Callable[[T], K]) -> None:
    seen: set[K] = set()
    for spec in specs or ():
        found = key(spec)
        if found in seen:
            shown = token_label(*found) if isinstance(found, tuple) else found
            raise InvalidRequest(f"duplicate {what} {shown!r}")
        seen.add(found)
