"""The background task that brings auto-disabled channels back once they answer again.

Every ``interval`` seconds it probes each ``auto_disabled`` channel (a few at a time) and
re-enables those whose probe succeeds. Operator-disabled channels are never listed, so never
probed. One probe's error or hang is logged and costs only that channel its turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from burncloud.db.base import Database
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.services.channel_health import auto_disabled_channels, auto_enable
from burncloud.services.channels import Channel

log = logging.getLogger("burncloud.prober")

Probe = Callable[[Channel], Awaitable[bool]]


class Prober:
    """Probes auto-disabled channels every ``interval`` s and re-enables the healthy ones."""

    def __init__(
        self,
        db: Database,
        probe: Probe,
        *,
        interval: float = 60.0,
        concurrency: int = 4,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._probe = probe
        self._concurrency = concurrency
        self._timeout = timeout
        # Rounds keep their cadence: one interval after the last began, a full one from
        # its end if it overran.
        self._rounds = Periodic(
            "channel prober",
            self.probe_once,
            interval=interval,
            from_start=True,
            failure=Failure(log, "listing auto-disabled channels failed; trying again next round"),
            clock=clock,
            sleep=sleep,
        )

    async def start(self) -> None:
        """Start the background task (its first round runs one ``interval`` from now)."""
        self._rounds.start()

    async def stop(self) -> None:
        """Cancel the task, in-flight probes included, and wait for it; safe to call twice."""
        await self._rounds.stop()

    async def probe_once(self) -> list[int]:
        """Probe every auto-disabled channel now; the ids of those re-enabled."""
        channels = await auto_disabled_channels(self._db)
        gate = asyncio.Semaphore(self._concurrency)
        healed = await asyncio.gather(*(self._heal(channel, gate) for channel in channels))
        return [channel.id for channel, ok in zip(channels, healed, strict=True) if ok]

    async def _heal(self, channel: Channel, gate: asyncio.Semaphore) -> bool:
        """Probe one channel and re-enable it if healthy; never raises but cancellation."""
        try:
            async with gate:
                async with asyncio.timeout(self._timeout):
                    healthy = await self._probe(channel)
            if healthy and await auto_enable(self._db, channel.id):
                log.info("channel %d (%s) answers again: re-enabled", channel.id, channel.name)
                return True
        except Exception:
            log.exception("probing channel %d (%s) failed", channel.id, channel.name)
        return False
