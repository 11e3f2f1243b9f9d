"""The router's in-memory view of the configuration, reloaded when the config version moves.

Nothing on the relay path reads the database: tokens (by key hash), users, channels with
their decrypted keys, routes, prices and group ratios all live in one immutable
``Snapshot``. ``ConfigCache`` polls the config version about once a second and swaps in a
new snapshot when it changed, so a CLI change reaches every worker within two seconds.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from burncloud.crypto import SecretBox
from burncloud.db.base import Database, Row
from burncloud.errors import InvalidRequest
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.services.budgets import PLAN, TOKEN, USER, BudgetRule, load_budgets
from burncloud.services.capabilities import (
    NO_CAPABILITIES,
    ChannelCapabilities,
    load_capabilities,
)
from burncloud.services.channel_overrides import EMPTY_OVERRIDES, ChannelOverrides, overrides_from
from burncloud.services.channels import Channel, ChannelCaps
from burncloud.services.groups import load_group_ratios
from burncloud.services.plans import Plan, load_plans
from burncloud.services.prices import (
    backfill_price_versions,
    load_channel_prices,
    load_price_table,
)
from burncloud.services.pricing import Price
from burncloud.services.settings import read_config_version
from burncloud.services.timeouts import DEFAULT_TIMEOUTS, Timeouts, timeouts_from_config
from burncloud.services.tokens import Token, split_list
from burncloud.services.users import User

log = logging.getLogger("burncloud.config")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Upstream:
    """A channel as the relay uses it: where to send, with which key, and what it costs
    us: its own price of a (public) model in ``cost_prices``, else ``cost_ratio`` times
    the list price."""

    id: int
    type: str
    name: str
    base_url: str
    key: str
    model_map: Mapping[str, str]
    config: Mapping[str, str]
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    cost_ratio: Decimal = Decimal(1)
    cost_prices: Mapping[str, Price] = field(default_factory=dict)
    key_id: int = 0  # which of the channel's keys ``key`` is
    key_weight: int = 1  # how often it is picked within its channel
    key_selection: str = "random"  # how the channel's keys take turns: random, round-robin
    capabilities: ChannelCapabilities = NO_CAPABILITIES  # what it supports, per model
    caps: ChannelCaps | None = None  # the channel's own RPM / TPM / concurrency caps
    overrides: ChannelOverrides = EMPTY_OVERRIDES  # headers and parameters set on the way up


@dataclass(frozen=True, slots=True)
class Candidate:
    """One channel able to serve a (group, model), with its routing priority and weight,
    and its enabled keys: one ``Upstream`` each, ``upstream`` the first."""

    upstream: Upstream
    priority: int
    weight: int
    keys: tuple[Upstream, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", (self.upstream,))


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    tokens: Mapping[str, Token]  # by key hash
    networks: Mapping[int, tuple[Network, ...]]  # token id -> IP allow-list
    users: Mapping[int, User]
    upstreams: Mapping[int, Upstream]  # channel id -> its first enabled key's
    routes: Mapping[tuple[str, str], tuple[Candidate, ...]]  # (group, model), best first
    prices: Mapping[str, Price]
    ratios: Mapping[str, Decimal]
    budgets: Mapping[tuple[str, int], tuple[BudgetRule, ...]] = field(default_factory=dict)
    plans: Mapping[int, Plan] = field(default_factory=dict)  # user id -> the plan it is on

    def budgets_for(self, token: Token, user: User) -> tuple[tuple[BudgetRule, int], ...]:
        """Every budget a request of ``token`` counts against, with the subject it counts
        for: the token's own, its user's and its user's plan's (these two per user)."""
        found = [(rule, token.id) for rule in self.budgets.get((TOKEN, token.id), ())]
        found += [(rule, user.id) for rule in self.budgets.get((USER, user.id), ())]
        plan = self.plans.get(user.id)
        if plan is not None:
            found += [(rule, user.id) for rule in plan.budgets]
        return tuple(found)

    def models_for(self, group: str) -> list[str]:
        """The models a group has at least one enabled channel for, sorted."""
        return sorted(model for (g, model) in self.routes if g == group)

    def may_be_free(self, group: str, allow_free_models: bool) -> bool:
        """Whether some request of a ``group`` caller could cost nothing (an unpriced model
        served free, a zero price, a group ratio of 0): then an empty balance refuses
        nothing before the model is known."""
        if allow_free_models or self.ratios.get(group) == 0:
            return True
        return any(not (price.input or price.output) for price in self.prices.values())


async def load_snapshot(db: Database, box: SecretBox) -> Snapshot:
    """Read the whole routing configuration at the current config version; prices stored
    before price versions existed get theirs first, so every billed price names one."""
    await backfill_price_versions(db)
    version = await read_config_version(db)
    token_rows = await db.fetch_all("SELECT * FROM tokens")
    user_rows = await db.fetch_all("SELECT * FROM users")
    plans = await load_plans(db)
    on_plans = {row["id"]: plans[row["plan_id"]] for row in user_rows if row["plan_id"] in plans}
    users = {row["id"]: _on_plan(User.from_row(row), on_plans.get(row["id"])) for row in user_rows}
    channel_rows = await db.fetch_all("SELECT * FROM channels WHERE status = 'enabled'")
    cost_prices = await load_channel_prices(db)
    capabilities = await load_capabilities(db)
    keyed = _keyed_upstreams(channel_rows, await _enabled_keys(db), box, cost_prices, capabilities)
    upstreams = {channel_id: keys[0] for channel_id, keys in keyed.items()}
    ability_rows = await db.fetch_all(
        "SELECT group_name, model, channel_id, priority, weight FROM abilities WHERE enabled = 1"
    )
    return Snapshot(
        version=version,
        tokens={row["key_hash"]: Token.from_row(row) for row in token_rows},
        networks={row["id"]: _networks(row["ips"]) for row in token_rows if row["ips"]},
        users=users,
        upstreams=upstreams,
        routes=_routes(ability_rows, keyed),
        prices=await load_price_table(db),
        ratios=await load_group_ratios(db),
        budgets=_by_owner(await load_budgets(db)),
        plans=on_plans,
    )


def _on_plan(user: User, plan: Plan | None) -> User:
    """The user as its requests see it: priced by its plan's group when the plan names
    one, limited by the plan's RPM and TPM where the user has no limit of its own."""
    if plan is None:
        return user
    return replace(
        user,
        group=plan.group or user.group,
        rpm=user.rpm if user.rpm is not None else plan.rpm,
        tpm=user.tpm if user.tpm is not None else plan.tpm,
    )


