"""Planning: what applying a manifest would change, object by object, as lines to read.

A desired object is matched with the stored one of its name (a token: its user's name and
its own); one whose name the database lacks takes the stored object its ``renamed_from``
names, so a rename applied twice finds the new name the second time. A section that is
None is skipped; extras in the database are deleted only with ``prune``. Creations and
changes come in dependency order (settings, groups, plans, users, channels, prices, tokens,
redemptions), then deletions in reverse (tokens, redemptions, channel prices, prices,
channels, users, plans, groups, settings). What the apply will need afterwards is checked
here, so a dry run fails as the apply would: groups, plans, users and channels that
objects name, one enabled admin, client keys that belong to one token. A plan deleted
under users the file does not manage leaves them on no plan, as ``plan delete`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from burncloud.crypto import SecretBox
from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services import price_sync
from burncloud.services.groups import DEFAULT_GROUP, format_ratio
from burncloud.services.manifest import details
from burncloud.services.manifest.channel_form import kept_headers
from burncloud.services.manifest.clean import clean_manifest, token_label
from burncloud.services.manifest.model import (
    Change,
    ChannelSpec,
    Manifest,
    Plan,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.manifest.read import read_manifest
from burncloud.services.manifest.references import check_references
from burncloud.services.manifest.steps import Step, make_steps, match_specs
from burncloud.services.price_catalog import Catalog

S = TypeVar("S")
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
Setting = tuple[str, str]  # key, value as stored
GroupRatio = tuple[str, Decimal]
TokenKey = tuple[str, str]  # user name, token name
_NO_PRICES = price_sync.CatalogDiff(changes=(), kept=0)


@dataclass(frozen=True, slots=True)
class Diff:
    """Every step of a plan by section, each section's creations and changes first."""

    settings: tuple[Step[Setting], ...] = ()
    groups: tuple[Step[GroupRatio], ...] = ()
    plans: tuple[Step[PlanSpec], ...] = ()
    users: tuple[Step[UserSpec], ...] = ()
    channels: tuple[Step[ChannelSpec], ...] = ()
    prices: price_sync.CatalogDiff = _NO_PRICES
    tokens: tuple[Step[TokenSpec], ...] = ()
    redemptions: tuple[Step[RedemptionSpec], ...] = ()

    def changes(self) -> tuple[Change, ...]:
        """The plan's lines, in the order they are applied."""
        prices = self.prices.changes
        dropped = sorted((c for c in prices if c.after is None), key=lambda c: c.channel is None)
        return (
            *_writes(self.settings),
            *_writes(self.groups),
            *_writes(self.plans),
            *_writes(self.users),
            *_writes(self.channels),
            *(_price_change(change) for change in prices if change.after is not None),
            *_writes(self.tokens),
            *_writes(self.redemptions),
            *_deletes(self.tokens),
            *_deletes(self.redemptions),
            *(_price_change(change) for change in dropped),  # channels' prices first
            *_deletes(self.channels),
            *_deletes(self.users),
            *_deletes(self.plans),
            *_deletes(self.groups),
            *_deletes(self.settings),
        )


def _writes(steps: Sequence[Step[S]]) -> list[Change]:
    return [step.change for step in steps if step.after is not None]


def _deletes(steps: Sequence[Step[S]]) -> list[Change]:
    return [step.change for step in steps if step.after is None]


async def plan_changes(db: Executor, box: SecretBox, desired: Manifest, *, prune: bool) -> Plan:
    """What applying ``desired`` to the database would change; InvalidRequest naming the
    object when it cannot be applied."""
    diff = await diff_database(db, box, desired, prune=prune)
    return Plan(desired=desired, changes=diff.changes(), prune=prune)


