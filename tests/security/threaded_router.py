"""A router and its fake upstream on an event loop of their own thread, for synchronous
callers such as schemathesis and hypothesis tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import RunningRouter, running_router

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ThreadedRouter:
    router: RunningRouter
    upstream: FakeOpenAI
    loop: asyncio.AbstractEventLoop

    @property
    def root(self) -> str:
        return self.router.base_url.removesuffix("/v1")

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the router's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)


@contextmanager
def threaded_router(tmp_path: Path, **settings: object) -> Iterator[ThreadedRouter]:
    """``running_router`` in front of a FakeOpenAI, served from a background thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="router", daemon=True)
    thread.start()
    started: Future[ThreadedRouter] = Future()  # thread-safe: set on the loop, read here
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with (
                FakeOpenAI("sk-canary-upstream-key") as upstream,
                running_router(tmp_path, upstream, **settings) as router,
            ):
                started.set_result(ThreadedRouter(router, upstream, loop))
                await stop.wait()
        except BaseException as exc:
            if not started.done():  # the caller waits for this, not for serve()
                started.set_exception(exc)
            raise

    served = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        yield started.result(timeout=30)
    finally:
        loop.call_soon_threadsafe(stop.set)
        served.result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
