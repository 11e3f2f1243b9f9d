"""Delivering alerts in the background: every worker of every router runs one sender.

Each round looks for due deliveries with a read, and only when there are some claims up to
a batch and sends them side by side (``services.alerts.delivery``); a full batch asks for
another round at once. Nothing here is on the relay path: a slow or dead webhook holds
only this task, for at most the alert timeout per attempt. A stop cancels an attempt in
flight; its claim expires and another round, here or on another router, sends it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.gateway.egress.upstream_guard import UpstreamResolver
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.services.alerts.delivery import BATCH, Courier, HookTrial, open_session
from burncloud.services.alerts.hooks import UrlCheck
from burncloud.services.alerts.outbox import has_due
from burncloud.services.clock import now as clock_now

log = logging.getLogger("burncloud.alerts")


class AlertSender:
    """Owns the delivery task and its HTTP session; ``send_once`` is one round, for tests."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        owner: str,
        *,
        poll: float,
        timeout: float,
        retry_base: int,
        allow_private: bool,
        check_url: UrlCheck | None,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._db = db
        self._session = session or open_session(UpstreamResolver(allow_private))
        self._courier = Courier(
            self._session, box, owner, timeout, retry_base, check_url=check_url, clock=clock
        )
        self._clock = clock
        self._rounds = Periodic(
            "burncloud-alert-sender",
            self.send_once,
            interval=poll,
            run_at_start=True,
            failure=Failure(log, "delivering alerts failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        """Stop the task (an attempt in flight is cancelled) and close the session."""
        await self._rounds.stop()
        await self._session.close()

    def poke(self) -> None:
        """Look for due deliveries now (an event was just raised here)."""
        self._rounds.run_now()

    async def send_once(self) -> list[str]:
        """Send what is due now; the deliveries' statuses after their attempts."""
        if not await has_due(self._db, self._clock()):
            return []
        statuses = await self._courier.send_due(self._db)
        if len(statuses) == BATCH:
            self._rounds.run_now()
        failed = statuses.count("failed")
        if failed:
            log.warning("%d alert deliveries failed for a day and were given up", failed)
        return statuses

    async def test(self, hook_id: int) -> HookTrial:
        """Send alert ``hook_id`` a test event now (the admin API's test)."""
        return await self._courier.test(self._db, hook_id)
