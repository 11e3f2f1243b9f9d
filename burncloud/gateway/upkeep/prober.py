"""The background task that brings auto-disabled channels back once they answer again.

Every ``interval`` seconds it probes each ``auto_disabled`` channel (a few at a time) and
re-enables those whose probe succeeds. Operator-disabled channels are never listed, so never
probed. One probe's error or hang is logged and costs only that channel its turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from burncloud.db.base import Database
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
        self._interval = interval
        self._concurrency = concurrency
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background task (its first round runs one ``interval`` from now)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="channel prober")

    async def stop(self) -> None:
        """Cancel the task, in-flight probes included, and wait for it; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def probe_once(self) -> list[int]:
        """Probe every auto-disabled channel now; the ids of those re-enabled."""
        channels = await auto_disabled_channels(self._db)
        gate = asyncio.Semaphore(self._concurrency)
        healed = await asyncio.gather(*(self._heal(channel, gate) for channel in channels))
        return [channel.id for channel, ok in zip(channels, healed, strict=True) if ok]

    async def _run(self) -> None:
        due = self._clock()
        while True:
            due = self._next_round(due)
            await self._sleep(max(0.0, due - self._clock()))
            try:
                await self.probe_once()
            except Exception:
                log.exception("listing auto-disabled channels failed; trying again next round")

    def _next_round(self, last: float) -> float:
        """One interval after the last round began; a full one from now if a round overran."""
        due, current = last + self._interval, self._clock()
        return due if due > current else current + self._interval

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
