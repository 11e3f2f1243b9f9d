"""The plumbing shared by the strict fakes that replay recorded answers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from aiohttp import web


class ReplayServer:
    """An aiohttp app on a free loopback port; subclasses add their routes in ``routes``."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def replay(self, request: web.Request, recording: Path) -> web.StreamResponse:
        """Send ``recording`` as an event stream, cut at random byte boundaries."""
        return await self.replay_bytes(request, await asyncio.to_thread(recording.read_bytes))

    async def replay_bytes(
        self, request: web.Request, raw: bytes, content_type: str = "text/event-stream"
    ) -> web.StreamResponse:
        """Send ``raw`` as a streamed answer, cut at random byte boundaries."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        position = 0
        while position < len(raw):
            size = self._rng.randint(1, 150)
            await response.write(raw[position : position + size])
            position += size
        await response.write_eof()
        return response
