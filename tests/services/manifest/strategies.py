"""Hypothesis strategies for valid manifests, in the canonical form the reader returns
(names cleaned, sections sorted), so ``parse_manifest(manifest_data(m, 'plain')) == m``
can be asserted as it stands. The text values carry ``$``, ``${`` and ``}`` and
non-ASCII characters, which the writer must escape and the reader keep."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import strategies as st

from burncloud.money import MAX_UNITS, UNLIMITED, format_usd
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.balance_apis import BALANCE_APIS
from burncloud.services.budget_periods import MAX_HOURS
from burncloud.services.budgets import BudgetSpec
from burncloud.services.channel_keys import KEY_SELECTIONS
from burncloud.services.invites import INVITEE_REWARD_KEY, INVITER_REWARD_KEY
from burncloud.services.manifest.budget_lists import budget_key, sorted_budgets
from burncloud.services.manifest.model import (
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.price_catalog import Catalog, parse_price
from burncloud.services.pricing import Price
from burncloud.services.tokens import MAX_EXPIRY
from burncloud.services.users import MAX_LIMIT

T = TypeVar("T")

# Text with the characters references and YAML care about, and some that are not ASCII.
_ALPHABET = st.sampled_from("abcXYZ09-_./:$$${}'\"#&*!|>%@`é中 ")
free_text = st.text(_ALPHABET, max_size=12)
word = st.text(st.sampled_from("abcXYZ09-_./:$${}é"), min_size=1, max_size=12)


def _name(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """Text of one of ``first`` then up to ``max_size`` of ``rest`` (faster than a regex)."""
    tail = st.text(st.sampled_from(rest), max_size=max_size)
    return st.builds(str.__add__, st.sampled_from(first), tail)


model = _name("abgz", "az09._:/-", 12)
group = _name("adv", "ax09_-", 8)
user_name = _name("abz", "az09_.@-", 12)
channel_name = st.builds(
    lambda head, tail: f"{head} {tail}" if tail else head,
    _name("aAzZ", "aZ09._-", 8),
    st.text(st.sampled_from("a09"), max_size=4),
)
plan_name = _name("pA", "az09 _-.", 10).filter(lambda n: n == n.strip())
token_name = st.text(_ALPHABET, min_size=1, max_size=12).filter(lambda t: t == t.strip() != "")
money = st.integers(0, MAX_UNITS)
money_or_unlimited = money | st.just(UNLIMITED)
limit = st.none() | st.integers(1, MAX_LIMIT)
sha256 = st.binary(min_size=32, max_size=32).map(bytes.hex)
ratio = st.decimals(0, 1000, places=4).map(lambda d: Decimal(0) if d == 0 else d.normalize())
base_url = st.builds(
    lambda host, port, path: f"https://{host}.example{port}/{path}",
    _name("ab", "az", 8),
    st.sampled_from(["", ":8443"]),
    _name("av", "az09/", 6).filter(lambda path: "//" not in path and not path.endswith("/")),
)


_KINDS = st.sampled_from(sorted(CHANNEL_KINDS))
_SCOPES = st.sampled_from([{"relay"}, {"admin"}, {"admin", "relay"}])
_EXPIRY = st.none() | st.integers(0, MAX_EXPIRY)
_CONFIG = st.dictionaries(_name("at", "az_", 9), free_text, max_size=2)
_KEYS = st.lists(word, min_size=1, max_size=3, unique=True).map(tuple)
_HEADER = _name("XAa", "az09-", 8)
_PARAM = _name("atx", "az09_", 8)
_JSON_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | free_text
)
_JSON = st.recursive(
    _JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_PARAM, inner, max_size=2),
    max_leaves=4,
)
_OVERRIDES = st.fixed_dictionaries(
    {},
    optional={
        "set_headers": st.dictionaries(_HEADER, free_text, min_size=1, max_size=2),
        "set_params": st.dictionaries(_PARAM, _JSON, min_size=1, max_size=2),
        "drop_params": st.lists(_PARAM, min_size=1, max_size=2, unique=True),
    },
)
_CAP = st.none() | st.integers(1, 2**31 - 1)
_EVERY = st.integers(1, 10**7)
_SETTINGS = st.dictionaries(
    st.sampled_from([INVITEE_REWARD_KEY, INVITER_REWARD_KEY]), money.map(str)
)
_EXTRA_KINDS = st.sets(st.sampled_from(["cached", "cache_write", "request", "audio_input"]))


@st.composite
def network(draw: st.DrawFn) -> str:
    address = draw(st.ip_addresses())
    prefix = draw(st.integers(0, address.max_prefixlen))
    return str(ipaddress.ip_network((address, prefix), strict=False))


_NETWORKS = st.lists(network(), max_size=3, unique=True)
_PERIOD = st.sampled_from(["day", "week", "month"]) | st.integers(1, MAX_HOURS).map("{}h".format)
# Model names with the separators of the budget text: "a/b=c=1/day" reads as model "a/b=c".
_BUDGET_MODEL = st.just("") | model | st.builds("{}={}".format, model, model)
budget = st.builds(BudgetSpec, money, _PERIOD, _BUDGET_MODEL)
budgets = st.lists(budget, max_size=3, unique_by=budget_key).map(sorted_budgets)


def _renamed(draw: st.DrawFn, name: str) -> str | None:
    """No rename, or one from a name no generated name can have (``~`` is never drawn)."""
    return f"{name}~old" if draw(st.booleans()) else None


@st.composite
def channel(draw: st.DrawFn) -> ChannelSpec:
    name = draw(channel_name)
    models = draw(st.lists(model, min_size=1, max_size=3, unique=True))
    return ChannelSpec(
        name=name,
        type=draw(_KINDS),
        models=tuple(models),
        base_url=draw(st.none() | base_url),
        keys=draw(st.none() | _KEYS),
        groups=tuple(draw(st.lists(group, min_size=1, max_size=3, unique=True))),
        weight=draw(st.integers(0, 10**6)),
        priority=draw(st.integers(-1000, 1000)),
        model_map={source: draw(model) for source in models if draw(st.booleans())},
        config=draw(_CONFIG),
        cost_ratio=draw(ratio),
        enabled=draw(st.booleans()),
        renamed_from=_renamed(draw, name),
        key_selection=draw(st.sampled_from(KEY_SELECTIONS)),
        tags=tuple(draw(st.lists(group, max_size=2, unique=True))),
        rpm=draw(_CAP),
        tpm=draw(_CAP),
        max_concurrency=draw(_CAP),
        overrides=draw(_OVERRIDES),
        auto_sync=draw(st.none() | _EVERY),
        balance_api=draw(st.none() | st.sampled_from(BALANCE_APIS)),
        balance_every=draw(st.none() | st.just(0) | _EVERY),
        balance_alert_below=draw(st.none() | st.decimals(0, 10**6, places=2).map(str)),
    )


@st.composite
def plan(draw: st.DrawFn) -> PlanSpec:
    name = draw(plan_name)
    return PlanSpec(
        name=name,
        models=tuple(draw(st.lists(model, max_size=3, unique=True))),
        rpm=draw(limit),
        tpm=draw(limit),
        group=draw(st.none() | group),
        budgets=draw(budgets),
        default=draw(st.booleans()),
        renamed_from=_renamed(draw, name),
    )


@st.composite
def user(draw: st.DrawFn) -> UserSpec:
    name = draw(user_name)
    return UserSpec(
        name=name,
        role=draw(st.sampled_from(["admin", "user"])),
        group=draw(group),
        plan=draw(st.none() | plan_name),
        enabled=draw(st.booleans()),
        balance=draw(money_or_unlimited),
        used=draw(money),
        rpm=draw(limit),
        tpm=draw(limit),
        max_concurrency=draw(limit),
        budgets=draw(budgets),
        invite_code=draw(st.none() | word),
        inviter=draw(st.none() | user_name),
        renamed_from=_renamed(draw, name),
    )


@st.composite
def token(draw: st.DrawFn) -> TokenSpec:
    name = draw(token_name)
    return TokenSpec(
        user=draw(user_name),
        name=name,
        quota=draw(money_or_unlimited),
        used=draw(money),
        expires_at=draw(_EXPIRY),
        models=tuple(draw(st.lists(model, max_size=3, unique=True))),
        ips=tuple(draw(_NETWORKS)),
        rpm=draw(limit),
        tpm=draw(limit),
        max_concurrency=draw(limit),
        budgets=draw(budgets),
        scopes=frozenset(draw(_SCOPES)),
        active=draw(st.booleans()),
        key_sha256=draw(st.none() | sha256),
        key_hint=draw(st.none() | free_text),
        renamed_from=_renamed(draw, name),
    )


def _price(draw: st.DrawFn, name: str, *, alias: bool) -> Price:
    if alias and draw(st.booleans()):
        return parse_price(name, {"alias": draw(model)}, "test")
    amounts = {kind: format_usd(draw(st.integers(0, 10**12))) for kind in draw(_EXTRA_KINDS)}
    data = {"input": format_usd(draw(money)), "output": format_usd(draw(money)), **amounts}
    return parse_price(name, data, "test")


@st.composite
def catalog(draw: st.DrawFn) -> Catalog:
    models = draw(st.lists(model, max_size=3, unique=True))
    channels = draw(st.lists(channel_name, max_size=2, unique=True))
    return Catalog(
        prices={m: _price(draw, m, alias=True) for m in models},
        channels={c: {m: _price(draw, m, alias=False) for m in models[:2]} for c in channels},
    )


def _section(item: st.SearchStrategy[T], key: Callable[[T], Any]) -> st.SearchStrategy[Any]:
    """None, or up to three items with unique keys, sorted by key as the reader sorts them."""
    items = st.lists(item, max_size=3, unique_by=key).map(
        lambda found: tuple(sorted(found, key=key))
    )
    return st.none() | items


redemption = st.builds(RedemptionSpec, sha256, money, free_text)
_CHANNELS = _section(channel(), lambda spec: spec.name)


def _one_default(specs: tuple[PlanSpec, ...] | None) -> tuple[PlanSpec, ...] | None:
    """At most one plan is the default: the first drawn as one."""
    if specs is None:
        return None
    first = next((spec.name for spec in specs if spec.default), None)
    return tuple(replace(spec, default=spec.name == first) for spec in specs)


_PLANS = _section(plan(), lambda spec: spec.name).map(_one_default)
_USERS = _section(user(), lambda spec: spec.name)
_TOKENS = _section(token(), lambda spec: (spec.user, spec.name))
_REDEMPTIONS = _section(redemption, lambda spec: spec.code_sha256)
_GROUPS = st.none() | st.dictionaries(group, ratio, max_size=3)


@st.composite
def manifest(draw: st.DrawFn) -> Manifest:
    """A valid manifest in canonical form; each section absent, empty or filled."""
    return Manifest(
        channels=draw(_CHANNELS),
        prices=draw(st.none() | catalog()),
        groups=draw(_GROUPS),
        plans=draw(_PLANS),
        users=draw(_USERS),
        tokens=draw(_TOKENS),
        redemptions=draw(_REDEMPTIONS),
        settings=draw(st.none() | _SETTINGS),
    )
