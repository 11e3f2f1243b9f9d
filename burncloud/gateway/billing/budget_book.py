"""Which budget windows a request holds money in: one worker's memory of the open windows.

The relay names the budgets that apply to a request (from the snapshot); the book turns
each into its current window row, from memory. Only the first request of a window (per
budget, subject and worker) reaches the database, to open the window or find the one
another router opened (``services.budgets.open_window``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from burncloud.db.base import Database
from burncloud.errors import BudgetExceeded
from burncloud.gateway.billing.outage import database_unreachable_is_503
from burncloud.money import format_usd
from burncloud.services.budgets import BudgetRule, OpenWindow, open_window

WHOSE = {"token": "this API key's", "user": "the account's", "plan": "the plan's"}


@dataclass(frozen=True, slots=True)
class HeldWindow:
    """A budget's current window for one subject, as a reservation holds money in it."""

    id: int
    ends_at: int
    rule: BudgetRule
    resets: str  # the reset as local ISO 8601 time

    def exceeded(self, left: int, needed: int, now: float) -> BudgetExceeded:
        """The 402 a request gets when this window cannot cover it: the window, its reset
        and ``Retry-After`` (whole seconds to the reset)."""
        wait = max(1, int(self.ends_at - now + 0.999))
        return BudgetExceeded(
            f"budget exceeded: {WHOSE[self.rule.scope]} {self.rule.describe()} cannot cover"
            f" this request ({format_usd(max(left, 0))} USD left, up to"
            f" {format_usd(needed)} USD needed); it resets at {self.resets}",
            headers={"Retry-After": str(wait)},
        )


class BudgetBook:
    """The open windows one worker knows, by (budget, subject)."""

    def __init__(self, db: Database, timezone: str, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._zone = ZoneInfo(timezone)
        self._timezone = timezone
        self._clock = clock
        self._open: dict[tuple[int, int], OpenWindow] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    def now(self) -> float:
        return self._clock()

    async def windows(self, budgets: Sequence[tuple[BudgetRule, int]]) -> list[HeldWindow]:
        """The current window of each (rule, subject id), opened where need be."""
        held = []
        now = int(self._clock())
        for rule, subject_id in budgets:
            async with database_unreachable_is_503():
                window = await self._current(rule, subject_id, now)
            if window is not None:
                held.append(HeldWindow(window.id, window.ends_at, rule, self._local(window)))
        return held

    async def _current(self, rule: BudgetRule, subject_id: int, now: int) -> OpenWindow | None:
        key = (rule.id, subject_id)
        window = self._open.get(key)
        if window is not None and now < window.ends_at:
            return window
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            window = self._open.get(key)
            if window is None or now >= window.ends_at:
                window = await open_window(self._db, rule, subject_id, now, self._timezone)
                if window is None:
                    self._open.pop(key, None)
                    return None
                self._open[key] = window
        return window

    def _local(self, window: OpenWindow) -> str:
        return datetime.fromtimestamp(window.ends_at, self._zone).isoformat()
