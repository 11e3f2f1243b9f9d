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
    ``work`` runs in the caller's task; only the watcher is a task of its own (one task per
    request, not two: this is the relay's hot path).
    """
    me = asyncio.current_task()
    assert me is not None
    left = False

    def on_disconnect(watcher: asyncio.Task[None]) -> None:
        nonlocal left
        if not watcher.cancelled() and watcher.exception() is None and not delivering():
            left = True
            me.cancel()

    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        return await work
    except asyncio.CancelledError:
        if left and me.uncancel() == 0:  # our own cancel, not one from outside
            raise ClientDisconnected from None
        raise
    finally:
        watcher.remove_done_callback(on_disconnect)
        watcher.cancel()


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client has gone (its body was read already)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
