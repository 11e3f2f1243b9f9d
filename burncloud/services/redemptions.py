"""Redemption codes: prepaid balance handed out as one-time codes.

A code is shown once when created and stored only as its SHA-256 (plus a short hint such
as ``Ab1...x9Zq`` to tell codes apart in a list). Redeeming is one conditional update,
``status = 'unused'`` -> ``'used'``, in the same transaction as the credit, so a code is
spent exactly once however many processes try it at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.crypto import generate_code, hash_secret, mask_secret
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import format_usd
from burncloud.services.audit import record_change, row_fields
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version
from burncloud.services.users import credit_balance, resolve_user

CODE_LENGTH = 32
MAX_CODES_PER_CALL = 1000
REDEMPTION_STATUSES = ("unused", "used")
_UNAUDITED = frozenset(("id", "created_at"))


@dataclass(frozen=True, slots=True)
class Redemption:
    id: int
    code_hint: str
    quota: int
    status: str
    used_by: int | None
    used_at: int | None
    created_at: int

    @classmethod
    def from_row(cls, row: Row) -> Redemption:
        return cls(
            id=row["id"],
            code_hint=row["code_hint"],
            quota=row["quota"],
            status=row["status"],
            used_by=row["used_by"],
            used_at=row["used_at"],
            created_at=row["created_at"],
        )

    def to_json(self) -> dict[str, Any]:
        """The code as JSON (its hint, never the code): the quota as a decimal string."""
        return {
            "id": self.id,
            "code": self.code_hint,
            "quota": format_usd(self.quota),
            "status": self.status,
            "used_by": self.used_by,
            "used_at": self.used_at,
            "created_at": self.created_at,
        }


async def create_codes(db: Database, quota_units: int, count: int = 1) -> list[str]:
    """Create ``count`` codes worth ``quota_units`` each; return the plaintext codes (once)."""
    if quota_units <= 0:
        raise InvalidRequest("a redemption code must be worth more than 0")
    if not 1 <= count <= MAX_CODES_PER_CALL:
        raise InvalidRequest(f"count must be between 1 and {MAX_CODES_PER_CALL}")
    codes = [generate_code(CODE_LENGTH) for _ in range(count)]
    async with db.transaction() as tx:
        for code in codes:
            await _insert_code(tx, code, quota_units)
    return codes


async def list_redemptions(db: Executor, status: str | None = None) -> list[Redemption]:
    """Every code (newest first), optionally only those with ``status``."""
    if status is None:
        rows = await db.fetch_all("SELECT * FROM redemptions ORDER BY id DESC")
    else:
        if status not in REDEMPTION_STATUSES:
            raise InvalidRequest(
                f"unknown status {status!r}: use one of {', '.join(REDEMPTION_STATUSES)}"
            )
        rows = await db.fetch_all(
            "SELECT * FROM redemptions WHERE status = :s ORDER BY id DESC", {"s": status}
        )
    return [Redemption.from_row(row) for row in rows]


async def redeem(db: Database, code: str, user_ref: str) -> int:
    """Spend ``code`` for user ``user_ref``; return the units credited.

    The credit goes to the user's balance; an unlimited balance (-1) stays unlimited, and
    the code is spent all the same. A used code raises InvalidRequest, an unknown NotFound.
    """
    code_hash = hash_secret(code.strip())
    async with db.transaction() as tx:
        user = await resolve_user(tx, user_ref)
        row = await tx.fetch_one(
            "UPDATE redemptions SET status = 'used', used_by = :user, used_at = :t"
            " WHERE code_hash = :h AND status = 'unused' RETURNING *",
            {"user": user.id, "t": now(), "h": code_hash},
        )
        if row is None:  # no row changed: the guard, not a read, decides who wins
            await _raise_unusable(tx, code_hash)
        assert row is not None
        before = {**row, "status": "unused", "used_by": None, "used_at": None}
        await _record(tx, before, row)
        await credit_balance(tx, user.id, int(row["quota"]))
        await bump_config_version(tx)
    return int(row["quota"])


async def _insert_code(tx: Executor, code: str, quota_units: int) -> None:
    await insert_redemption(tx, hash_secret(code), quota_units, mask_secret(code))


async def insert_redemption(tx: Executor, code_hash: str, quota_units: int, hint: str) -> None:
    """Store an unused code by its hash (``hash_secret`` of the code) in transaction ``tx``:
    a code made elsewhere stays redeemable. InvalidRequest if it is already stored."""
    if quota_units <= 0:
        raise InvalidRequest("a redemption code must be worth more than 0")
    taken = await tx.fetch_value(
        "SELECT id FROM redemptions WHERE code_hash = :h", {"h": code_hash}
    )
    if taken is not None:
        raise InvalidRequest(f"that redemption code is already stored (id {taken})")
    row = await tx.fetch_one(
        "INSERT INTO redemptions (code_hash, code_hint, quota, status, created_at)"
        " VALUES (:h, :hint, :q, 'unused', :t) RETURNING *",
        {"h": code_hash, "hint": hint, "q": quota_units, "t": now()},
    )
    assert row is not None
    await _record(tx, None, row)


async def delete_unused_code(tx: Executor, code_hash: str) -> None:
    """Delete the unused code with ``code_hash`` (a used one stays: it is history);
    NotFound if there is none."""
    row = await tx.fetch_one(
        "DELETE FROM redemptions WHERE code_hash = :h AND status = 'unused' RETURNING *",
        {"h": code_hash},
    )
    if row is None:
        raise NotFound("no unused redemption code with that hash")
    await _record(tx, row, None)


async def _record(tx: Executor, before: Row | None, after: Row | None) -> None:
    """Put a code's creation, use or deletion in the audit trail: its hint, never its hash."""
    row = after if after is not None else before
    assert row is not None
    await record_change(
        tx,
        "redemption",
        row["id"],
        row["code_hint"],
        None if before is None else _fields(before),
        None if after is None else _fields(after),
    )


def _fields(row: Row) -> dict[str, Any]:
    fields = row_fields(row, _UNAUDITED)
    fields["quota"] = format_usd(row["quota"])
    return fields


async def _raise_unusable(db: Executor, code_hash: str) -> None:
    """Explain why a code could not be spent: already used, or never issued."""
    exists = await db.fetch_value(
        "SELECT id FROM redemptions WHERE code_hash = :h", {"h": code_hash}
    )
    if exists is not None:
        raise InvalidRequest("this redemption code has already been used")
    raise NotFound("unknown redemption code")
