"""Quotas and balances: what a token or a user has left and has spent, changed atomically.

A token's quota and a user's balance are what the owner can still spend in nano-USD
(``-1``: unlimited), including what routers hold for it in leases (``services.balances``);
``used`` is the total spent so far. Each adjustment is one conditional UPDATE, so
concurrent changes (and the router's reservations) never lose a write and never take an
amount below zero. A set replaces what the owner can spend: routers' leases are cancelled.
Taking away more than the stored column holds first takes the leases back, so what can be
taken away is what ``show`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.db.base import Database, Executor
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import MAX_UNITS, UNLIMITED, format_usd
from burncloud.services.audit import record_change
from burncloud.services.balances import read_holdings
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version
from burncloud.services.users import resolve_user

MAX_QUOTA_UNITS = MAX_UNITS


@dataclass(frozen=True, slots=True)
class _Ledger:
    """Where one kind of owner keeps its money: fixed names, never user input."""

    kind: str
    table: str
    column: str
    touch: str
    set_hint: str


_TOKENS = _Ledger("token", "tokens", "quota", ", updated_at = :t", "burncloud quota set ID USD")
_USERS = _Ledger("user", "users", "balance", "", "burncloud quota set --user USER USD")


@dataclass(frozen=True, slots=True)
class QuotaState:
    """A token's quota or a user's balance: what is left to spend (-1 unlimited), the part
    of it routers hold in leases, and what was spent."""

    kind: str
    id: int
    name: str
    remaining: int
    used: int
    held: int

    @property
    def unlimited(self) -> bool:
        return self.remaining == UNLIMITED

    @property
    def label(self) -> str:
        return "quota" if self.kind == "token" else "balance"

    def to_json(self) -> dict[str, Any]:
        """``{"id", "name", "quota"|"balance", "held_by_routers", "used"}``, money as decimal
        strings; the held part is included in the quota or balance."""
        return {
            "id": self.id,
            "name": self.name,
            self.label: format_usd(self.remaining),
            "held_by_routers": format_usd(self.held),
            "used": format_usd(self.used),
        }


def validate_quota(units: int, what: str = "quota") -> int:
    """``units`` if it is a valid remaining amount (0 up to the maximum, or -1 unlimited)."""
    if units == UNLIMITED:
        return units
    if units < 0:
        raise InvalidRequest(f"{what} must not be negative (use -1 for unlimited)")
    if units > MAX_QUOTA_UNITS:
        raise InvalidRequest(f"{what} is too large (at most {format_usd(MAX_QUOTA_UNITS)} USD)")
    return units


async def get_token_quota(db: Executor, token_id: int) -> QuotaState:
    """The token's remaining quota and total use; NotFound if there is no such token."""
    return await _read(db, _TOKENS, token_id)


async def add_token_quota(db: Database, token_id: int, units: int) -> QuotaState:
    """Add ``units`` (negative to take away) in one atomic update; never below zero."""
    async with db.transaction() as tx:
        return await _add(tx, _TOKENS, token_id, units)


async def set_token_quota(db: Database, token_id: int, units: int) -> QuotaState:
    """Set the token's remaining quota to ``units`` (-1: unlimited)."""
    async with db.transaction() as tx:
        return await _set(tx, _TOKENS, token_id, units)


async def get_user_balance(db: Executor, user_ref: str | int) -> QuotaState:
    """The user's remaining balance and total use; ``user_ref`` is an id or a name."""
    user = await resolve_user(db, str(user_ref))
    return await _read(db, _USERS, user.id)


async def add_user_balance(db: Database, user_ref: str | int, units: int) -> QuotaState:
    """Add ``units`` to the user's balance (negative to take away); never below zero."""
    async with db.transaction() as tx:
        user = await resolve_user(tx, str(user_ref))
        return await _add(tx, _USERS, user.id, units)


async def set_user_balance(db: Database, user_ref: str | int, units: int) -> QuotaState:
    """Set the user's remaining balance to ``units`` (-1: unlimited)."""
    async with db.transaction() as tx:
        user = await resolve_user(tx, str(user_ref))
        return await _set(tx, _USERS, user.id, units)


async def cancel_leases(tx: Executor, kind: str, owner_id: int) -> None:
    """Drop routers' leases on an owner whose amount is being replaced (their money is not
    refunded: the new amount is all there is). Routers retire them at their next config
    reload (about a second); requests in flight on them settle against the new amount."""
    await tx.execute(
        "DELETE FROM quota_leases WHERE subject = :kind AND subject_id = :id",
        {"kind": kind, "id": owner_id},
    )


