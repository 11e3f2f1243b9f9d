"""A manifest document (the data of a ``format: burncloud/1`` file) read into a
``Manifest``.

Strict: an unknown field, a wrong type or a name given twice is refused with one line that
starts with the field's path. Only the form is checked here, with the services' own rules
for each value (names, URLs, IPs, ratios, money) and their normalisations; what needs the
database (does the group exist, does a kind's config hold what it needs) is checked when
the manifest is applied. Sections come back sorted (channels, plans and users by name,
tokens by owner and name, redemptions by hash; budgets as ``budget_lists`` sorts them), so
two documents of the same objects read equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED
from burncloud.services.balance_apis import check_balance_api
from burncloud.services.channel_keys import check_key_selection
from burncloud.services.channel_types import (
    clean_name,
    clean_names,
    get_channel_type,
    normalize_base_url,
)
from burncloud.services.channels import parse_cost_ratio
from burncloud.services.groups import check_group_name, parse_ratio
from burncloud.services.invites import INVITEE_REWARD_KEY, INVITER_REWARD_KEY
from burncloud.services.manifest import channel_form as form
from burncloud.services.manifest import fields as f
from burncloud.services.manifest.env_refs import field_path, item_path
from burncloud.services.manifest.model import (
    FORMAT,
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.plans import check_plan_name
from burncloud.services.price_catalog import (
    Catalog,
    parse_prices,
)
from burncloud.services.pricing import Price
from burncloud.services.tokens import parse_ips, parse_models
from burncloud.services.users import check_role, check_user_name

SETTINGS = (INVITEE_REWARD_KEY, INVITER_REWARD_KEY)  # USD in the file, nano-USD as stored
SECTIONS = (
    "format",
    "settings",
    "groups",
    "channels",
    "prices",
    "channel_prices",
    "plans",
    "users",
    "tokens",
    "redemptions",
)
CHANNEL_FIELDS = (
    "name",
    "type",
    "base_url",
    "key",
    "keys",
    "key_selection",
    "models",
    "groups",
    "tags",
    "weight",
    "priority",
    "model_map",
    "config",
    "cost_ratio",
    "rpm",
    "tpm",
    "max_concurrency",
    "overrides",
    "auto_sync",
    "balance_api",
    "balance_every",
    "balance_alert_below",
    "enabled",
    "renamed_from",
)
PLAN_FIELDS = ("name", "models", "rpm", "tpm", "group", "budgets", "default", "renamed_from")
USER_FIELDS = (
    "name",
    "role",
    "group",
    "plan",
    "enabled",
    "balance",
    "used",
    "rpm",
    "tpm",
    "max_concurrency",
    "budgets",
    "invite_code",
    "inviter",
    "renamed_from",
)
TOKEN_FIELDS = (
    "user",
    "name",
    "quota",
    "used",
    "expires",
    "models",
    "ips",
    "rpm",
    "tpm",
    "max_concurrency",
    "budgets",
    "scopes",
    "active",
    "key_sha256",
    "key_hint",
    "renamed_from",
)
REDEMPTION_FIELDS = ("code_sha256", "quota", "hint")


def parse_manifest(data: Any) -> Manifest:
    """The manifest ``data`` describes; InvalidRequest naming the first wrong field."""
    if not isinstance(data, dict):
        raise f.expected("a mapping", data, "manifest")
    entry = f.Entry(data, "", SECTIONS)
    entry.need("format", _format)
    return Manifest(
        settings=entry.maybe("settings", _settings),
        groups=entry.maybe("groups", _groups),
        channels=entry.maybe("channels", _channels),
        prices=_catalog(entry),
        plans=entry.maybe("plans", _plans),
        users=entry.maybe("users", _users),
        tokens=entry.maybe("tokens", _tokens),
        redemptions=entry.maybe("redemptions", _redemptions),
    )


def _format(value: Any, where: str) -> str:
    if value != FORMAT:
        raise f.expected(repr(FORMAT), value, where)
    return FORMAT


def _settings(value: Any, where: str) -> dict[str, str]:
    entry = f.Entry(value, where, SETTINGS)
    return {key: str(f.usd(item, field_path(where, key))) for key, item in entry.data.items()}


def _groups(value: Any, where: str) -> dict[str, Decimal]:
    name, ratio = f.checked(f.key_text, check_group_name), f.checked(f.decimal, parse_ratio)
    groups: dict[str, Decimal] = {}
    for key, item in f.mapping(value, where).items():
        groups[name(key, field_path(where, key))] = ratio(item, field_path(where, key))
    return groups


def _catalog(entry: f.Entry) -> Catalog | None:
    """``prices`` and ``channel_prices``: managed together, as one price catalog."""
    prices = entry.maybe("prices", _prices)
    channels = entry.maybe("channel_prices", _channel_prices)
    if prices is None and channels is None:
        return None
    if prices is None or channels is None:
        missing, given = (
            ("prices", "channel_prices") if prices is None else ("channel_prices", "prices")
        )
        raise InvalidRequest(
            f"{missing}: required field is missing (it is managed together with {given};"
            f" write {missing}: {{}} for none)"
        )
    return Catalog(prices=prices, channels=channels)


def _prices(value: Any, where: str) -> dict[str, Price]:
    return parse_prices(f.mapping(value, where), where, aliases=True)


def _channel_prices(value: Any, where: str) -> dict[str, dict[str, Price]]:
    channel = f.checked(f.key_text, clean_name)
    prices: dict[str, dict[str, Price]] = {}
    for key, item in f.mapping(value, where).items():
        at = field_path(where, key)
        prices[channel(key, at)] = parse_prices(f.mapping(item, at), at, aliases=False)
    return prices


def _channels(value: Any, where: str) -> tuple[ChannelSpec, ...]:
    specs = f.each(_channel)(value, where)
    _refuse_repeats(
        where, "channel name", [(s.name,) for s in specs], [_old(s.renamed_from) for s in specs]
    )
    return tuple(sorted(specs, key=lambda spec: spec.name))


def _channel(value: Any, where: str) -> ChannelSpec:
    entry = f.Entry(value, where, CHANNEL_FIELDS)
    name = entry.need("name", f.checked(f.text, clean_name))
    kind = entry.need("type", f.checked(f.text, get_channel_type))
    return ChannelSpec(
        name=name,
        type=kind.name,
        models=entry.need("models", f.checked(f.texts, _model_names)),
        base_url=entry.maybe(
            "base_url", f.checked(f.text, lambda url: normalize_base_url(kind, url))
        ),
        keys=form.channel_keys(entry),
        groups=entry.get("groups", f.checked(f.texts, _group_names), ("default",)),
        weight=entry.get("weight", f.whole(0), 1),
        priority=entry.get("priority", f.whole(None), 0),
        model_map=entry.get("model_map", f.text_map, {}),
        config=entry.get("config", f.scalar_map, {}),
        cost_ratio=entry.get("cost_ratio", f.checked(f.decimal, parse_cost_ratio), Decimal(1)),
        enabled=entry.get("enabled", f.flag, True),
        renamed_from=entry.maybe("renamed_from", f.checked(f.text, clean_name)),
        key_selection=entry.get("key_selection", f.checked(f.text, check_key_selection), "random"),
        tags=entry.get("tags", f.checked(f.texts, form.tag_names), ()),
        rpm=entry.maybe("rpm", form.cap),
        tpm=entry.maybe("tpm", form.cap),
        max_concurrency=entry.maybe("max_concurrency", form.cap),
        overrides=entry.get("overrides", form.json_object, {}),
        auto_sync=entry.maybe("auto_sync", form.interval) or None,
        balance_api=entry.maybe("balance_api", f.checked(f.text, check_balance_api)),
        balance_every=entry.maybe("balance_every", form.interval),
        balance_alert_below=entry.maybe("balance_alert_below", form.amount_text),
    )


def _plans(value: Any, where: str) -> tuple[PlanSpec, ...]:
    specs = f.each(_plan)(value, where)
    _refuse_repeats(
        where, "plan name", [(s.name,) for s in specs], [_old(s.renamed_from) for s in specs]
    )
    defaults = [n for n, spec in enumerate(specs) if spec.default]
    if len(defaults) > 1:
        first = specs[defaults[0]].name
        raise InvalidRequest(
            f"{item_path(where, defaults[1])}.default: plan {first!r} is the default already"
            " (one plan at most)"
        )
    return tuple(sorted(specs, key=lambda spec: spec.name))


def _plan(value: Any, where: str) -> PlanSpec:
    entry = f.Entry(value, where, PLAN_FIELDS)
    plan_name = f.checked(f.text, check_plan_name)
    return PlanSpec(
        name=entry.need("name", plan_name),
        models=entry.get("models", f.checked(f.texts, parse_models), ()),
        rpm=entry.maybe("rpm", f.limit),
        tpm=entry.maybe("tpm", f.limit),
        group=entry.maybe("group", f.checked(f.text, check_group_name)),
        budgets=entry.get("budgets", f.budgets, ()),
        default=entry.get("default", f.flag, False),
        renamed_from=entry.maybe("renamed_from", plan_name),
    )


def _users(value: Any, where: str) -> tuple[UserSpec, ...]:
    specs = f.each(_user)(value, where)
    _refuse_repeats(
        where, "user name", [(s.name,) for s in specs], [_old(s.renamed_from) for s in specs]
    )
    return tuple(sorted(specs, key=lambda spec: spec.name))


def _user(value: Any, where: str) -> UserSpec:
    entry = f.Entry(value, where, USER_FIELDS)
    user_name = f.checked(f.text, check_user_name)
    return UserSpec(
        name=entry.need("name", user_name),
        role=entry.get("role", f.checked(f.text, _role), "user"),
        group=entry.get("group", f.checked(f.text, check_group_name), "default"),
        plan=entry.maybe("plan", f.checked(f.text, check_plan_name)),
        enabled=entry.get("enabled", f.flag, True),
        balance=entry.get("balance", f.usd_or_unlimited, 0),
        used=entry.get("used", f.usd, 0),
        rpm=entry.maybe("rpm", f.limit),
        tpm=entry.maybe("tpm", f.limit),
        max_concurrency=entry.maybe("max_concurrency", f.limit),
        budgets=entry.get("budgets", f.budgets, ()),
        invite_code=entry.maybe("invite_code", f.word),
        inviter=entry.maybe("inviter", user_name),
        renamed_from=entry.maybe("renamed_from", user_name),
    )


def _tokens(value: Any, where: str) -> tuple[TokenSpec, ...]:
    specs = f.each(_token)(value, where)
    _refuse_repeats(
        where,
        "token",
        [(s.user, s.name) for s in specs],
        [None if s.renamed_from is None else (s.user, s.renamed_from) for s in specs],
    )
    return tuple(sorted(specs, key=lambda spec: (spec.user, spec.name)))


def _token(value: Any, where: str) -> TokenSpec:
    entry = f.Entry(value, where, TOKEN_FIELDS)
    token_name = f.checked(f.text, _token_name)
    return TokenSpec(
        user=entry.need("user", f.checked(f.text, check_user_name)),
        name=entry.need("name", token_name),
        quota=entry.get("quota", f.usd_or_unlimited, UNLIMITED),
        used=entry.get("used", f.usd, 0),
        expires_at=entry.maybe("expires", f.expiry),
        models=entry.get("models", f.checked(f.texts, parse_models), ()),
        ips=entry.get("ips", f.checked(f.texts, parse_ips), ()),
        rpm=entry.maybe("rpm", f.limit),
        tpm=entry.maybe("tpm", f.limit),
        max_concurrency=entry.maybe("max_concurrency", f.limit),
        budgets=entry.get("budgets", f.budgets, ()),
        scopes=entry.get("scopes", f.scopes, frozenset({"relay"})),
        active=entry.get("active", f.flag, True),
        key_sha256=entry.maybe("key_sha256", f.sha256),
        key_hint=entry.maybe("key_hint", f.text),
        renamed_from=entry.maybe("renamed_from", token_name),
    )


def _redemptions(value: Any, where: str) -> tuple[RedemptionSpec, ...]:
    specs = f.each(_redemption)(value, where)
    hashes = [(spec.code_sha256,) for spec in specs]
    _refuse_repeats(where, "redemption code hash", hashes, [None] * len(specs), "code_sha256")
    return tuple(sorted(specs, key=lambda spec: spec.code_sha256))


def _redemption(value: Any, where: str) -> RedemptionSpec:
    entry = f.Entry(value, where, REDEMPTION_FIELDS)
    return RedemptionSpec(
        code_sha256=entry.need("code_sha256", f.sha256),
        quota=entry.need("quota", f.usd),
        hint=entry.get("hint", f.text, ""),
    )


def _refuse_repeats(
    where: str,
    what: str,
    names: Sequence[tuple[str, ...]],
    olds: Sequence[tuple[str, ...] | None],
    field: str = "name",
) -> None:
    """Refuse a name given twice in a section, and a rename from a name the section still
    has or that another object is renamed from (which one is meant would be a guess)."""
    seen: set[tuple[str, ...]] = set()
    for n, name in enumerate(names):
        if name in seen:
            shown = "/".join(name)
            raise InvalidRequest(f"{item_path(where, n)}.{field}: duplicate {what} {shown!r}")
        seen.add(name)
    renamed: set[tuple[str, ...]] = set()
    for n, old in enumerate(olds):
        if old is None:
            continue
        if old in seen or old in renamed:
            reason = "is still in the file" if old in seen else "is renamed twice"
            shown = "/".join(old)
            raise InvalidRequest(f"{item_path(where, n)}.renamed_from: {what} {shown!r} {reason}")
        renamed.add(old)


def _old(name: str | None) -> tuple[str, ...] | None:
    return None if name is None else (name,)


def _model_names(names: list[str]) -> tuple[str, ...]:
    return clean_names(names, "model")


def _group_names(names: list[str]) -> tuple[str, ...]:
    return clean_names(names, "group")


def _role(role: str) -> str:
    check_role(role)
    return role


def _token_name(name: str) -> str:
    if not name.strip():
        raise InvalidRequest("a token needs a name")
    return name.strip()
