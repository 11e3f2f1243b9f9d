"""What a token or a user can still spend: one meaning of "quota" and "balance" everywhere.

A router's lease (``services.leases``) moves money out of ``tokens.quota`` /
``users.balance`` into a ``quota_leases`` row and serves reservations from it in memory.
That money is still the owner's until a request settles it, so what an owner can spend is
the stored amount plus what routers hold for it; ``-1`` (unlimited) stays ``-1`` whatever a
lease row says (an unlimited owner's leases hold nothing of its money: they are never
refunded). Every reader (CLI, admin API, the billing endpoints) takes its numbers from
``read_holdings``, which reads the stored amount, the leases and ``used`` in one statement:
a lease taken or billed meanwhile is counted exactly once on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from burncloud.db.base import Executor, Row
from burncloud.money import UNLIMITED
from burncloud.services.leases import SUBJECTS


@dataclass(frozen=True, slots=True)
class Holding:
    """One owner's money: ``stored`` in its row (-1 unlimited), ``held`` in routers' leases
    (0 when unlimited) and ``used`` so far."""

    stored: int
    held: int
    used: int

    @property
    def spendable(self) -> int:
        """What the owner can still spend: stored plus held, or -1 when unlimited."""
        return UNLIMITED if self.stored == UNLIMITED else self.stored + self.held


async def read_holdings(
    db: Executor, subject: str, owner_id: int | None = None
) -> dict[int, Holding]:
    """Owner id -> Holding for every token or user (``subject``), or only ``owner_id``."""
    table, column = SUBJECTS[subject]  # fixed names, never input
    where = "" if owner_id is None else "WHERE s.id = :id "
    rows = await db.fetch_all(
        f"SELECT s.id AS id, s.{column} AS stored, s.used AS used,"
        " COALESCE(SUM(l.amount), 0) AS leased"
        f" FROM {table} s LEFT JOIN quota_leases l"
        " ON l.subject = :subject AND l.subject_id = s.id "
        f"{where}GROUP BY s.id, s.{column}, s.used",
        {"subject": subject, "id": owner_id},
    )
    return {int(row["id"]): _holding(row) for row in rows}


def _holding(row: Row) -> Holding:
    stored = int(row["stored"])
    held = 0 if stored == UNLIMITED else int(row["leased"])
    return Holding(stored, held, int(row["used"]))
