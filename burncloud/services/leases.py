"""Quota leases: slices of a token's quota, a user's balance or a budget window's remaining
money held by one running router.

A lease moves money out of ``tokens.quota`` / ``users.balance`` into a ``quota_leases`` row
owned by one router (``owner``), which then serves reservations from memory. The sum
``quota + leased + used`` of a subject only changes when an operator changes the quota:
taking, returning, sweeping and billing each move an amount between two of those places in
one transaction, with a conditional UPDATE, so nothing goes below zero and nothing is
refunded twice. An unlimited (-1) subject never has a lease and is never refunded.

Every transaction here locks lease rows before subject rows (and subjects in id order), so
concurrent routers on PostgreSQL never deadlock one another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from burncloud.db.base import Database, Executor
from burncloud.services.clock import now as clock_now

TOKEN = "token"
USER = "user"
BUDGET = "budget"  # a budget_windows row (services.budgets): never unlimited
SUBJECTS = {
    TOKEN: ("tokens", "quota"),
    USER: ("users", "balance"),
    BUDGET: ("budget_windows", "remaining"),
}  # fixed, never input
USED_TABLES = ("tokens", "users", "channels", "channel_keys", "budget_windows")

_UPSERT = (
    "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
    " VALUES (:owner, :subject, :sid, :x, :expires)"
    " ON CONFLICT (owner, subject, subject_id) DO UPDATE SET"
    " amount = quota_leases.amount + excluded.amount, expires_at = excluded.expires_at"
    " RETURNING id"
)


class _Short(Exception):
    """The conditional take matched no row: roll the lease upsert back."""


def _column(subject: str) -> tuple[str, str]:
    try:
        return SUBJECTS[subject]
    except KeyError:
        raise ValueError(f"unknown lease subject {subject!r}") from None


def expiry(ttl: float, now: int | None = None) -> int:
    """The unix second a lease taken or renewed now with ``ttl`` seconds expires at."""
    return (clock_now() if now is None else now) + max(1, math.ceil(ttl))


async def read_remaining(db: Executor, subject: str, subject_id: int) -> int | None:
    """The subject's remaining quota / balance (-1 unlimited); None if it no longer exists."""
    table, column = _column(subject)
    value = await db.fetch_value(f"SELECT {column} FROM {table} WHERE id = :id", {"id": subject_id})
    return None if value is None else int(value)


async def leased_by_others(db: Executor, owner: str, subject: str, subject_id: int) -> int:
    """What the leases of ``subject_id`` held by owners other than ``owner`` hold."""
    value = await db.fetch_value(
        "SELECT COALESCE(SUM(amount), 0) FROM quota_leases"
        " WHERE subject = :s AND subject_id = :id AND owner <> :owner",
        {"s": subject, "id": subject_id, "owner": owner},
    )
    return int(value or 0)


async def take_lease(
    db: Database,
    owner: str,
    subject: str,
    subject_id: int,
    amount: int,
    ttl: float,
    *,
    now: int | None = None,
) -> int | None:
    """Move ``amount`` into ``owner``'s lease if that much remains; the lease id, else None."""
    if amount <= 0:
        raise ValueError("a lease takes a positive amount")
    table, column = _column(subject)
    params = {"owner": owner, "subject": subject, "sid": subject_id, "x": amount}
    try:
        async with db.transaction() as tx:
            lease_id = await tx.fetch_value(_UPSERT, {**params, "expires": expiry(ttl, now)})
            taken = await tx.execute(
                f"UPDATE {table} SET {column} = {column} - :x WHERE id = :id AND {column} >= :x",
                {"x": amount, "id": subject_id},
            )
            if not taken:
                raise _Short
    except _Short:
        return None
    return int(lease_id)


async def return_lease(
    db: Database, owner: str, lease_id: int, amount: int, *, drop_if_empty: bool = False
) -> bool:
    """Give ``amount`` of lease ``lease_id`` back to its subject; False if the lease is gone.

    With ``drop_if_empty`` the row is deleted when nothing is left in it. A subject that
    became unlimited meanwhile is not refunded (the amount is simply released).
    """
    if amount < 0:
        raise ValueError("cannot return a negative amount")
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "UPDATE quota_leases SET amount = amount - :x"
            " WHERE id = :id AND owner = :owner AND amount >= :x"
            " RETURNING subject, subject_id, amount",
            {"x": amount, "id": lease_id, "owner": owner},
        )
        if row is None:
            return False
        await _refund(tx, row["subject"], {row["subject_id"]: amount})
        if drop_if_empty and row["amount"] == 0:
            await tx.execute("DELETE FROM quota_leases WHERE id = :id", {"id": lease_id})
    return True


