"""A local webhook receiver (127.0.0.1) that checks signatures, drops retried duplicates
by ``X-Burncloud-Event-Id``, and fails, or hangs on, the attempts it is told to."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from burncloud.services.alerts.signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    verify,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Received:
    """One POST as the receiver saw it, and what it answered."""

    path: str
    event_id: str
    event: str
    body: bytes
    headers: dict[str, str]
    signed: bool  # the signature checked out (False: missing or wrong)
    answered: int

    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers 500 to each event's first ``fail_first`` attempts and 401 to a bad signature
    (when it knows the ``secret``), else 200; the first ``hang_first`` requests of all wait
    until closed. ``accepted`` holds each event id's accepted deliveries."""

    secret: str | None = None
    fail_first: int = 0
    hang_first: int = 0
    status: int = 200  # what an accepted attempt answers
    received: list[Received] = field(default_factory=list)
    arrived: Counter[str] = field(default_factory=Counter)
    url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def accepted(self) -> dict[str, list[Received]]:
        found: dict[str, list[Received]] = {}
        for request in self.received:
            if 200 <= request.answered < 300:
                found.setdefault(request.event_id, []).append(request)
        return found

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event_id = request.headers.get(EVENT_ID_HEADER, "")
        arrival = sum(self.arrived.values())
        self.arrived[event_id] += 1
        if arrival < self.hang_first:
            await asyncio.get_running_loop().create_future()  # until the server closes
        header = request.headers.get(SIGNATURE_HEADER)
        signed = bool(
            self.secret and header and verify(self.secret, header, body, int(time.time()))
        )
        if self.arrived[event_id] <= self.fail_first:
            answer = 500
        elif self.secret is not None and not signed:
            answer = 401
        else:
            answer = self.status
        self.received.append(
            Received(
                request.path,
                event_id,
                request.headers.get(EVENT_HEADER, ""),
                body,
                dict(request.headers),
                signed,
                answer,
            )
        )
        return web.Response(status=answer, text="nope" if answer >= 400 else "ok")


@contextmanager
def receiver_thread(
    secret: str | None = None, fail_first: int = 0, hang_first: int = 0
) -> Iterator[WebhookReceiver]:
    """A WebhookReceiver running on its own loop in a thread (for tests that are not async)."""
    receiver = WebhookReceiver(secret=secret, fail_first=fail_first, hang_first=hang_first)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(receiver.start(), loop).result(timeout=10)
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(receiver.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """``handler`` answering every POST on 127.0.0.1; yields the server's base URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