def _by_owner(rules: list[BudgetRule]) -> dict[tuple[str, int], tuple[BudgetRule, ...]]:
    """Token and user budgets by (scope, id); plan budgets live on their plans."""
    owners: dict[tuple[str, int], list[BudgetRule]] = {}
    for rule in rules:
        if rule.scope != PLAN:
            owners.setdefault((rule.scope, rule.scope_id), []).append(rule)
    return {key: tuple(found) for key, found in owners.items()}


async def _enabled_keys(db: Database) -> dict[int, list[Row]]:
    """The enabled keys of every channel, by channel id, in id order."""
    rows = await db.fetch_all(
        "SELECT id, channel_id, key_enc, weight FROM channel_keys WHERE status = 'enabled'"
        " ORDER BY channel_id, id"
    )
    found: dict[int, list[Row]] = {}
    for row in rows:
        found.setdefault(row["channel_id"], []).append(row)
    return found


def _keyed_upstreams(
    channel_rows: list[Row],
    keys: Mapping[int, list[Row]],
    box: SecretBox,
    cost_prices: Mapping[int, Mapping[str, Price]],
    capabilities: Mapping[int, ChannelCapabilities],
) -> dict[int, tuple[Upstream, ...]]:
    """One Upstream per enabled key of each enabled channel; a channel without an enabled
    key (an operator disabled the last ones) serves nothing."""
    found = {}
    for row in channel_rows:
        channel_keys = keys.get(row["id"])
        if channel_keys:
            base = _upstream(row, cost_prices, capabilities)
            found[row["id"]] = tuple(
                replace(
                    base,
                    key=box.decrypt(key["key_enc"]),
                    key_id=key["id"],
                    key_weight=key["weight"],
                )
                for key in channel_keys
            )
    return found


