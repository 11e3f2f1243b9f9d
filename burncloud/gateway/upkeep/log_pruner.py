"""Deleting request log rows past the retention (``BURNCLOUD_LOG_RETENTION_DAYS``) in the
background (``services.log_retention``: small batches, rollups kept), and the budget
windows that ended before it.

One worker of a router prunes per round (a claim in the shared state), the first round
shortly after the worker starts; a retention of 0 keeps every row and starts no task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.budgets import prune_windows
from burncloud.services.clock import now as clock_now
from burncloud.services.log_retention import DAY, Pruned, prune_logs

log = logging.getLogger("burncloud.logs")

PRUNE_SECONDS = 3600.0
CLAIM = "prune:logs"


class LogPruner:
    """Owns the pruning task; ``prune_once`` is the whole job, for tests."""

    def __init__(
        self,
        db: Database,
        state: SharedState,
        retention_days: int,
        *,
        interval: float = PRUNE_SECONDS,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._retention = retention_days * DAY
        self._clock = clock
        self._rounds = ClaimedRounds(
            "burncloud-log-pruner",
            CLAIM,
            self.prune_once,
            state,
            interval=interval,
            failure=Failure(log, "pruning old log rows failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        if self._retention > 0:
            self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def prune_once(self) -> Pruned:
        """Delete every row older than the retention now, and the budget windows that
        ended before it."""
        cutoff = self._clock() - self._retention
        pruned = await prune_logs(self._db, cutoff)
        if pruned.rows:
            log.info("pruned %d log rows past the retention", pruned.rows)
        windows = await prune_windows(self._db, cutoff)
        if windows:
            log.info("pruned %d budget windows that ended before the retention", windows)
        return pruned