async def renew_leases(db: Database, owner: str, ttl: float, *, now: int | None = None) -> set[int]:
    """Push the expiry of all of ``owner``'s leases; the ids of the leases that still exist."""
    async with db.transaction() as tx:
        rows = await tx.fetch_all(
            "UPDATE quota_leases SET expires_at = :expires WHERE owner = :owner RETURNING id",
            {"expires": expiry(ttl, now), "owner": owner},
        )
    return {int(row["id"]) for row in rows}


async def sweep_expired_leases(db: Database, now: int | None = None) -> int:
    """Give every expired lease back to its subject and delete it; how many were swept.

    The DELETE ... RETURNING decides who refunds a row: when two routers sweep at once,
    each row is deleted, and so refunded, by exactly one of them.
    """
    at = clock_now() if now is None else now
    return await _delete_and_refund(db, "expires_at < :now", {"now": at})


async def return_all_leases(db: Database, owner: str) -> int:
    """Give back and delete every lease ``owner`` holds (a clean stop); how many there were."""
    return await _delete_and_refund(db, "owner = :owner", {"owner": owner})


async def _delete_and_refund(db: Database, where: str, params: Mapping[str, object]) -> int:
    async with db.transaction() as tx:
        rows = await tx.fetch_all(
            f"DELETE FROM quota_leases WHERE {where} RETURNING subject, subject_id, amount",
            params,
        )
        for subject in SUBJECTS:
            refunds: dict[int, int] = {}
            for row in rows:
                if row["subject"] == subject:
                    sid = int(row["subject_id"])
                    refunds[sid] = refunds.get(sid, 0) + int(row["amount"])
            await _refund(tx, subject, refunds)
    return len(rows)


async def consume_leases(tx: Executor, amounts: Mapping[int, int]) -> list[int]:
    """Bill ``amounts`` (lease id -> spent) out of their leases; the ids that could not be.

    A lease that was swept (or holds less than it should) is reported rather than driven
    negative: the caller charges its subject directly instead.
    """
    missing: list[int] = []
    for lease_id in sorted(amounts):
        changed = await tx.execute(
            "UPDATE quota_leases SET amount = amount - :x WHERE id = :id AND amount >= :x",
            {"x": amounts[lease_id], "id": lease_id},
        )
        if not changed:
            missing.append(lease_id)
    return missing


async def charge_directly(tx: Executor, subject: str, amounts: Mapping[int, int]) -> None:
    """Take ``amounts`` (subject id -> spent) from the subjects' remaining, stopping at zero."""
    table, column = _column(subject)
    await tx.execute_many(
        f"UPDATE {table} SET {column} = CASE WHEN {column} >= :x THEN {column} - :x ELSE 0 END"
        f" WHERE id = :id AND {column} <> -1",
        [{"x": amounts[sid], "id": sid} for sid in sorted(amounts) if amounts[sid] > 0],
    )


async def add_used(tx: Executor, table: str, amounts: Mapping[int, int]) -> None:
    """Add ``amounts`` (row id -> cost) to ``used`` of a ``USED_TABLES`` table."""
    if table not in USED_TABLES:
        raise ValueError(f"no used column in {table!r}")
    await tx.execute_many(
        f"UPDATE {table} SET used = used + :x WHERE id = :id",
        [{"x": amounts[rid], "id": rid} for rid in sorted(amounts) if amounts[rid]],
    )


async def _refund(tx: Executor, subject: str, amounts: Mapping[int, int]) -> None:
    table, column = _column(subject)
    await tx.execute_many(
        f"UPDATE {table} SET {column} = {column} + :x WHERE id = :id AND {column} <> -1",
        [{"x": amounts[sid], "id": sid} for sid in sorted(amounts) if amounts[sid] > 0],
    )
