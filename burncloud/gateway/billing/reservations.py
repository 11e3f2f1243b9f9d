"""The values the quota ledger hands out: leases, reservations, charges and settlements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from burncloud.money import format_usd


@dataclass(slots=True, eq=False)
class Lease:
    """This worker's slice of one subject's money, mirrored by one ``quota_leases`` row.

    The row holds ``available + reserved + pending``: free to reserve, held by requests in
    flight, and spent but not yet billed by the log writer. ``alive`` turns False when the
    row was swept (its money went back to the subject): then nothing returns to it.
    ``scarce`` marks a lease last topped up near exhaustion (single requests).
    """

    subject: str
    subject_id: int
    row_id: int
    available: int = 0
    reserved: int = 0
    pending: int = 0
    touched: float = 0.0
    alive: bool = True
    scarce: bool = False


Side = tuple[str, int, Lease | None]  # (subject, subject id, the lease holding the money)


@dataclass(slots=True, eq=False)
class Reservation:
    """An amount held for one request against every limit it must fit: its token's quota,
    its user's balance and the windows of its budgets (``holds``, one per limited side).

    A side that is unlimited is not held; a limited side of a zero reservation has no
    lease (a cost is then taken when it is settled).
    """

    token_id: int
    user_id: int
    amount: int
    holds: tuple[Side, ...]
    settled: bool = False

    def sides(self) -> Iterator[Side]:
        """(subject, id, lease) for each limited side of the reservation."""
        return iter(self.holds)


@dataclass(frozen=True, slots=True)
class Charge:
    """What one settlement spent out of one lease (``lease_id`` None: from the subject)."""

    subject: str
    subject_id: int
    lease_id: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """A settled reservation: the exact cost and where the money came from.

    A charge without a lease (``lease_id`` None) is taken from the subject's quota /
    balance column when the log writer bills it, stopping at zero: a cost above the
    reservation that the lease could not cover, or one settled on a lease that was swept.
    """

    owner: str
    token_id: int
    user_id: int
    reserved: int
    cost: int
    charges: tuple[Charge, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The settlement with money as decimal strings."""
        return {
            "owner": self.owner,
            "token_id": self.token_id,
            "user_id": self.user_id,
            "reserved": format_usd(self.reserved),
            "cost": format_usd(self.cost),
            "charges": [
                {
                    "subject": c.subject,
                    "subject_id": c.subject_id,
                    "lease_id": c.lease_id,
                    "amount": format_usd(c.amount),
                }
                for c in self.charges
            ],
        }
