"""Disabling channel keys the upstream declared unusable, off the request path.

A request that meets an invalid key or an account out of credit fails over at once; the
database write that takes the key (and, with its last key, the channel) out of routing for
every router (``auto_disabled``, with the reason) happens here, in the background, once
per key however many requests saw it. The prober re-enables the key when it works again.
"""

from __future__ import annotations

import logging

from burncloud.db import Database
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.services.channel_health import auto_disable

log = logging.getLogger("burncloud.health")


class ChannelDisabler:
    """Owns the task that writes auto-disables; ``report`` never blocks."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[tuple[int, int], str] = {}  # (channel id, key id) -> reason
        # Runs only when a report asks; a stop lets the write in progress finish.
        self._writes = Periodic(
            "burncloud-channel-disabler",
            self._flush,
            interval=None,
            failure=Failure(log, "auto-disabling channels failed"),
            cancel_on_stop=False,
        )

    def report(self, channel_id: int, key_id: int, reason: str) -> None:
        """Ask for key ``key_id`` of ``channel_id`` to be auto-disabled (the first reason
        wins)."""
        self._pending.setdefault((channel_id, key_id), reason)
        self._writes.run_now()

    async def start(self) -> None:
        self._writes.start()

    async def stop(self) -> None:
        """Finish the write in progress and what is pending, then stop; safe to call twice."""
        await self._writes.stop()
        await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (channel_id, key_id), reason in pending.items():
            try:
                if await auto_disable(self._db, channel_id, key_id, reason):
                    log.warning("channel %s key %s auto-disabled: %s", channel_id, key_id, reason)
            except Exception:
                log.exception("could not auto-disable channel %s key %s", channel_id, key_id)
