"""The money books of one token, read straight from the database, for the fault tests.

Every fault test ends the same way: the token's ``quota`` (what is left), ``used`` (what
was billed) and the money still held in ``quota_leases`` add up to what it started with,
and ``used`` is exactly the sum of the costs on its log rows: nothing lost, nothing charged
twice, nothing left reserved.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from burncloud.db import open_database

COST_PER_PROMPT_TOKEN = 30 * 1000  # gpt-4 as seeded: 30 USD per 1M, in 1e-9 USD units
COST_PER_COMPLETION_TOKEN = 60 * 1000  # 60 USD per 1M


@dataclass(frozen=True, slots=True)
class Books:
    """One token's money and its log rows at one moment."""

    quota: int
    used: int
    leased: int
    leases: int
    rows: list[dict[str, Any]]

    @property
    def logged_cost(self) -> int:
        return sum(row["cost"] for row in self.rows)

    def assert_balanced(self, initial: int) -> None:
        """Nothing lost or double-charged: the money adds up and matches the log."""
        assert self.quota + self.used + self.leased == initial, self
        assert self.used == self.logged_cost, self

    def assert_settled(self, initial: int) -> None:
        """Balanced, and no lease is left holding money (the router stopped)."""
        self.assert_balanced(initial)
        assert (self.leases, self.leased) == (0, 0), self


def price(prompt_tokens: int, completion_tokens: int) -> int:
    """What gpt-4 costs for this usage in the seeded price list."""
    return prompt_tokens * COST_PER_PROMPT_TOKEN + completion_tokens * COST_PER_COMPLETION_TOKEN


async def read_books(db_url: str, token_id: int) -> Books:
    """The token's quota, used, leases and log rows (oldest first), as of one moment.

    One transaction: a router may be writing meanwhile, and three separate reads could see
    a log row without the billing committed just before or after it.
    """
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            token = await tx.fetch_one(
                "SELECT quota, used FROM tokens WHERE id = :id", {"id": token_id}
            )
            leases = await tx.fetch_all(
                "SELECT amount FROM quota_leases WHERE subject = 'token' AND subject_id = :id",
                {"id": token_id},
            )
            rows = await tx.fetch_all(
                "SELECT * FROM logs WHERE token_id = :id ORDER BY id", {"id": token_id}
            )
    finally:
        await db.close()
    assert token is not None
    leased = sum(int(lease["amount"]) for lease in leases)
    return Books(int(token["quota"]), int(token["used"]), leased, len(leases), rows)


async def wait_for_rows(db_url: str, token_id: int, count: int, within: float = 10.0) -> Books:
    """Poll until the token has ``count`` log rows (the log writer batches); its books."""
    deadline = time.monotonic() + within
    while len((books := await read_books(db_url, token_id)).rows) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(books.rows)} of {count} log rows within {within} s")
        await asyncio.sleep(0.05)
    return books
