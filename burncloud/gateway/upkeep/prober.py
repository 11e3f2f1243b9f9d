"""The background task that brings auto-disabled keys (and their channels) back once they
answer again.

Every ``interval`` seconds it probes each ``auto_disabled`` key (a few at a time) and
re-enables those whose probe succeeds, and their channel with the first. Operator-disabled
keys and channels are never listed, so never probed. One probe's error or hang is logged
and costs only that key its turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from burncloud.db.base import Database
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.services.channel_health import DisabledKey, auto_disabled_keys, auto_enable
from burncloud.services.channels import Channel

log = logging.getLogger("burncloud.prober")

Probe = Callable[[Channel, int], Awaitable[bool]]  # (channel, key id) -> healthy


class Prober:
    """Probes auto-disabled keys every ``interval`` s and re-enables the healthy ones."""

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
        """Probe every auto-disabled key now; the ids of those re-enabled."""
        disabled = await auto_disabled_keys(self._db)
        gate = asyncio.Semaphore(self._concurrency)
        healed = await asyncio.gather(*(self._heal(one, gate) for one in disabled))
        return [one.key.id for one, ok in zip(disabled, healed, strict=True) if ok]

    async def _heal(self, disabled: DisabledKey, gate: asyncio.Semaphore) -> bool:
        """Probe one key and re-enable it if healthy; never raises but cancellation."""
        channel, key = disabled.channel, disabled.key
        try:
            async with gate:
                async with asyncio.timeout(self._timeout):
                    healthy = await self._probe(channel, key.id)
            if healthy and await auto_enable(self._db, channel.id, key.id):
                log.info(
                    "channel %d (%s) key %d answers again: re-enabled",
                    channel.id,
                    channel.name,
                    key.id,
                )
                return True
        except Exception:
            log.exception("probing channel %d (%s) key %d failed", channel.id, channel.name, key.id)
        return False
