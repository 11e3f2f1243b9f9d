"""One worker's connection to the fleet's Redis, and whether Redis can be used right now.

Redis carries what several routers must share and what changes too often for the database:
rate-limit levels, round-robin turns, breaker openings and "the configuration changed"
notices. None of it is money: quota lives in the database, so losing Redis must never stop
or slow traffic. Every command therefore has a short deadline (``timeout``), and the first
failure marks Redis down: callers then use their per-instance fallback at once, without
waiting on Redis again, until a background ping finds it back (every ``retry_every``). So a
Redis that dies or hangs costs at most one ``timeout`` per request in flight at that moment,
and routers degrade to per-instance limits well within a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from burncloud.errors import ConfigError
from burncloud.gateway.periodic import Failure, Periodic

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("burncloud.redis")

T = TypeVar("T")
COMMAND_TIMEOUT = 0.4  # seconds of silence from Redis before it counts as down
RETRY_EVERY = 0.5  # seconds between pings while Redis is down
POOL_SIZE = 64  # connections per worker
BACKSTOP_TIMEOUT = 5.0


class RedisDown(Exception):
    """Redis is unreachable or too slow; the caller falls back to per-instance behaviour."""


class RedisLink:
    """Owns the worker's Redis client: opened by ``start``, closed by ``close``."""

    def __init__(
        self,
        url: str,
        prefix: str = "burncloud:",
        *,
        timeout: float = COMMAND_TIMEOUT,
        retry_every: float = RETRY_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._timeout = timeout
        self._retry_every = retry_every
        self._clock = clock
        self._client: Redis | None = None
        self._up = False
        self._down_since: float | None = None
        # Pings while down; once up, now and then, so a silent death is noticed too.
        self._watchdog = Periodic(
            "redis-watchdog",
            self._check,
            interval=lambda: self._retry_every if not self._up else 1.0,
            failure=Failure(log, "the redis watchdog failed"),
        )
        self._listeners: list[Callable[[bool], None]] = []
        self._last_answer = float("-inf")

    async def start(self) -> None:
        """Connect; an unreachable Redis is logged and retried, never a startup failure."""
        self._client = _client(self.url, self._timeout)
        try:
            await self._ping()
        except RedisDown:
            self._mark_down("unreachable at startup")
        else:
            self._set_up(True)
        self._watchdog.start()

    async def close(self) -> None:
        await self._watchdog.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def up(self) -> bool:
        """True while Redis answers; False from its first failure until a ping succeeds."""
        return self._up

    @property
    def client(self) -> Redis:
        assert self._client is not None, "RedisLink.start() first"
        return self._client

    def key(self, name: str) -> str:
        """``name`` inside this installation's namespace."""
        return self.prefix + name

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(up)`` whenever Redis goes down or comes back."""
        self._listeners.append(listener)

    async def call(self, command: Callable[[Redis], Awaitable[T]]) -> T:
        """Run one command under the deadline; raises RedisDown (at once while down).

        The deadline is for Redis's silence, not for this worker's own backlog: when it
        passes but Redis has answered another command since this one started, the worker
        is merely busy (a burst queues commands behind a full pool and a lagging loop), so
        the command keeps waiting instead of declaring a live Redis down."""
        if not self._up or self._client is None:
            raise RedisDown("redis is down")
        loop = asyncio.get_running_loop()
        started = self._clock()
        try:
            async with asyncio.timeout(None) as deadline:
                watch = _SilenceWatch(self, self._timeout, deadline, started, loop)
                try:
                    result = await command(self._client)
                finally:
                    watch.cancel()
        except (TimeoutError, OSError, _redis_errors()) as exc:
            self._mark_down(f"{type(exc).__name__}: {exc}")
            raise RedisDown(str(exc)) from None
        self._last_answer = self._clock()
        return result

    def now(self) -> float:
        """The link's clock (what ``answered_since`` compares with)."""
        return self._clock()

    def answered_since(self, moment: float) -> bool:
        """Whether Redis answered any command (or ping) after ``moment``."""
        return self._last_answer > moment

    async def _ping(self) -> None:
        assert self._client is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.ping()
        except (TimeoutError, OSError, _redis_errors()) as exc:
            raise RedisDown(str(exc)) from None

    async def _check(self) -> None:
        """One watchdog ping: mark Redis down on silence, up again when it answers."""
        try:
            await self._ping()
        except RedisDown as exc:
            if self._up:
                self._mark_down(str(exc))
            return
        self._last_answer = self._clock()
        if not self._up:
            log.warning("redis is back: shared limits and notices resume")
            self._set_up(True)

    def _mark_down(self, reason: str) -> None:
        if self._up or self._down_since is None:
            self._down_since = self._clock()
            log.error("redis is unreachable (%s): per-instance limits until it is back", reason)
        self._set_up(False)

    def _set_up(self, up: bool) -> None:
        changed = up != self._up
        self._up = up
        if up:
            self._down_since = None
        if changed:
            for listener in self._listeners:
                listener(up)


class _SilenceWatch:
    """Expires a command's deadline once Redis has been silent for the link's timeout."""

    def __init__(
        self,
        link: RedisLink,
        period: float,
        deadline: asyncio.Timeout,
        started: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._link, self._period, self._deadline, self._loop = link, period, deadline, loop
        self._started = started
        self._handle = loop.call_later(period, self._check)

    def _check(self) -> None:
        if self._link.answered_since(self._started):
            self._started = self._link.now()  # alive: give it another full period
            self._handle = self._loop.call_later(self._period, self._check)
        else:
            self._deadline.reschedule(self._loop.time())

    def cancel(self) -> None:
        self._handle.cancel()


def _client(url: str, timeout: float) -> Redis:
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:  # the redis extra is optional
        raise ConfigError(
            "REDIS_URL is set but the redis client is not installed: pip install 'burncloud[redis]'"
        ) from None
    try:
        # A bounded pool that queues: thousands of requests in flight share a few dozen
        # connections (commands take ~0.1 ms) instead of failing with "too many connections".
        # The socket and pool timeouts are a backstop only: RedisLink.call's silence watch
        # decides when Redis is down, and it does not mistake a busy worker for a dead Redis.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=BACKSTOP_TIMEOUT,
            socket_timeout=BACKSTOP_TIMEOUT,
            socket_connect_timeout=max(timeout, 1.0),
            retry=Retry(NoBackoff(), 0),  # never retry inside a deadline: fall back instead
        )
        return Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL is not a redis URL: {exc}") from None


def _redis_errors() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError
