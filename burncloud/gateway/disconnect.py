"""Stopping upstream work the moment the client goes away.

Hypercorn does not cancel an ASGI handler when its client disconnects: it only queues an
``http.disconnect`` message for ``receive``. A request waiting on a slow upstream would
keep it busy (and generating, at our expense) until the answer was complete, so the wait is
raced against the client's ``receive``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from burncloud.gateway.asgi import ClientDisconnected, Receive

T = TypeVar("T")


async def unless_disconnected(work: Awaitable[T], receive: Receive) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled
    (closing the upstream connection) and ClientDisconnected raised."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client has gone (its body was read already)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