async def diff_database(db: Executor, box: SecretBox, desired: Manifest, *, prune: bool) -> Diff:
    """The steps that make the database ``desired`` (what ``plan_changes`` shows)."""
    current = await read_manifest(db, box, with_keys=desired.channels is not None)
    if desired.channels is not None:
        kept = kept_headers(desired.channels, current.channels or ())
        desired = replace(desired, channels=kept)
    wanted = clean_manifest(desired)
    used: frozenset[str] = frozenset()
    if wanted.redemptions:
        rows = await db.fetch_all("SELECT code_hash FROM redemptions WHERE status = 'used'")
        used = frozenset(row["code_hash"] for row in rows)
    return diff_manifests(current, wanted, prune=prune, used_codes=used)


def diff_manifests(
    current: Manifest, desired: Manifest, *, prune: bool, used_codes: frozenset[str] = frozenset()
) -> Diff:
    """The steps from ``current`` (every section present, as ``read_manifest`` gives it)
    to ``desired`` (cleaned: ``clean_manifest``); ``used_codes`` are redemption codes
    already spent, which a desired unused code of that hash leaves alone."""
    plans, plan_names = _plans(current.plans or (), desired.plans, prune)
    stored_users = tuple(_on_plan(user, plan_names) for user in current.users or ())
    users, user_names = _users(stored_users, desired.users, prune)
    channels, channel_names = _channels(current.channels or (), desired.channels, prune)
    stored_tokens = tuple(
        replace(token, user=user_names.get(token.user, token.user))
        for token in current.tokens or ()
    )
    diff = Diff(
        settings=_settings(current.settings or {}, desired.settings, prune),
        groups=_groups(current.groups or {}, desired.groups, prune),
        plans=plans,
        users=users,
        channels=channels,
        prices=_prices(current.prices, desired.prices, channel_names, prune),
        tokens=_tokens(stored_tokens, desired.tokens, prune),
        redemptions=_redemptions(current.redemptions or (), desired.redemptions, prune, used_codes),
    )
    check_references(desired, _state_after(diff, current, stored_users, stored_tokens))
    return diff


def _state_after(
    diff: Diff,
    current: Manifest,
    stored_users: Sequence[UserSpec],
    stored_tokens: Sequence[TokenSpec],
) -> Manifest:
    """What the database will hold once ``diff`` is applied (prices and the rest aside);
    ``stored_users`` and ``stored_tokens`` name the plans and users they will be on."""
    groups = dict(current.groups or {})
    for step in diff.groups:
        if step.before is not None:
            del groups[step.before[0]]
        if step.after is not None:
            groups[step.after[0]] = step.after[1]
    gone = dict.fromkeys(spec.name for spec in _deleted(diff.plans))
    return Manifest(
        channels=_after(diff.channels, current.channels or (), _name),
        groups=groups,
        plans=_after(diff.plans, current.plans or (), _name),
        users=_after(diff.users, [_on_plan(user, gone) for user in stored_users], _name),
        tokens=_after(diff.tokens, stored_tokens, _token_key),
    )


def _after(steps: Sequence[Step[S]], stored: Sequence[S], key: Callable[[S], K]) -> tuple[S, ...]:
    """``stored`` with ``steps`` made: their old objects out, their new ones in."""
    gone = {key(step.before) for step in steps if step.before is not None}
    kept = [spec for spec in stored if key(spec) not in gone]
    return (*kept, *(step.after for step in steps if step.after is not None))


def _deleted(steps: Sequence[Step[S]]) -> list[S]:
    return [step.before for step in steps if step.after is None and step.before is not None]


def _plans(
    stored: Sequence[PlanSpec], desired: Sequence[PlanSpec] | None, prune: bool
) -> tuple[tuple[Step[PlanSpec], ...], dict[str, str]]:
    """The plans' steps and renames (old name -> new); a new plan that is the default says
    so (new users get it)."""
    if desired is None:
        return (), {}
    pairs, extras = match_specs("plan", stored, desired, _name, _old_name, repr)
    renames = {old.name: new.name for old, new in pairs if old and old.name != new.name}
    steps = make_steps(
        "plan", pairs, extras, prune, details.plan_details, _name, _name, _default_shown
    )
    return steps, renames


