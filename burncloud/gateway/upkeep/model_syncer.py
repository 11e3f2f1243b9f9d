"""Automatic model syncs: each channel with ``auto_sync`` is brought in step with its
upstream every ``auto_sync`` seconds (``services.model_sync``), asked over the router's
own transport, whose connections pass the address guard.

One worker of a router looks for due channels per round (a claim in the shared state,
``ClaimedRounds``); each due channel is then claimed in the database (``claim_due_syncs``:
a conditional upsert of its ``synced_at``), so across a fleet one router syncs a channel
once per interval. A sync that saw models appear or vanish raises the ``channel-models``
alert; a failed one is recorded with its error and tried again within an hour. Changes
are audited as ``model-sync:<user>@<host>``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import BurncloudError, ServiceUnavailable
from burncloud.gateway.egress.transport import BrokeOff, Transport, Unreachable
from burncloud.gateway.fleet.shared_state import SharedState
from burncloud.gateway.periodic import Failure
from burncloud.gateway.upkeep.claimed_rounds import ClaimedRounds
from burncloud.services.audit import acting_as, local_actor
from burncloud.services.clock import now
from burncloud.services.model_listing import (
    FAILED,
    UNREACHABLE,
    Fetched,
    JsonGetter,
    collect_body,
)
from burncloud.services.model_sync import (
    SyncResult,
    claim_due_syncs,
    record_failure,
    sync_channel_models,
)
from burncloud.services.timeouts import Timeouts

log = logging.getLogger("burncloud.model_sync")

ROUND_SECONDS = 60.0  # how often a router looks for channels due a sync
CLAIM = "sync:models"
LISTING_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, idle=30.0)
SYNC_TIMEOUT = 300.0  # one channel's whole sync, every page of its listing


class TransportGetter:
    """``JsonGetter`` over the router's transport: one GET, its whole body, within
    ``timeouts.first_byte`` from the request to the last byte."""

    def __init__(self, transport: Transport, timeouts: Timeouts = LISTING_TIMEOUTS) -> None:
        self._transport, self._timeouts = transport, timeouts

    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        limit = self._timeouts.first_byte
        try:
            async with asyncio.timeout(limit):
                answer = await self._transport.request("GET", url, headers, self._timeouts)
                try:
                    body = await collect_body(answer.chunks())
                finally:
                    answer.release()
        except TimeoutError:
            raise ServiceUnavailable(f"the upstream did not answer within {limit:g} s") from None
        except Unreachable:
            raise ServiceUnavailable(UNREACHABLE) from None
        except BrokeOff:
            raise ServiceUnavailable(f"{FAILED} mid-answer") from None
        return Fetched(answer.status, body, answer.header("Retry-After"))


class ModelSyncer:
    """Owns the syncing task; ``sync_due`` is one round's whole job, for tests."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        getter: JsonGetter,
        state: SharedState,
        *,
        interval: float = ROUND_SECONDS,
        clock: Callable[[], int] = now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db, self._box, self._getter, self._clock = db, box, getter, clock
        self._rounds = ClaimedRounds(
            "burncloud-model-syncer",
            CLAIM,
            self.sync_due,
            state,
            interval=interval,
            failure=Failure(log, "looking for channels due a model sync failed", every_time=False),
            sleep=sleep,
        )

    async def start(self) -> None:
        """Start the task (its first round runs at once)."""
        self._rounds.start()

    async def stop(self) -> None:
        """Cancel the task, a sync in progress included; safe to call twice."""
        await self._rounds.stop()

    async def sync_due(self) -> list[SyncResult]:
        """Sync every channel due now that this router claims; the syncs that worked."""
        claimed = await claim_due_syncs(self._db, self._clock())
        done = []
        with acting_as(local_actor("model-sync")):
            for channel_id in claimed:
                result = await self._sync(channel_id)
                if result is not None:
                    done.append(result)
        return done

    async def _sync(self, channel_id: int) -> SyncResult | None:
        """One channel's sync; a failure is recorded and logged, never raised."""
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                result = await sync_channel_models(
                    self._db, self._box, channel_id, self._getter, alert=True
                )
        except BurncloudError as exc:  # recorded on the channel's sync row already
            log.warning("model sync of channel %d failed: %s", channel_id, exc.message)
            return None
        except TimeoutError:
            error = f"the sync did not finish within {SYNC_TIMEOUT:g} s"
            await record_failure(self._db, channel_id, self._clock(), error)
            log.warning("model sync of channel %d failed: %s", channel_id, error)
            return None
        except Exception:
            log.exception("model sync of channel %d failed", channel_id)
            return None
        if result.added or result.removed:
            log.info(
                "model sync of channel %d: %d added, %d removed",
                channel_id,
                len(result.added),
                len(result.removed),
            )
        return result
