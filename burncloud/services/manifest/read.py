"""The database as a Manifest: what ``export`` writes and what a plan compares a file with.

Objects are matched by name, so a database where two channels share a name, or one user
has two tokens of one name, cannot be described: reading it is refused, naming the rows
and the command that renames one. Money is what ``user show`` and ``token show`` report:
the stored amount plus what routers hold in leases. A channel's keys are all of them,
whatever their status (health, not configuration). Budgets are read as rules (amount per
period), never their windows' spend. Only operator settings are read
(``MANAGED_SETTINGS``), never internal ones (rollup state, the secret check); the default
plan is read as a plan's ``default`` (``plan default``'s setting, not
``BURNCLOUD_DEFAULT_PLAN``, which is the environment's).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

from burncloud.crypto import SecretBox
from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest
from burncloud.services.budgets import PLAN, TOKEN, USER, BudgetSpec, load_budgets
from burncloud.services.channels import Channel
from burncloud.services.groups import load_group_ratios
from burncloud.services.invites import INVITEE_REWARD_KEY, INVITER_REWARD_KEY
from burncloud.services.manifest.budget_lists import sorted_budgets
from burncloud.services.manifest.model import (
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.plans import DEFAULT_PLAN_SETTING, Plan, load_plans
from burncloud.services.price_catalog import Catalog
from burncloud.services.prices import load_channel_prices, raw_price_table
from burncloud.services.settings import get_setting
from burncloud.services.tokens import Token, list_tokens
from burncloud.services.users import User, list_users

MANAGED_SETTINGS = (INVITER_REWARD_KEY, INVITEE_REWARD_KEY)  # values: nano-USD as digits

K = TypeVar("K", bound=Hashable)
Budgets = Mapping[tuple[str, int], tuple[BudgetSpec, ...]]  # by (scope, owner id)


async def read_manifest(db: Executor, box: SecretBox, *, with_keys: bool) -> Manifest:
    """The whole configuration, every section present; channel keys decrypted when
    ``with_keys``, else None. InvalidRequest when names repeat (see the module)."""
    channels, names = await _channels(db, box, with_keys)
    users = await list_users(db)
    budgets = await _budgets(db)
    plans = await load_plans(db)
    return Manifest(
        channels=channels,
        prices=await _catalog(db, names),
        groups=await load_group_ratios(db),
        plans=await _plans(db, plans, budgets),
        users=await _users(db, users, {plan.id: plan.name for plan in plans.values()}, budgets),
        tokens=await _tokens(db, {user.id: user.name for user in users}, budgets),
        redemptions=await _redemptions(db),
        settings=await _settings(db),
    )


async def _channels(
    db: Executor, box: SecretBox, with_keys: bool
) -> tuple[tuple[ChannelSpec, ...], dict[int, str]]:
    """Every channel by name, and each channel id's name."""
    rows = await db.fetch_all("SELECT * FROM channels ORDER BY name, id")
    _refuse_repeats(
        ((row["name"], row["id"]) for row in rows),
        lambda name, ids: f"channels {ids} share the name {name!r}",
        "channel update ID --name NEW",
    )
    keys = await _channel_keys(db, box) if with_keys else {}
    specs = tuple(
        _channel_spec(Channel.from_row(row), keys.get(row["id"]) if with_keys else None)
        for row in rows
    )
    return specs, {row["id"]: row["name"] for row in rows}


async def _channel_keys(db: Executor, box: SecretBox) -> dict[int, tuple[str, ...]]:
    """Every key of every channel in plain text, whatever its status, in the order they
    were added (ConfigError if the secret changed)."""
    rows = await db.fetch_all("SELECT channel_id, key_enc FROM channel_keys ORDER BY id")
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(row["channel_id"], []).append(box.decrypt(row["key_enc"]))
    return {channel_id: tuple(keys) for channel_id, keys in found.items()}


def _channel_spec(channel: Channel, keys: tuple[str, ...] | None) -> ChannelSpec:
    return ChannelSpec(
        name=channel.name,
        type=channel.type,
        models=channel.models,
        base_url=channel.base_url,
        keys=keys,
        groups=channel.groups,
        weight=channel.weight,
        priority=channel.priority,
        model_map=dict(channel.model_map),
        config=dict(channel.config),
        cost_ratio=channel.cost_ratio,
        enabled=channel.status != "disabled",  # auto_disabled is health, not configuration
        key_selection=channel.key_selection,
        tags=channel.tags,
        rpm=channel.rpm,
        tpm=channel.tpm,
        max_concurrency=channel.max_concurrency,
        overrides=dict(channel.overrides),
        auto_sync=channel.auto_sync,
        balance_api=channel.balance_api,
        balance_every=channel.balance_every,
        balance_alert_below=channel.balance_alert_below,
    )


async def _catalog(db: Executor, channel_names: Mapping[int, str]) -> Catalog:
    """List prices and aliases as stored, channels' cost prices by channel name."""
    by_channel = await load_channel_prices(db)
    return Catalog(
        prices=await raw_price_table(db),
        channels={channel_names[cid]: table for cid, table in by_channel.items() if table},
    )