def _default_shown(new: PlanSpec) -> tuple[str, ...]:
    return ("default",) if new.default else ()


def _on_plan(user: UserSpec, plans: Mapping[str, str | None]) -> UserSpec:
    """``user`` on the plan its plan becomes (renamed, or None when deleted)."""
    if user.plan is None or user.plan not in plans:
        return user
    return replace(user, plan=plans[user.plan])


def _users(
    stored: Sequence[UserSpec], desired: Sequence[UserSpec] | None, prune: bool
) -> tuple[tuple[Step[UserSpec], ...], dict[str, str]]:
    """The users' steps and renames (old name -> new)."""
    if desired is None:
        return (), {}
    pairs, extras = match_specs("user", stored, desired, _name, _old_name, repr)
    renames = {old.name: new.name for old, new in pairs if old and old.name != new.name}

    def rekeyed(spec: UserSpec) -> UserSpec:
        inviter = spec.inviter
        return spec if inviter is None else replace(spec, inviter=renames.get(inviter, inviter))

    pairs = [(None if old is None else rekeyed(old), new) for old, new in pairs]
    extras = [rekeyed(spec) for spec in extras]
    steps = make_steps("user", pairs, extras, prune, details.user_details, _name, _name)
    return steps, renames


def _channels(
    stored: Sequence[ChannelSpec], desired: Sequence[ChannelSpec] | None, prune: bool
) -> tuple[tuple[Step[ChannelSpec], ...], dict[str, str]]:
    """The channels' steps and renames (old name -> new); a new channel needs its keys."""
    if desired is None:
        return (), {}
    pairs, extras = match_specs("channel", stored, desired, _name, _old_name, repr)
    for old, new in pairs:
        if old is None and new.keys is None:
            raise InvalidRequest(f"channel {new.name!r}: a new channel needs a key")
    renames = {old.name: new.name for old, new in pairs if old and old.name != new.name}
    steps = make_steps("channel", pairs, extras, prune, details.channel_details, _name, _name)
    return steps, renames


def _tokens(
    stored: Sequence[TokenSpec], desired: Sequence[TokenSpec] | None, prune: bool
) -> tuple[Step[TokenSpec], ...]:
    if desired is None:
        return ()
    pairs, extras = match_specs("token", stored, desired, _token_key, _old_token_key, _token_text)
    _refuse_shared_keys(stored, pairs)
    return make_steps(
        "token", pairs, extras, prune, details.token_details, _token_label, _token_key
    )


def _refuse_shared_keys(
    stored: Sequence[TokenSpec], pairs: Sequence[tuple[TokenSpec | None, TokenSpec]]
) -> None:
    """A key hash the file gives a token must not be another token's (the column is
    unique, and one client key names one token)."""
    owners = {spec.key_sha256: _token_key(spec) for spec in stored if spec.key_sha256}
    claimed: dict[str, TokenKey] = {}
    for old, new in pairs:
        wanted = new.key_sha256
        if wanted is None:
            continue
        other = claimed.get(wanted) or owners.get(wanted)
        if other is not None and (old is None or other != _token_key(old)):
            raise InvalidRequest(
                f"token {_token_label(new)}: its key_sha256 is token {_token_text(other)}'s"
                " (to rename a token, give renamed_from)"
            )
        claimed[wanted] = _token_key(new)


def _redemptions(
    stored: Sequence[RedemptionSpec],
    desired: Sequence[RedemptionSpec] | None,
    prune: bool,
    used_codes: frozenset[str],
) -> tuple[Step[RedemptionSpec], ...]:
    """New codes and, with prune, unused codes the file lacks; a stored code is never
    changed, and a code spent since the file was written is left alone."""
    if desired is None:
        return ()
    wanted = [spec for spec in desired if spec.code_sha256 not in used_codes]
    pairs, extras = match_specs("redemption", stored, wanted, _code, _no_old_name, str)
    return make_steps("redemption", pairs, extras, prune, lambda old, new: (), _code_label, _code)


