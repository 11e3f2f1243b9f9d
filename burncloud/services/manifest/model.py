"""A burncloud installation described as data: what ``export`` writes, ``apply`` and
``diff`` read, and the importers (One API, New API, LiteLLM) produce.

Every object is matched by name (a token by its owner's name and its own), never by id,
so a file carries over to another database. A section that is ``None`` is not managed by
the document: apply leaves those objects alone and ``--prune`` deletes none of them; a
section that is present (even empty) is the whole desired set of its objects.

Money is integer nano-USD (``burncloud.money``); a user's ``balance`` and a token's
``quota`` are what a new object starts with. Traffic spends them, so apply never rewrites
the money of an object that exists (``quota add`` does): they are state, not
configuration, and the file records them so that a move to another database keeps them.
Budgets (on tokens, users and plans) are configuration: an amount per period, for every
model or one. What their windows have spent is state, never in the file; a changed amount
moves the current windows by the difference (``services.budgets.set_budget``).

A channel carries all its keys (a file may hold them, or a ``${VAR}`` reference to a
variable holding them one per line, or leave them out). Their statuses and counters are
health, not configuration: an apply that keeps a channel's keys keeps every key's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from burncloud.money import UNLIMITED
from burncloud.services.budgets import BudgetSpec
from burncloud.services.price_catalog import Catalog

FORMAT = "burncloud/1"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One upstream account. ``keys`` None: the file does not carry them (``--secrets
    omit``); apply keeps the stored keys, and a new channel without any is an error. Keys
    are compared as a set: the same keys in another order change nothing. ``enabled``
    False is an operator's disable; an auto-disabled channel counts as enabled (health
    decides, not the file). ``config`` holds timeouts, endpoints and the kind's own
    entries, as ``channel add --config`` takes them. The rest are ``channel update``'s
    options with the service's defaults: caps None (or 0) for none, ``overrides`` the
    stored JSON object (``set_headers``, ``set_params``, ``drop_params``), ``auto_sync``
    seconds between model syncs (None off), ``balance_api`` None to detect it from the
    host, ``balance_every`` seconds (None the default, 0 never), ``balance_alert_below``
    a decimal in the balance's currency (None the default)."""

    name: str
    type: str
    models: tuple[str, ...]
    base_url: str | None = None  # None: the kind's default
    keys: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ("default",)
    weight: int = 1
    priority: int = 0
    model_map: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    cost_ratio: Decimal = Decimal(1)
    enabled: bool = True
    renamed_from: str | None = None  # an explicit rename: the stored name it had
    key_selection: str = "random"  # services.channel_keys.KEY_SELECTIONS
    tags: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    auto_sync: int | None = None
    balance_api: str | None = None
    balance_every: int | None = None
    balance_alert_below: str | None = None


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A plan (``services.plans``): what each user on it may use and spend. ``group`` None:
    its users keep their own groups. ``default``: the plan new users get (the
    'default_plan' setting; at most one plan of a file). ``budgets`` are per user, sorted
    as ``budget_lists.sorted_budgets`` sorts them."""

    name: str
    models: tuple[str, ...] = ()  # empty: every model
    rpm: int | None = None
    tpm: int | None = None
    group: str | None = None
    budgets: tuple[BudgetSpec, ...] = ()
    default: bool = False
    renamed_from: str | None = None


@dataclass(frozen=True, slots=True)
class UserSpec:
    name: str
    role: str = "user"  # services.users.ROLES
    group: str = "default"
    plan: str | None = None  # the plan's name; None: on no plan
    enabled: bool = True
    balance: int = 0  # nano-USD, a new user's starting balance
    used: int = 0  # nano-USD spent so far (history; never applied to an existing user)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budgets: tuple[BudgetSpec, ...] = ()  # its own, besides its plan's
    invite_code: str | None = None  # None: a new user gets a generated one
    inviter: str | None = None  # the inviting user's name
    renamed_from: str | None = None


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A client key's settings, never the key. ``key_sha256`` is the stored lookup hash
    (``crypto.hash_secret`` of the whole key as clients send it): with it, a token created
    by apply accepts the key clients already have; without it, apply makes a new key and
    prints it once."""

    user: str
    name: str
    quota: int = UNLIMITED  # nano-USD remaining for a new token, or UNLIMITED
    used: int = 0
    expires_at: int | None = None  # unix seconds; None never
    models: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()  # CIDR networks
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budgets: tuple[BudgetSpec, ...] = ()
    scopes: frozenset[str] = frozenset({"relay"})
    active: bool = True  # False: revoked
    key_sha256: str | None = None
    key_hint: str | None = None  # the masked key shown by `token list` (crypto.mask_secret)
    renamed_from: str | None = None


@dataclass(frozen=True, slots=True)
class RedemptionSpec:
    """An unused redemption code, by its lookup hash (the code itself is never kept)."""

    code_sha256: str
    quota: int  # nano-USD it credits
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Manifest:
    """The whole configuration. ``prices`` is the price catalog (list prices, aliases,
    and channels' cost prices keyed by channel name); ``groups`` maps a group to its
    ratio; ``plans`` holds which plan is the default too; ``settings`` the operator
    settings by key (values as stored)."""

    channels: tuple[ChannelSpec, ...] | None = None
    prices: Catalog | None = None
    groups: Mapping[str, Decimal] | None = None
    plans: tuple[PlanSpec, ...] | None = None
    users: tuple[UserSpec, ...] | None = None
    tokens: tuple[TokenSpec, ...] | None = None
    redemptions: tuple[RedemptionSpec, ...] | None = None
    settings: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One line of a plan: ``op`` is '+' (create), '~' (update) or '-' (delete, only with
    prune); ``what`` the object kind ('channel', 'price', 'group', 'plan', 'user',
    'token', 'redemption', 'setting'); ``name`` its name; ``details`` the changed fields as
    ``field: old -> new`` (secrets never shown: ``key: changed``)."""

    op: str
    what: str
    name: str
    details: tuple[str, ...] = ()

    def line(self) -> str:
        head = f"{self.op} {self.what} {self.name}"
        return f"{head}: {', '.join(self.details)}" if self.details else head


@dataclass(frozen=True, slots=True)
class Plan:
    """What applying a manifest would change, in the order it is applied; empty when the
    database already matches. ``prune``: whether extras in the database are deleted (apply
    plans again with it, to check the database has not changed since)."""

    desired: Manifest
    changes: tuple[Change, ...]
    prune: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key apply made for a token the manifest gave no ``key_sha256``: shown once."""

    user: str
    token: str
    key: str