def _upstream(
    row: Row,
    cost_prices: Mapping[int, Mapping[str, Price]],
    capabilities: Mapping[int, ChannelCapabilities],
) -> Upstream:
    """The channel as the relay uses it, keyless: each key makes its own copy."""
    channel = Channel.from_row(row)
    return Upstream(
        id=channel.id,
        type=channel.type,
        name=channel.name,
        base_url=channel.base_url,
        key="",
        model_map=channel.model_map,
        config=channel.config,
        timeouts=_timeouts(channel),
        cost_ratio=channel.cost_ratio,
        cost_prices=cost_prices.get(channel.id, {}),
        key_selection=channel.key_selection,
        capabilities=capabilities.get(channel.id, NO_CAPABILITIES),
        caps=channel.caps,
        overrides=_overrides(channel),
    )


def _overrides(channel: Channel) -> ChannelOverrides:
    """The channel's overrides; none (logged) when the stored JSON is not valid."""
    try:
        return overrides_from(channel.overrides)
    except InvalidRequest as exc:  # written around the validation: serve without them
        log.warning("channel %s: %s; sending without its overrides", channel.id, exc.message)
        return EMPTY_OVERRIDES


def _timeouts(channel: Channel) -> Timeouts:
    try:
        return timeouts_from_config(channel.config)
    except InvalidRequest as exc:  # stored before it was validated: serve with defaults
        log.warning("channel %s: %s; using the default timeouts", channel.id, exc.message)
        return DEFAULT_TIMEOUTS


def _networks(text: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in split_list(text))


def _routes(
    rows: list[Row], keyed: Mapping[int, tuple[Upstream, ...]]
) -> dict[tuple[str, str], tuple[Candidate, ...]]:
    routes: dict[tuple[str, str], list[Candidate]] = {}
    for row in rows:
        keys = keyed.get(row["channel_id"])
        if keys is None:
            continue
        key = (row["group_name"], row["model"])
        candidate = Candidate(keys[0], row["priority"], row["weight"], keys)
        routes.setdefault(key, []).append(candidate)
    return {
        key: tuple(sorted(found, key=lambda c: (-c.priority, c.upstream.id)))
        for key, found in routes.items()
    }


class ConfigCache:
    """Owns the current Snapshot and the task that keeps it fresh."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        interval: float = 1.0,
        on_reload: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._box = box
        self._on_reload = on_reload
        self._polls = Periodic(
            "burncloud-config-poll",
            self._reload_if_changed,
            interval=interval,
            failure=Failure(log, "configuration reload failed; keeping the previous one"),
        )
        self.snapshot: Snapshot | None = None

    async def start(self) -> None:
        self.snapshot = await load_snapshot(self._db, self._box)
        self._polls.start()

    async def stop(self) -> None:
        await self._polls.stop()

    async def refresh(self) -> bool:
        """Reload if the config version moved; True when a new snapshot was installed."""
        version = await read_config_version(self._db)
        if self.snapshot is not None and version == self.snapshot.version:
            return False
        self.snapshot = await load_snapshot(self._db, self._box)
        if self._on_reload is not None:
            await self._on_reload()
        return True

    def poke(self) -> None:
        """Look for a new version now (a fleet notice said the configuration changed)."""
        self._polls.run_now()

    async def _reload_if_changed(self) -> None:
        """One poll; a failure keeps the last good snapshot serving."""
        if await self.refresh():
            version = self.snapshot.version if self.snapshot is not None else None
            log.info("configuration reloaded (version %s)", version)
