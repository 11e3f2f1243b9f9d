"""A background job that one worker of a router runs per round: each round the workers
race for a claim in the shared state (held for half the interval), the winner runs the
job. The first round comes as the worker starts, so routers restarted more often than the
interval still run it. Owns the job's task (``gateway.periodic.Periodic``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from burncloud.gateway.fleet.shared_state import SharedState, claim_turn
from burncloud.gateway.periodic import Failure, Periodic


class ClaimedRounds:
    def __init__(
        self,
        name: str,
        claim: str,
        job: Callable[[], Awaitable[object]],
        state: SharedState,
        *,
        interval: float,
        failure: Failure,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._claim, self._job, self._state, self._interval = claim, job, state, interval
        self._rounds = Periodic(
            name, self._round, interval=interval, run_at_start=True, failure=failure, sleep=sleep
        )

    def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def _round(self) -> None:
        if claim_turn(self._state, self._claim, self._interval / 2, time.time):
            await self._job()
