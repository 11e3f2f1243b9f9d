"""Checking upstream balances in the background, and the admin API's "check now".

Each round one worker of a router (a claim in the shared state, ``ClaimedRounds``) lists
the channels whose check is due (``services.upstream_balance.due_checks``: every
``balance_every`` seconds, the router's default when a channel sets none, 0 never) and
takes each with a conditional UPDATE of its ``checked_at`` (``claim_check``), so one
router of the fleet checks a channel per interval. Checks go over the router's own
transport (the address guard vets every address at connect time; ``check_url`` a literal
one) a few at a time; a failing check is stored as the channel's error, and an unexpected
one is logged and costs only that channel its turn. The first round comes as the worker
starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import UpstreamError
from burncloud.gateway.egress.transport import BrokeOff, Transport, Unreachable
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.balances_api import Getter, Reply
from burncloud.services.balances_api.reading import read_capped
from burncloud.services.channels import UrlCheck
from burncloud.services.clock import now as clock_now
from burncloud.services.timeouts import Timeouts
from burncloud.services.upstream_balance import (
    DueCheck,
    StoredBalance,
    check_balance,
    claim_check,
    due_checks,
)

log = logging.getLogger("burncloud.balances")

CLAIM = "balances:refresh"
ROUND_SECONDS = 60.0  # how often a router looks for due checks
CHECK_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, idle=30.0)


class BalanceRefresher:
    """Owns the refreshing task; ``refresh_once`` is one round, ``check_now`` one channel."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        state: SharedState,
        transport: Transport,
        *,
        every: int,
        alert_below: Decimal,
        check_url: UrlCheck | None = None,
        round_seconds: float = ROUND_SECONDS,
        concurrency: int = 4,
        clock: Callable[[], int] = clock_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db, self._box = db, box
        self._get = transport_getter(transport)
        self._every, self._alert_below, self._check_url = every, alert_below, check_url
        self._concurrency = max(concurrency, 1)
        self._clock = clock
        self._rounds = ClaimedRounds(
            "burncloud-balance-refresher",
            CLAIM,
            self.refresh_once,
            state,
            interval=round_seconds,
            failure=Failure(log, "looking for due balance checks failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def refresh_once(self) -> list[StoredBalance]:
        """Check every channel whose check is due and that this router claimed; their
        outcomes (those that could not be stored are logged and left out)."""
        now = self._clock()
        claimed: list[DueCheck] = []
        for due in await due_checks(self._db, self._every, now):
            if await claim_check(self._db, due.channel.id, due.api, due.every, now):
                claimed.append(due)
        gate = asyncio.Semaphore(self._concurrency)
        outcomes = await asyncio.gather(*(self._check(due, gate) for due in claimed))
        return [outcome for outcome in outcomes if outcome is not None]

    async def check_now(self, channel_id: int) -> StoredBalance:
        """Check one channel now, whenever it was last checked (the admin API's POST)."""
        return await check_balance(
            self._db,
            self._box,
            channel_id,
            self._get,
            alert_below=self._alert_below,
            check_url=self._check_url,
            clock=self._clock,
        )

    async def _check(self, due: DueCheck, gate: asyncio.Semaphore) -> StoredBalance | None:
        channel = due.channel
        try:
            async with gate:
                stored = await self.check_now(channel.id)
        except Exception:
            log.exception("checking channel %d (%s)'s balance failed", channel.id, channel.name)
            return None
        if stored.error:
            log.info(
                "channel %d (%s): balance check failed: %s", channel.id, channel.name, stored.error
            )
        return stored


def transport_getter(transport: Transport, timeouts: Timeouts = CHECK_TIMEOUTS) -> Getter:
    """A balance GET over the router's transport: the whole call, answer read, within
    ``timeouts.first_byte``; no answer is an UpstreamError without the URL."""

    async def get(url: str, headers: Mapping[str, str]) -> Reply:
        try:
            async with asyncio.timeout(timeouts.first_byte):
                answer = await transport.request("GET", url, headers, timeouts)
                try:
                    return Reply(answer.status, await read_capped(answer.chunks()))
                finally:
                    answer.release()
        except Unreachable:
            raise UpstreamError("the upstream is unreachable (could not connect)") from None
        except BrokeOff:
            raise UpstreamError("the upstream connection failed while answering") from None
        except TimeoutError:
            seconds = f"{timeouts.first_byte:g}"
            raise UpstreamError(f"the upstream did not answer within {seconds} s") from None

    return get
