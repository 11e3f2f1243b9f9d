"""Applying a plan: every change in one transaction, each written by its service.

The transaction first bumps the config version (on PostgreSQL that row lock makes other
configuration writers wait), then plans again: if the database changed since the plan was
shown, nothing is written. Every object goes through its service's tx-level write, so
the same rules hold as for the CLI (a kind's config, groups that exist, model maps, names
no other object has, the last enabled admin), and any refusal rolls the whole apply back.
A channel's keys are written only when the file names other keys than it has: then the
missing ones are added and the unnamed ones removed (``channel_keys.sync_keys``), the keys
it keeps keeping their status and counters; the same keys in any order write nothing.
Budgets are set and removed through ``services.budgets`` (a new amount moves the current
windows by the difference), and a token or user deleted by prune takes its budgets along.
Routers reload once, when the transaction commits. Base URLs are checked with the
caller's ``check_url`` before the transaction, as it may resolve names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from burncloud.crypto import MASK, SecretBox, generate_key, hash_secret, mask_secret
from burncloud.db.base import Database, Executor
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services import budgets, channels, plans, price_sync, redemptions, tokens, users
from burncloud.services.admin_keys import KEY_HINT_PREFIX
from burncloud.services.budgets import TOKEN, USER
from burncloud.services.channel_keys import seal_key, sync_keys
from burncloud.services.groups import delete_group, set_group
from burncloud.services.invites import (
    INVITEE_REWARD_KEY,
    INVITER_REWARD_KEY,
    write_invite_rewards,
)
from burncloud.services.key_scopes import scopes_text
from burncloud.services.manifest.apply_plans import delete_plans, write_budgets, write_plans
from burncloud.services.manifest.clean import channel_fields
from burncloud.services.manifest.details import keys_differ
from burncloud.services.manifest.model import ChannelSpec, NewKey, Plan, TokenSpec, UserSpec
from burncloud.services.manifest.plan import Diff, diff_database
from burncloud.services.manifest.steps import Step
from burncloud.services.settings import bump_config_version, delete_setting

S = TypeVar("S")
TxStep = Callable[[Executor], Awaitable[object]]  # more work for the same transaction


async def apply_plan(
    db: Database,
    box: SecretBox,
    plan: Plan,
    *,
    check_url: channels.UrlCheck | None = None,
    also: TxStep | None = None,
) -> list[NewKey]:
    """Make ``plan``'s changes in one transaction, then run ``also`` in it (an import's
    logs); return the keys made for new tokens the plan gave no key hash (shown once).
    InvalidRequest, and nothing written, when a write is refused or the database changed
    since the plan."""
    if plan.is_empty and also is None:
        return []
    if check_url is not None and not plan.is_empty:
        for url in _new_base_urls(
            await diff_database(db, box, plan.desired, prune=plan.prune), plan
        ):
            await check_url(url)
    async with db.transaction() as tx:
        await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
        diff = await diff_database(tx, box, plan.desired, prune=plan.prune)
        if diff.changes() != plan.changes:
            raise InvalidRequest("the database changed since the plan; run again")
        new_keys = await _write(tx, box, diff)
        if also is not None:
            await also(tx)
    return new_keys


def _new_base_urls(diff: Diff, plan: Plan) -> Iterator[str]:
    """The base URLs the file gives channels that are created or moved (as given)."""
    given = {spec.name: spec.base_url for spec in plan.desired.channels or () if spec.base_url}
    for step in diff.channels:
        new, old = step.after, step.before
        if new is not None and new.name in given and (old is None or old.base_url != new.base_url):
            yield given[new.name]


async def _write(tx: Executor, box: SecretBox, diff: Diff) -> list[NewKey]:
    """Creations and changes in dependency order, then deletions in reverse."""
    rewards = {key: int(value) for key, value in _kept(diff.settings)}  # the managed settings
    if rewards:
        inviter, invitee = rewards.get(INVITER_REWARD_KEY), rewards.get(INVITEE_REWARD_KEY)
        await write_invite_rewards(tx, inviter=inviter, invitee=invitee)
    for name, ratio in _kept(diff.groups):
        await set_group(tx, name, ratio)
    await write_plans(tx, diff.plans)
    await _write_users(tx, [step for step in diff.users if step.after is not None])
    await _write_channels(tx, box, diff.channels)
    if diff.prices.changes:
        await price_sync.apply_diff(tx, diff.prices, await _channel_ids(tx))
    new_keys = await _write_tokens(tx, diff.tokens)
    for code in _kept(diff.redemptions):
        await redemptions.insert_redemption(tx, code.code_sha256, code.quota, code.hint)
    await _delete(tx, diff)
    return new_keys


async def _delete(tx: Executor, diff: Diff) -> None:
    """With prune: what the file does not name, things that point at others first (a
    channel's and a model's prices went with the prices above)."""
    for token in _dropped(diff.tokens):
        token_id = await _token_id(tx, token)
        await budgets.remove_budgets(tx, TOKEN, token_id)
        await tokens.remove_token(tx, token_id)
    for code in _dropped(diff.redemptions):
        await redemptions.delete_unused_code(tx, code.code_sha256)
    for channel in _dropped(diff.channels):
        await channels.remove_channel(tx, await _channel_id(tx, channel.name))
    for user in _dropped(diff.users):
        user_id = await _user_id(tx, user.name)
        await budgets.remove_budgets(tx, USER, user_id)
        await users.delete_user(tx, str(user_id))
    await delete_plans(tx, _dropped(diff.plans))
    for name, _ in _dropped(diff.groups):
        await delete_group(tx, name)
    for key, _ in _dropped(diff.settings):
        await delete_setting(tx, key)


async def _write_users(tx: Executor, steps: Sequence[Step[UserSpec]]) -> None:
    """Users made and changed (an admin who stops being one last, once any new admin
    exists), then inviters (who may be new themselves)."""
    for step in sorted(steps, key=_loses_admin):
        assert step.after is not None
        if step.before is None:
            await _create_user(tx, step.after)
        else:
            await _update_user(tx, step.before, step.after)
    for step in steps:
        new = step.after
        assert new is not None
        if new.inviter is not None and (step.before is None or step.before.inviter != new.inviter):
            inviter = await _user_id(tx, new.inviter)
            await users.write_user_update(tx, await _user_ref(tx, new.name), inviter_id=inviter)


def _loses_admin(step: Step[UserSpec]) -> bool:
    old, new = step.before, step.after
    was = old is not None and old.role == "admin" and old.enabled
    return was and not (new is not None and new.role == "admin" and new.enabled)


async def _create_user(tx: Executor, spec: UserSpec) -> None:
    user = await users.create_user(
        tx,
        name=spec.name,
        role=spec.role,
        group=spec.group,
        balance=spec.balance,
        used=spec.used,
        invite_code=spec.invite_code,
    )
    if (spec.rpm, spec.tpm, spec.max_concurrency) != (None, None, None):
        await users.write_user_update(
            tx, str(user.id), rpm=spec.rpm, tpm=spec.tpm, max_concurrency=spec.max_concurrency
        )
    if not spec.enabled:
        await users.write_user_status(tx, str(user.id), "disabled")
    on = await plans.plan_of_user(tx, user.id)  # where new users get the default plan
    if (None if on is None else on.name) != spec.plan:
        await plans.assign_plan(tx, str(user.id), spec.plan)
    await write_budgets(tx, USER, user.id, (), spec.budgets)


async def _update_user(tx: Executor, old: UserSpec, new: UserSpec) -> None:
    ref = await _user_ref(tx, old.name)
    await users.write_user_update(
        tx,
        ref,
        name=new.name,
        role=new.role,
        group=new.group,
        rpm=_limit_arg(new.rpm),
        tpm=_limit_arg(new.tpm),
        max_concurrency=_limit_arg(new.max_concurrency),
        invite_code=new.invite_code,
    )
    if old.enabled != new.enabled:
        await users.write_user_status(tx, ref, "enabled" if new.enabled else "disabled")
    if old.plan != new.plan:
        await plans.assign_plan(tx, ref, new.plan)
    await write_budgets(tx, USER, int(ref), old.budgets, new.budgets)


def _limit_arg(limit: int | None) -> int:
    """A limit as ``write_user_update`` takes it: -1 for no limit."""
    return -1 if limit is None else limit


async def _write_channels(tx: Executor, box: SecretBox, steps: Sequence[Step[ChannelSpec]]) -> None:
    """Channels made and changed; a channel's keys are written only when the file names
    other keys than it has (the same keys keep their status and counters)."""
    for step in steps:
        old, new = step.before, step.after
        if new is None:
            continue
        if old is None:
            assert new.keys is not None  # the plan refuses a new channel without keys
            sealed = [seal_key(box, key) for key in new.keys]
            channel = await channels.insert_channel(tx, channel_fields(new), sealed)
        else:
            channel_id = await _channel_id(tx, old.name)
            if keys_differ(old.keys, new.keys):  # the keys it keeps keep their state
                await sync_keys(tx, box, channel_id, new.keys or ())
            channel = await channels.write_channel(tx, channel_id, channel_fields(new))
        if new.enabled != (channel.status != "disabled"):  # auto_disabled counts as enabled
            status = "enabled" if new.enabled else "disabled"
            await channels.write_channel_status(tx, channel.id, status)


async def _write_tokens(tx: Executor, steps: Sequence[Step[TokenSpec]]) -> list[NewKey]:
    new_keys: list[NewKey] = []
    for step in steps:
        old, new = step.before, step.after
        if new is None:
            continue
        if old is None:
            new_keys += await _create_token(tx, new)
        else:
            token_id = await _token_id(tx, old)
            await tokens.write_token_update(tx, token_id, _token_columns(old, new))
            await write_budgets(tx, TOKEN, token_id, old.budgets, new.budgets)
    return new_keys


async def _create_token(tx: Executor, spec: TokenSpec) -> list[NewKey]:
    """Insert ``spec`` with its key hash, or a new key returned to be shown once."""
    key = None
    if spec.key_sha256 is None:
        key = generate_key()
        key_hash, key_hint = hash_secret(key), mask_secret(key, visible_prefix=KEY_HINT_PREFIX)
    else:
        key_hash, key_hint = spec.key_sha256, spec.key_hint or MASK
    token = await tokens.insert_token_with_hash(
        tx,
        name=spec.name,
        user_id=await _user_id(tx, spec.user),
        key_hash=key_hash,
        key_hint=key_hint,
        quota=spec.quota,
        used=spec.used,
        expires_at=spec.expires_at,
        models=spec.models,
        ips=spec.ips,
        scopes=spec.scopes,
    )
    rest = {"rpm": spec.rpm, "tpm": spec.tpm, "max_concurrency": spec.max_concurrency}
    if any(value is not None for value in rest.values()) or not spec.active:
        await tokens.write_token_update(tx, token.id, {**rest, "status": _status(spec)})
    await write_budgets(tx, TOKEN, token.id, (), spec.budgets)
    return [] if key is None else [NewKey(user=spec.user, token=spec.name, key=key)]


def _token_columns(old: TokenSpec, new: TokenSpec) -> dict[str, Any]:
    """Every setting of ``new`` as token columns (checked by ``clean``); its key hash and
    hint only when given."""
    columns: dict[str, Any] = {
        "name": new.name,
        "expires_at": new.expires_at,
        "models": ",".join(new.models),
        "ips": ",".join(new.ips),
        "rpm": new.rpm,
        "tpm": new.tpm,
        "max_concurrency": new.max_concurrency,
        "scopes": scopes_text(new.scopes),
        "status": _status(new),
    }
    if new.key_sha256 is not None and new.key_sha256 != old.key_sha256:
        columns["key_hash"] = new.key_sha256
        columns["key_hint"] = new.key_hint or MASK
    elif new.key_hint is not None:
        columns["key_hint"] = new.key_hint
    return columns


def _status(spec: TokenSpec) -> str:
    return "active" if spec.active else "revoked"


async def _channel_ids(tx: Executor) -> Callable[[str], int]:
    """Channel name -> id, as the channels are now (names are unique)."""
    rows = await tx.fetch_all("SELECT id, name FROM channels")
    ids = {row["name"]: row["id"] for row in rows}

    def channel_id(name: str) -> int:
        if name not in ids:
            raise NotFound(f"no channel {name!r}")
        return int(ids[name])

    return channel_id


async def _channel_id(tx: Executor, name: str) -> int:
    found = await tx.fetch_value("SELECT id FROM channels WHERE name = :n", {"n": name})
    if found is None:
        raise NotFound(f"no channel {name!r}")
    return int(found)


async def _user_id(tx: Executor, name: str) -> int:
    found = await tx.fetch_value("SELECT id FROM users WHERE name = :n", {"n": name})
    if found is None:
        raise NotFound(f"no user {name!r}")
    return int(found)


async def _user_ref(tx: Executor, name: str) -> str:
    """A user as ``users`` resolves it, by id (an old name of digits would read as one)."""
    return str(await _user_id(tx, name))


async def _token_id(tx: Executor, spec: TokenSpec) -> int:
    found = await tx.fetch_value(
        "SELECT t.id FROM tokens t JOIN users u ON u.id = t.user_id"
        " WHERE u.name = :user AND t.name = :name",
        {"user": spec.user, "name": spec.name},
    )
    if found is None:
        raise NotFound(f"no token {spec.user}/{spec.name}")
    return int(found)


def _kept(steps: Sequence[Step[S]]) -> list[S]:
    return [step.after for step in steps if step.after is not None]


def _dropped(steps: Sequence[Step[S]]) -> list[S]:
    return [step.before for step in steps if step.after is None and step.before is not None]
