"""This router's place in the fleet (``services.alerts.presence``): it checks in as a
worker starts, every HEARTBEAT seconds after (one worker of the router per round), and
leaves as a worker stops. A failure is logged, never fatal: alerts never stop a router
from serving."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.alerts.presence import HEARTBEAT, check_in, leave
from burncloud.services.clock import now as clock_now

log = logging.getLogger("burncloud.alerts")

CLAIM = "alerts:presence"


def router_name(port: int) -> str:
    """How alerts name this router: its host and port (its workers share both)."""
    return f"{socket.gethostname()}:{port}"


class RouterPresence:
    """Owns the heartbeat task of one worker."""

    def __init__(
        self,
        db: Database,
        state: SharedState,
        name: str,
        *,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self.name = name
        self._clock = clock
        self._rounds = ClaimedRounds(
            "burncloud-router-presence",
            CLAIM,
            self._heartbeat,
            state,
            interval=HEARTBEAT,
            failure=Failure(log, "the router's heartbeat failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> bool:
        """Check in (joining the fleet if the router was away) and start the heartbeat;
        whether the router joined now."""
        joined = False
        try:
            joined = await check_in(self._db, self.name, self._clock(), starting=True)
        except Exception:
            log.exception("could not record router %s joining the fleet", self.name)
        self._rounds.start()
        return joined

    async def stop(self) -> bool:
        """Stop the heartbeat and record the router leaving; whether this call did."""
        await self._rounds.stop()
        try:
            return await leave(self._db, self.name, self._clock())
        except Exception:
            log.exception("could not record router %s leaving the fleet", self.name)
            return False

    async def _heartbeat(self) -> None:
        await check_in(self._db, self.name, self._clock(), starting=False)