async def _budgets(db: Executor) -> dict[tuple[str, int], tuple[BudgetSpec, ...]]:
    """Every budget of a token, user or plan that exists, by its owner."""
    found: dict[tuple[str, int], list[BudgetSpec]] = {}
    for rule in await load_budgets(db):
        spec = BudgetSpec(rule.amount, rule.period, rule.model)
        found.setdefault((rule.scope, rule.scope_id), []).append(spec)
    return {owner: sorted_budgets(specs) for owner, specs in found.items()}


async def _plans(db: Executor, plans: Mapping[int, Plan], budgets: Budgets) -> tuple[PlanSpec, ...]:
    """Every plan by name; the one ``plan default`` names is the default."""
    default = await get_setting(db, DEFAULT_PLAN_SETTING)
    return tuple(
        PlanSpec(
            name=plan.name,
            models=plan.models,
            rpm=plan.rpm,
            tpm=plan.tpm,
            group=plan.group,
            budgets=budgets.get((PLAN, plan.id), ()),
            default=plan.name == default,
        )
        for plan in sorted(plans.values(), key=lambda plan: plan.name)
    )


async def _users(
    db: Executor, users: list[User], plan_names: Mapping[int, str], budgets: Budgets
) -> tuple[UserSpec, ...]:
    names = {user.id: user.name for user in users}
    rows = await db.fetch_all("SELECT id, plan_id FROM users WHERE plan_id IS NOT NULL")
    plans = {row["id"]: plan_names.get(row["plan_id"]) for row in rows}
    return tuple(
        UserSpec(
            name=user.name,
            role=user.role,
            group=user.group,
            plan=plans.get(user.id),
            enabled=user.status == "enabled",
            balance=user.balance,
            used=user.used,
            rpm=user.rpm,
            tpm=user.tpm,
            max_concurrency=user.max_concurrency,
            budgets=budgets.get((USER, user.id), ()),
            invite_code=user.invite_code,
            inviter=None if user.inviter_id is None else names.get(user.inviter_id),
        )
        for user in sorted(users, key=lambda user: user.name)
    )


async def _tokens(
    db: Executor, user_names: Mapping[int, str], budgets: Budgets
) -> tuple[TokenSpec, ...]:
    tokens = sorted(await list_tokens(db), key=lambda t: (user_names[t.user_id], t.name, t.id))
    _refuse_repeats(
        (((user_names[t.user_id], t.name), t.id) for t in tokens),
        lambda key, ids: f"tokens {ids} of user {key[0]!r} share the name {key[1]!r}",
        "token update ID --name NEW",
    )
    rows = await db.fetch_all("SELECT id, key_hash FROM tokens")
    hashes = {row["id"]: row["key_hash"] for row in rows}
    return tuple(
        _token_spec(t, user_names[t.user_id], hashes[t.id], budgets.get((TOKEN, t.id), ()))
        for t in tokens
    )


def _token_spec(
    token: Token, user: str, key_hash: str, budgets: tuple[BudgetSpec, ...]
) -> TokenSpec:
    return TokenSpec(
        user=user,
        name=token.name,
        quota=token.quota,
        used=token.used,
        expires_at=token.expires_at,
        models=token.models,
        ips=token.ips,
        rpm=token.rpm,
        tpm=token.tpm,
        max_concurrency=token.max_concurrency,
        budgets=budgets,
        scopes=token.scopes,
        active=token.status == "active",
        key_sha256=key_hash,
        key_hint=token.key_hint,
    )


async def _redemptions(db: Executor) -> tuple[RedemptionSpec, ...]:
    rows = await db.fetch_all(
        "SELECT code_hash, quota, code_hint FROM redemptions WHERE status = 'unused'"
        " ORDER BY code_hash"
    )
    return tuple(
        RedemptionSpec(code_sha256=row["code_hash"], quota=row["quota"], hint=row["code_hint"])
        for row in rows
    )


async def _settings(db: Executor) -> dict[str, str]:
    rows = await db.fetch_all("SELECT key, value FROM settings ORDER BY key")
    return {row["key"]: str(row["value"]) for row in rows if row["key"] in MANAGED_SETTINGS}


def _refuse_repeats(
    entries: Iterable[tuple[K, int]], describe: Callable[[K, str], str], rename: str
) -> None:
    """InvalidRequest for the first name (in order) that more than one row has."""
    ids: dict[K, list[int]] = {}
    for key, row_id in entries:
        ids.setdefault(key, []).append(row_id)
    for key, found in ids.items():
        if len(found) > 1:
            listed = ", ".join(str(i) for i in found[:-1]) + f" and {found[-1]}"
            raise InvalidRequest(
                f"{describe(key, listed)}: a manifest matches them by name;"
                f" rename all but one with `burncloud {rename}`"
            )