def _groups(
    stored: Mapping[str, Decimal], desired: Mapping[str, Decimal] | None, prune: bool
) -> tuple[Step[GroupRatio], ...]:
    """The groups' steps; the default group always stays."""
    if desired is None:
        return ()
    pairs, extras = _entries(stored, desired)
    extras = [entry for entry in extras if entry[0] != DEFAULT_GROUP]
    shown = _ratio_shown
    return make_steps("group", pairs, extras, prune, _ratio_details, _first, _first, shown)


def _settings(
    stored: Mapping[str, str], desired: Mapping[str, str] | None, prune: bool
) -> tuple[Step[Setting], ...]:
    if desired is None:
        return ()
    pairs, extras = _entries(stored, desired)
    shown = _usd_shown
    return make_steps("setting", pairs, extras, prune, _usd_details, _first, _first, shown)


def _entries(
    stored: Mapping[str, T], desired: Mapping[str, T]
) -> tuple[list[tuple[tuple[str, T] | None, tuple[str, T]]], list[tuple[str, T]]]:
    """Each desired entry with the stored one of its key or None, and the stored extras."""
    pairs = [
        ((key, stored[key]) if key in stored else None, (key, value))
        for key, value in desired.items()
    ]
    return pairs, [(key, value) for key, value in stored.items() if key not in desired]


def _ratio_shown(new: GroupRatio) -> tuple[str, ...]:
    return (f"ratio {format_ratio(new[1])}",)


def _usd_shown(new: Setting) -> tuple[str, ...]:
    return (format_usd(int(new[1])),)


def _ratio_details(old: GroupRatio, new: GroupRatio) -> tuple[str, ...]:
    return details.ratio_details(old[1], new[1])


def _usd_details(old: Setting, new: Setting) -> tuple[str, ...]:
    return details.usd_details(old[1], new[1])


def _prices(
    stored: Catalog | None, desired: Catalog | None, renames: Mapping[str, str], prune: bool
) -> price_sync.CatalogDiff:
    """The prices' diff; stored channels' prices keyed by the channels' new names."""
    if desired is None or stored is None:
        return _NO_PRICES
    current = Catalog(
        prices=stored.prices,
        channels={renames.get(key, key): table for key, table in stored.channels.items()},
    )
    return price_sync.diff_keyed_catalogs(current, desired, prune=prune)


def _price_change(change: price_sync.Change) -> Change:
    op = {"added": "+", "changed": "~", "removed": "-"}[change.action]
    name = change.model if change.channel is None else f"{change.model} (channel {change.channel})"
    return Change(op, "price", name, details.price_details(change))


def _name(spec: UserSpec | ChannelSpec | PlanSpec) -> str:
    return spec.name


def _old_name(spec: UserSpec | ChannelSpec | PlanSpec) -> str | None:
    return spec.renamed_from


def _no_old_name(spec: RedemptionSpec) -> None:
    return None


def _code(spec: RedemptionSpec) -> str:
    return spec.code_sha256


def _code_label(spec: RedemptionSpec) -> str:
    short = spec.code_sha256[:12]
    return f"{short} ({spec.hint})" if spec.hint else short


def _first(entry: tuple[str, object]) -> str:
    return entry[0]


def _token_key(spec: TokenSpec) -> TokenKey:
    return spec.user, spec.name


def _old_token_key(spec: TokenSpec) -> TokenKey | None:
    return None if spec.renamed_from is None else (spec.user, spec.renamed_from)


def _token_text(key: TokenKey) -> str:
    return token_label(*key)


def _token_label(spec: TokenSpec) -> str:
    return token_label(spec.user, spec.name)
