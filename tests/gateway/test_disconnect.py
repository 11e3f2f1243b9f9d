"""unless_disconnected: a client leaving cancels the work, unless the answer is on its way."""

from __future__ import annotations

import asyncio

import pytest

from burncloud.gateway.asgi import ClientDisconnected
from burncloud.gateway.relay.disconnect import unless_disconnected


def _queue_receive() -> tuple[asyncio.Queue, object]:
    queue: asyncio.Queue = asyncio.Queue()
    return queue, queue.get


async def test_a_disconnect_before_the_answer_cancels_the_work() -> None:
    queue, receive = _queue_receive()
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "answer"

    queue.put_nowait({"type": "http.disconnect"})
    with pytest.raises(ClientDisconnected):
        await unless_disconnected(work(), receive, lambda: False)
    assert cancelled.is_set()


async def test_a_disconnect_while_the_answer_is_written_lets_the_work_finish() -> None:
    queue, receive = _queue_receive()
    delivering = False

    async def work() -> str:
        nonlocal delivering
        delivering = True
        queue.put_nowait({"type": "http.disconnect"})  # as Hypercorn does on the last write
        await asyncio.sleep(0.05)  # the write drains slowly
        return "answer"

    assert await unless_disconnected(work(), receive, lambda: delivering) == "answer"


async def test_the_work_s_own_failure_is_raised() -> None:
    _, receive = _queue_receive()

    async def work() -> str:
        raise ValueError("upstream said no")

    with pytest.raises(ValueError, match="upstream said no"):
        await unless_disconnected(work(), receive, lambda: False)
