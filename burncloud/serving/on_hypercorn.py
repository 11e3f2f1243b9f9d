"""A worker on Hypercorn: the app served on the supervisor's socket, with our limits.

Hypercorn has the head size limit (h11's ``max_incomplete_event_size``: a longer head gets
431 and the connection closes) and the keep-alive timeout, but its only timer for a head
is the keep-alive one, it has no connection cap, and it lets a connection its client has
closed linger until that timer runs out (75 s of a socket and a task). ``LimitedTCPServer``
adds the head timer (a fresh connection, or the next request of a kept-alive one from its
first byte, has ``header_timeout`` seconds for its head) and the cap (a connection beyond
it is served ``refuse_connection``), and ends a connection as soon as its client has gone.
Hypercorn builds one ``TCPServer`` per connection inside its ``worker_serve`` and offers no
hook for it, so ``serve_on_hypercorn`` hands it ours through the module attribute it looks
up (the tests of each limit fail if that stops working).
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import StreamReader, StreamWriter
from contextlib import suppress
from functools import partial
from ssl import SSLError
from typing import Any, cast

import hypercorn.asyncio.run as hypercorn_run
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.typing import ASGIFramework
from hypercorn.utils import LifespanFailureError

from burncloud.config import Settings
from burncloud.gateway.asgi import ASGIApp
from burncloud.serving.limits import ConnectionGate, ServerLimits, refuse_connection
from burncloud.serving.listener import BACKLOG


def _hypercorn_app(app: ASGIApp) -> ASGIFramework:
    """``app`` as Hypercorn types an app. Hypercorn types the scope and messages as
    TypedDicts and passes plain dicts, which our apps take as ``MutableMapping``s: the two
    types differ, the values are the same."""
    return cast("ASGIFramework", app)


_REFUSE = ASGIWrapper(_hypercorn_app(refuse_connection))


def serve_on_hypercorn(
    app: ASGIApp, listen_fd: int, settings: Settings, limits: ServerLimits, uvloop: bool
) -> bool:
    """Serve ``app`` on the inherited socket until SIGTERM/SIGINT; False when the app's
    lifespan failed."""
    config = hypercorn_config(listen_fd, settings, limits)
    gate = ConnectionGate(limits.max_connections)
    # Set in the module's namespace, where Hypercorn looks the class up when it calls it:
    # a partial is not a class, though it takes the same arguments.
    vars(hypercorn_run)["TCPServer"] = partial(LimitedTCPServer, limits, gate)
    loop_factory = None
    if uvloop:
        import uvloop as uvloop_module

        loop_factory = uvloop_module.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(_hypercorn_app(app), config))
    except LifespanFailureError:
        return False
    return True


def hypercorn_config(listen_fd: int, settings: Settings, limits: ServerLimits) -> Config:
    config = Config()
    config.bind = [f"fd://{listen_fd}"]
    config.graceful_timeout = settings.grace_period
    config.backlog = BACKLOG
    config.keep_alive_timeout = limits.keep_alive
    config.h11_max_incomplete_size = limits.max_header_bytes
    config.h2_max_header_list_size = limits.max_header_bytes
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # ours: one handler, one format
    config.loglevel = settings.log_level.upper()
    return config


class LimitedTCPServer(TCPServer):
    """Hypercorn's handler of one connection, with the head timeout and the connection cap."""

    def __init__(
        self,
        limits: ServerLimits,
        gate: ConnectionGate,
        app: Any,
        loop: asyncio.AbstractEventLoop,
        config: Config,
        context: Any,
        state: Any,
        reader: StreamReader,
        writer: StreamWriter,
    ) -> None:
        self._limits = limits
        self._gate = gate
        self._admitted = gate.admit()
        self._kept_alive = False  # between two requests, waiting for the next one
        served = app if self._admitted else _REFUSE
        super().__init__(served, loop, config, context, state, reader, writer)

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._admitted:
                self._admitted = False
                self._gate.release()

    async def protocol_send(self, event: Event) -> None:
        if not isinstance(event, Updated):
            await super().protocol_send(event)
            return
        self._kept_alive = event.idle  # idle again after a response; busy at a head
        await super().protocol_send(event)
        if event.idle and self.reader.at_eof():
            await self.idle_task.stop()  # the client closed its side: no request will come

    async def _read_data(self) -> None:
        # Hypercorn's loop (without its read_timeout, which we leave unset: it would cut a
        # stream whose client sends nothing while it reads), plus two steps: the first
        # bytes of a kept-alive connection's next request start its head timer, and a
        # connection its client closed ends now, not when its idle timer runs out
        # (protocol_send does the same for one that goes idle after the close).
        while not self.reader.at_eof():
            try:
                data = await self.reader.read(MAX_RECV)
            except (ConnectionError, OSError, SSLError):
                break
            if self._kept_alive and data:
                self._kept_alive = False
                await self.idle_task.restart(self._task_group, self._idle_timeout)
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())
        await self.idle_task.stop()

    async def _idle_timeout(self) -> None:
        # Runs while no request is being served: the keep-alive wait between requests,
        # otherwise the wait for a head. Ends early when the worker shuts down.
        timeout = self._limits.keep_alive if self._kept_alive else self._limits.header_timeout
        with suppress(TimeoutError):
            await asyncio.wait_for(self.context.terminated.wait(), timeout)
        await asyncio.shield(self._initiate_server_close())
