"""Stopping upstream work the moment the client goes away.

Hypercorn does not cancel an ASGI handler when its client disconnects: it only queues an
``http.disconnect`` message for ``receive``. A request waiting on a slow upstream would
keep it busy (and generating, at our expense) until the answer was complete, so the wait is
raced against the client's ``receive``.

Hypercorn also queues ``http.disconnect`` the moment a response's last byte is handed to
it, keep-alive or not, while the handler may still be inside that last ``send`` (a slow
drain under load). So once the answer is being delivered a disconnect means nothing: the
work is left to finish, and the answer the client received is billed in full.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from burncloud.gateway.asgi import ClientDisconnected, Receive

T = TypeVar("T")


async def unless_disconnected(
    work: Awaitable[T], receive: Receive, delivering: Callable[[], bool]
) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled
    (closing the upstream connection) and ClientDisconnected raised.

    Once ``delivering()`` is true (the answer is being sent) ``work`` runs to its end.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done and delivering():
            await asyncio.wait({task})
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
