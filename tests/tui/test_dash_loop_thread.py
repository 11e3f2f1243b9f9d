"""The query thread: results come back, cancelling reaches the query, stop ends the thread."""

from __future__ import annotations

import asyncio
import threading

import pytest
from burncloud_tui.loop_thread import LoopThread


async def test_coroutines_run_on_the_private_thread_and_cancel_there() -> None:
    runner = LoopThread("dash-test")
    started, cancelled = threading.Event(), threading.Event()

    async def where() -> str:
        return threading.current_thread().name

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        assert await runner.run(where()) == "dash-test"
        waiting = asyncio.create_task(runner.run(forever()))
        await asyncio.to_thread(started.wait, 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await asyncio.to_thread(cancelled.wait, 5)
        with pytest.raises(ZeroDivisionError):
            await runner.run(_divide())
    finally:
        runner.stop()
        runner.stop()
    assert not any(t.name == "dash-test" for t in threading.enumerate())


async def _divide() -> float:
    return 1 / 0
