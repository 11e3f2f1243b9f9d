"""Importing a One API or New API database: its rows as a burncloud ``Migration``.

``read_oneapi`` reads the peer (read-only, ``peer_db``) and builds the manifest the CLI
plans and applies, with the report the operator checks first: channels
(``channels``), users (``users``), tokens with their keys kept valid and
unused redemption codes (``tokens``), groups, prices and invitation rewards from the
``options`` table (``options``, ``prices``), and the money totals before
(the peer's units) and after (nano-USD). Columns an older version lacks read as their
defaults; soft-deleted rows (New API ``deleted_at``) are skipped.

The two peers number channel types differently (type 2 is API2D in One API, Midjourney in
New API), so the flavor is checked against the schema where the schema tells them apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.model import Manifest, RedemptionSpec
from burncloud.services.migration.oneapi import channels as peer_channels
from burncloud.services.migration.oneapi import tokens as peer_tokens
from burncloud.services.migration.oneapi import users as peer_users
from burncloud.services.migration.oneapi.channel_types import peer_types
from burncloud.services.migration.oneapi.channels import Channels, convert_channels
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.money import money_total
from burncloud.services.migration.oneapi.options import (
    PeerOptions,
    convert_groups,
    invite_settings,
    leftover_options,
    read_options,
)
from burncloud.services.migration.oneapi.peer_db import PeerDatabase
from burncloud.services.migration.oneapi.prices import convert_prices
from burncloud.services.migration.oneapi.rows import select, text
from burncloud.services.migration.oneapi.tokens import Tokens, convert_redemptions, convert_tokens
from burncloud.services.migration.oneapi.users import Users, convert_users
from burncloud.services.migration.report import Migration, MoneyTotal
from burncloud.services.price_catalog import Catalog
from burncloud.services.pricing import Price

PEER_NAMES = {"oneapi": "One API", "newapi": "New API"}
REQUIRED_TABLES = ("channels", "users", "tokens", "options")


@dataclass(frozen=True, slots=True)
class PeerImport:
    """A read peer: the migration, and what its ids became here (for its logs)."""

    migration: Migration
    options: PeerOptions
    users: Users
    tokens: Tokens
    channels: Channels


async def read_oneapi(peer: PeerDatabase, flavor: str) -> Migration:
    """The migration of a One API (``flavor`` 'oneapi') or New API ('newapi') database."""
    return (await load_peer(peer, flavor)).migration


async def load_peer(peer: PeerDatabase, flavor: str, *, now: int | None = None) -> PeerImport:
    """Read the peer and map it; ``now`` (unix seconds) decides what has expired."""
    peer_types(flavor)  # refuses an unknown flavor
    await _check_schema(peer, flavor)
    at = int(time.time()) if now is None else now
    found = Findings()
    options = read_options(await select(peer, "options", ("key", "value")), found)
    qpu = options.quota_per_unit
    users = convert_users(await select(peer, "users", peer_users.COLUMNS), qpu, found)
    channels = await _channels(peer, flavor, found)
    token_rows = await select(peer, "tokens", peer_tokens.COLUMNS)
    tokens = convert_tokens(token_rows, users.names, users.groups, qpu, found, at)
    code_rows = await select(peer, "redemptions", peer_tokens.REDEMPTION_COLUMNS)
    codes, code_units = convert_redemptions(code_rows, qpu, found, at)
    manifest = _manifest(options, flavor, users, channels, tokens, codes, found)
    migration = Migration(
        source=await _source(peer, flavor),
        manifest=manifest,
        mapped=tuple(found.mapped),
        skipped=tuple(found.skipped),
        money=_totals(users, tokens, code_units, qpu, found),
        notes=tuple(found.notes),
    )
    return PeerImport(migration, options, users, tokens, channels)


async def _channels(peer: PeerDatabase, flavor: str, found: Findings) -> Channels:
    rows = await select(peer, "channels", peer_channels.COLUMNS)
    abilities = await _abilities(peer, found)
    channels = convert_channels(rows, abilities, flavor, found)
    _report_dangling(abilities, rows, found)
    return channels


def _manifest(
    options: PeerOptions,
    flavor: str,
    users: Users,
    channels: Channels,
    tokens: Tokens,
    codes: tuple[RedemptionSpec, ...],
    found: Findings,
) -> Manifest:
    """The manifest, in the order export writes one; groups, prices and settings from the
    options (groups also from what users and channels use)."""
    used = {spec.group for spec in users.specs} | {g for c in channels.specs for g in c.groups}
    groups = convert_groups(options, used, found)
    prices = convert_prices(options, flavor, found)
    settings = invite_settings(options, found)
    leftover_options(options, found)
    return Manifest(
        channels=tuple(sorted(channels.specs, key=lambda c: c.name)),
        prices=_catalog(options, prices),
        groups=groups,
        users=tuple(sorted(users.specs, key=lambda u: u.name)),
        tokens=tuple(sorted(tokens.specs, key=lambda t: (t.user, t.name))),
        redemptions=tuple(sorted(codes, key=lambda r: r.code_sha256)),
        settings=settings or None,
    )


async def _check_schema(peer: PeerDatabase, flavor: str) -> None:
    for table in REQUIRED_TABLES:
        if not await peer.has_table(table):
            raise InvalidRequest(
                f"{peer.display}: not a {PEER_NAMES[flavor]} database (no {table} table)"
            )
    token_columns = await peer.table_columns("tokens")
    if flavor == "oneapi" and "model_limits_enabled" in token_columns:
        raise InvalidRequest(
            f"{peer.display}: this is a New API database (tokens.model_limits_enabled), whose"
            " channel type numbers differ from One API's: import it as newapi"
        )


async def _abilities(peer: PeerDatabase, found: Findings) -> list[dict[str, Any]] | None:
    if not await peer.has_table("abilities"):
        found.note("the peer has no abilities table: channels are served as they list")
        return None
    return await select(peer, "abilities", peer_channels.ABILITY_COLUMNS)


def _report_dangling(
    abilities: list[dict[str, Any]] | None,
    channels: Iterable[dict[str, Any]],
    found: Findings,
) -> None:
    ids = [int(str(row["id"])) for row in channels if row.get("id") is not None]
    dangling = peer_channels.dangling_abilities(abilities or [], ids)
    if dangling:
        found.skip("ability", f"{dangling} rows", "they name channels the peer no longer has")


def _catalog(options: PeerOptions, prices: dict[str, Price]) -> Catalog | None:
    """The list prices; None (prices unmanaged) when the peer sets no price table."""
    if options.model_ratio is None and options.model_price is None:
        return None
    return Catalog(prices=prices, channels={})


def _totals(
    users: Users, tokens: Tokens, codes: tuple[int, ...], qpu: Decimal, found: Findings
) -> tuple[MoneyTotal, ...]:
    totals = (
        money_total("user balances", users.balances, qpu),
        money_total("token quotas (limited tokens)", tokens.quotas, qpu),
        money_total("unused redemption codes", codes, qpu),
    )
    if not all(total.exact for total in totals):
        found.note(
            f"QuotaPerUnit {qpu} does not divide every amount into whole nano-USD: those are"
            " rounded half-even, and each total is the sum of the rounded amounts"
        )
    return totals


async def _source(peer: PeerDatabase, flavor: str) -> str:
    """The peer's name and, where its database records it, its version."""
    name = PEER_NAMES[flavor]
    if await peer.has_table("setups"):
        rows = await select(peer, "setups", ("id", "version"))
        version = text(rows[-1], "version").strip() if rows else ""
        if version:
            return f"{name} {version}"
    return name