async def _read(db: Executor, ledger: _Ledger, owner_id: int) -> QuotaState:
    """The owner's state; money a router holds in a lease counts as remaining."""
    holding = (await read_holdings(db, ledger.kind, owner_id)).get(owner_id)
    if holding is None:
        raise NotFound(f"no {ledger.kind} with id {owner_id}")
    name = await db.fetch_value(f"SELECT name FROM {ledger.table} WHERE id = :id", {"id": owner_id})
    return QuotaState(
        ledger.kind, owner_id, str(name), holding.spendable, holding.used, holding.held
    )


async def _add(tx: Executor, ledger: _Ledger, owner_id: int, units: int) -> QuotaState:
    if abs(units) > MAX_QUOTA_UNITS:
        raise InvalidRequest(f"amount is too large (at most {format_usd(MAX_QUOTA_UNITS)} USD)")
    before = await _read(tx, ledger, owner_id)
    added = await _add_to_column(tx, ledger, owner_id, units)
    if not added and units < 0 and await _reclaim_leases(tx, ledger, owner_id):
        added = await _add_to_column(tx, ledger, owner_id, units)
    if not added:
        raise await _refusal(tx, ledger, owner_id, units)
    await bump_config_version(tx)
    return await _recorded(tx, before)


async def _add_to_column(tx: Executor, ledger: _Ledger, owner_id: int, units: int) -> bool:
    """One conditional UPDATE of the stored column; False when it would leave the range
    (a failed condition locks no row, so a reclaim may still lock leases first)."""
    column = ledger.column
    changed = await tx.execute(
        f"UPDATE {ledger.table} SET {column} = {column} + :d{ledger.touch}"
        f" WHERE id = :id AND {column} <> -1 AND {column} + :d >= 0"
        f" AND {column} + :d <= :max",
        {"d": units, "id": owner_id, "max": MAX_QUOTA_UNITS, "t": now()},
    )
    return bool(changed)


async def _reclaim_leases(tx: Executor, ledger: _Ledger, owner_id: int) -> int:
    """Move what routers' leases hold back into the stored column (lease rows first, then
    the owner, the lock order of ``services.leases``); the amount moved."""
    rows = await tx.fetch_all(
        "DELETE FROM quota_leases WHERE subject = :kind AND subject_id = :id RETURNING amount",
        {"kind": ledger.kind, "id": owner_id},
    )
    amount = sum(int(row["amount"]) for row in rows)
    if amount:
        await tx.execute(
            f"UPDATE {ledger.table} SET {ledger.column} = {ledger.column} + :x"
            f" WHERE id = :id AND {ledger.column} <> -1",
            {"x": amount, "id": owner_id},
        )
    return amount


async def _refusal(tx: Executor, ledger: _Ledger, owner_id: int, units: int) -> InvalidRequest:
    """Why an adjustment matched no row (NotFound is raised directly)."""
    state = await _read(tx, ledger, owner_id)
    where = f"{ledger.kind} {owner_id} ({state.name})"
    if state.unlimited:
        return InvalidRequest(
            f"{where} has an unlimited {state.label}: set an amount first with `{ledger.set_hint}`"
        )
    if state.remaining + units < 0:
        return InvalidRequest(
            f"{state.label} would go below zero: {where} has {format_usd(state.remaining)} USD"
            f" left, cannot take away {format_usd(-units)} USD"
        )
    return InvalidRequest(f"{state.label} would exceed {format_usd(MAX_QUOTA_UNITS)} USD")


async def _set(tx: Executor, ledger: _Ledger, owner_id: int, units: int) -> QuotaState:
    """Set what is left to exactly ``units``: routers' leases on it are cancelled."""
    validate_quota(units, ledger.column)
    before = await _read(tx, ledger, owner_id)
    await cancel_leases(tx, ledger.kind, owner_id)
    await tx.execute(
        f"UPDATE {ledger.table} SET {ledger.column} = :v{ledger.touch} WHERE id = :id",
        {"v": units, "id": owner_id, "t": now()},
    )
    await bump_config_version(tx)
    return await _recorded(tx, before)


async def _recorded(tx: Executor, before: QuotaState) -> QuotaState:
    """The owner's state after a change from ``before``, put in the audit trail as a
    change of its token's quota or user's balance (what it can spend, leases included)."""
    ledger = _TOKENS if before.kind == "token" else _USERS
    after = await _read(tx, ledger, before.id)
    await record_change(
        tx,
        before.kind,
        before.id,
        after.name,
        {before.label: format_usd(before.remaining)},
        {after.label: format_usd(after.remaining)},
    )
    return after
