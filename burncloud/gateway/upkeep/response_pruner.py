"""Deleting stored Responses API state once it has expired (``services.response_store``).

Expired rows are already invisible (every read checks ``expires_at``); pruning only gives
their space back. One worker of a router prunes per round (a claim in the shared state),
the first round as the worker starts, so routers restarted more often than the interval
still prune.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.clock import now as clock_now
from burncloud.services.response_store import prune

log = logging.getLogger("burncloud.responses")

PRUNE_SECONDS = 3600.0
CLAIM = "prune:responses"


class ResponsePruner:
    """Owns the pruning task; ``prune_once`` is the whole job, for tests."""

    def __init__(
        self,
        db: Database,
        state: SharedState,
        *,
        interval: float = PRUNE_SECONDS,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._clock = clock
        self._rounds = ClaimedRounds(
            "burncloud-response-pruner",
            CLAIM,
            self.prune_once,
            state,
            interval=interval,
            failure=Failure(log, "pruning expired responses failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def prune_once(self) -> int:
        """Delete every expired row now; how many."""
        pruned = await prune(self._db, self._clock())
        if pruned:
            log.info("pruned %d expired stored responses", pruned)
        return pruned
