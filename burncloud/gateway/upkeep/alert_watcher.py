"""Watching for what alerts are about, one router of the fleet per round: budget
thresholds, forecasts, the error rate and silent routers, never per request.

Each router's workers race for a round in the shared state (``ClaimedRounds``), and the
winners of the routers for one in the database (``watch_state.claim_round``); whatever
still races (a round claimed twice across a clock step) is harmless, as every event has
its dedupe key. Each check fails alone: a failing forecast leaves budgets watched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.alerts.error_rate import watch_error_rate
from burncloud.services.alerts.events import BUDGET, ERROR_RATE, FORECAST
from burncloud.services.alerts.forecasts import (
    FormatRunway,
    Runways,
    forecast_api,
    raise_forecast_events,
)
from burncloud.services.alerts.hooks import Hook, list_hooks
from burncloud.services.alerts.outbox import prune_events
from burncloud.services.alerts.presence import notice_silent
from burncloud.services.alerts.thresholds import Standing, load_standings, raise_budget_events
from burncloud.services.alerts.watch_state import claim_round
from burncloud.services.clock import now as clock_now

log = logging.getLogger("burncloud.alerts")

CLAIM = "alerts:watch"
ROUND = "watch"


class AlertWatcher:
    """Owns the watching task; ``watch_once`` is one round's checks, for tests."""

    def __init__(
        self,
        db: Database,
        state: SharedState,
        *,
        interval: float,
        timezone: str,
        error_rate: int,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        forecasts: Callable[[], tuple[Runways, FormatRunway]] = forecast_api,
    ) -> None:
        self._db = db
        self._interval = interval
        self._timezone = timezone
        self._error_rate = error_rate
        self._clock = clock
        self._forecasts = forecasts
        self._rounds = ClaimedRounds(
            "burncloud-alert-watcher",
            CLAIM,
            self.fleet_round,
            state,
            interval=interval,
            failure=Failure(log, "watching for alerts failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def fleet_round(self) -> bool:
        """Run a round if it is this router's turn in the fleet; whether it was."""
        now = self._clock()
        if not await claim_round(self._db, ROUND, now, self._interval):
            return False
        await self.watch_once(now)
        return True

    async def watch_once(self, now: int) -> None:
        """Every check, each logged on its own if it fails."""
        hooks = await list_hooks(self._db)
        wanted = {kind for hook in hooks for kind in hook.events}
        standings: list[Standing] = []
        if wanted & {BUDGET, FORECAST}:
            standings = await load_standings(self._db, now)
        checks: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("routers", lambda: notice_silent(self._db, now)),
            ("old events", lambda: prune_events(self._db, now)),
        ]
        if BUDGET in wanted:
            checks.append(("budgets", lambda: self._budgets(standings, hooks, now)))
        if FORECAST in wanted:
            checks.append(("forecasts", lambda: self._forecast(standings, now)))
        if ERROR_RATE in wanted:
            checks.append(
                ("the error rate", lambda: watch_error_rate(self._db, now, self._error_rate))
            )
        for what, check in checks:
            try:
                await check()
            except Exception:
                log.exception("watching %s for alerts failed", what)

    async def _budgets(self, standings: Sequence[Standing], hooks: Sequence[Hook], now: int) -> int:
        return await raise_budget_events(self._db, standings, hooks, now, self._timezone)

    async def _forecast(self, standings: Sequence[Standing], now: int) -> int:
        runways, describe = self._forecasts()
        return await raise_forecast_events(self._db, standings, now, runways, describe)
