"""Notices the routers of a fleet send each other over Redis pub/sub.

Three kinds: "the configuration changed" (sent by the CLI and the admin API after a change,
so every router reloads at once instead of at its next poll), "a breaker opened" (so the
other routers stop sending to a failing channel too, instead of each paying three failures
to learn it) and "give this quota back" (a router about to refuse for want of money asks the
others for the free part of their leases of it). All are hints: pub/sub delivers at most
once, and nothing is lost for good without them: routers still poll the config version
every second, breakers still open on their own failures, and idle leases go back by
themselves within 0.5 s near exhaustion. So a notice is sent without waiting for it, and a
subscriber that lost its connection simply reconnects and reloads once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from burncloud.gateway.fleet.redis_link import COMMAND_TIMEOUT, RETRY_EVERY, RedisDown, RedisLink

if TYPE_CHECKING:
    from burncloud.gateway.fleet.shared_state import Record

log = logging.getLogger("burncloud.redis")

CHANNEL = "events"
CONFIG, BREAKER, RECALL = "config", "breaker", "recall"


class FleetNotices:
    """Sends this worker's notices and acts on the others' (owned by the Runtime)."""

    def __init__(
        self,
        link: RedisLink,
        origin: str,
        on_config: Callable[[], None],
        on_breaker: Callable[[str, Record], None],
        on_recall: Callable[[tuple[str, int]], None],
    ) -> None:
        self._link = link
        self._origin = origin  # this worker's name: its own notices are not acted on
        self._on_config = on_config
        self._on_breaker = on_breaker
        self._on_recall = on_recall
        self._sending: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()  # set while a subscription is live (tests wait on it)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="fleet-notices")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    def config_changed(self) -> None:
        self._send({"t": CONFIG})

    def breaker_opened(self, key: str, record: Record) -> None:
        self._send({"t": BREAKER, "k": key, "r": list(record)})

    def recall(self, key: tuple[str, int]) -> None:
        """Ask the other routers to give back their free lease money of ``key``."""
        self._send({"t": RECALL, "s": key[0], "i": key[1]})

    def _send(self, notice: dict[str, Any]) -> None:
        if not self._link.up:
            return
        payload = orjson.dumps({**notice, "o": self._origin})
        channel = self._link.key(CHANNEL)
        task = asyncio.get_running_loop().create_task(self._publish(channel, payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, channel: str, payload: bytes) -> None:
        with contextlib.suppress(RedisDown):
            await self._link.call(lambda redis: redis.publish(channel, payload))

    async def _listen(self) -> None:
        """Subscribe, act on each notice; on any connection failure wait and start over."""
        while True:
            try:
                await self._subscription()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: reconnect (the link logs the outage)
                log.debug("fleet notices interrupted: %s", exc)
            self.subscribed.clear()
            await asyncio.sleep(RETRY_EVERY)

    async def _subscription(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(
            self._link.url,
            socket_connect_timeout=COMMAND_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=5,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._link.key(CHANNEL))
            self.subscribed.set()
            self._on_config()  # notices sent while we were not listening are lost: look now
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is not None:
                    self._act(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _act(self, data: bytes) -> None:
        try:
            notice = orjson.loads(data)
            if notice.get("o") == self._origin:
                return
            if notice["t"] == CONFIG:
                self._on_config()
            elif notice["t"] == BREAKER:
                code, failures, until, cooldown = (float(x) for x in notice["r"])
                self._on_breaker(str(notice["k"]), (code, failures, until, cooldown))
            elif notice["t"] == RECALL:
                self._on_recall((str(notice["s"]), int(notice["i"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed fleet notice")


async def announce_config_change(url: str, prefix: str) -> bool:
    """Tell the fleet's routers the configuration changed (from the CLI); True if sent.

    Best effort within a short deadline: routers poll the config version anyway."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        async with asyncio.timeout(1.0):
            await client.publish(prefix + CHANNEL, orjson.dumps({"t": CONFIG, "o": "cli"}))
        return True
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await client.aclose()
