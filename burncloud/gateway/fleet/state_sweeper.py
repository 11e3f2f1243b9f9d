"""Freeing shared-state records of rate-limited subjects that stopped sending.

A limiter record frees itself once its counts drain, but only when its subject sends
again; one that never returns would keep its slot until the state file is recreated. Every
``interval`` one worker (by a claim in the state itself) pages through the slots, a few
thousand per lock hold, and frees the idle ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from burncloud.gateway.fleet.rate_limit import idle_record
from burncloud.gateway.fleet.shared_state import SharedState, claim_turn
from burncloud.gateway.periodic import Failure, Periodic

log = logging.getLogger("burncloud.state")

PAGE = 4096  # slots per lock hold: well under a millisecond


class StateSweeper:
    """Owns the sweeping task; ``sweep_once`` is the whole job, for tests."""

    def __init__(
        self,
        state: SharedState,
        interval: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._interval = interval
        self._clock = clock
        self._rounds = Periodic(
            "burncloud-state-sweeper",
            self._sweep_if_our_turn,
            interval=interval,
            failure=Failure(log, "sweeping the shared state failed"),
        )

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def sweep_once(self) -> int:
        """Free every idle limiter record; returns how many."""
        now = self._clock()
        freed, start = 0, 0
        while True:
            start, count = self._state.sweep(lambda r: idle_record(r, now), start, PAGE)
            freed += count
            if start == 0:
                return freed
            await asyncio.sleep(0)  # let requests run between pages

    async def _sweep_if_our_turn(self) -> None:
        """One round: sweep unless another worker claimed this interval's turn."""
        if claim_turn(self._state, "sweep", self._interval / 2, self._clock):
            freed = await self.sweep_once()
            if freed:
                log.info("freed %d idle rate-limit records", freed)
