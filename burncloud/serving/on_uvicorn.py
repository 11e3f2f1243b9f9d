"""A worker on uvicorn: the app served on the supervisor's socket, with our limits.

uvicorn has the keep-alive timeout but, on httptools, neither a head size limit (httptools
collects a header's value whole before uvicorn sees it, so a 256 MiB header grows the
worker by as much) nor a timer for a head (a connection that never finishes its headers
is held for ever), and its ``limit_concurrency`` answers plain text. ``LimitedHttpTools``
adds the three: it counts a head's bytes as they arrive, times the head from the moment
the connection opens or the next request's first byte arrives, and serves a connection
beyond the cap ``refuse_connection``. It is handed to uvicorn as its protocol class.
"""

from __future__ import annotations

import asyncio
import math
import signal
import socket
from asyncio import TimerHandle
from functools import partial
from typing import Any, cast

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from burncloud.config import Settings
from burncloud.gateway.asgi import ASGIApp
from burncloud.serving.limits import ConnectionGate, ServerLimits, refuse_connection
from burncloud.serving.listener import BACKLOG

HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)  # what Hypercorn (h11) answers a head over the limit


def serve_on_uvicorn(
    app: ASGIApp, listen_fd: int, settings: Settings, limits: ServerLimits, uvloop: bool
) -> bool:
    """Serve ``app`` on the inherited socket until SIGTERM/SIGINT; False when the app did
    not start (uvicorn takes a failed shutdown for a clean end)."""
    gate = ConnectionGate(limits.max_connections)
    config = uvicorn.Config(
        app,
        interface="asgi3",
        loop="uvloop" if uvloop else "asyncio",
        # uvicorn only calls its protocol class, with keywords the partial passes on.
        http=cast("type[asyncio.Protocol]", partial(LimitedHttpTools, limits=limits, gate=gate)),
        ws="none",  # an upgraded connection would leave the protocol that counts it
        lifespan="on",
        access_log=False,
        log_config=None,  # ours: one handler, one format
        log_level=settings.log_level,
        backlog=BACKLOG,
        # uvicorn types it int but takes any seconds (it hands them to loop.call_later).
        timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]
        timeout_graceful_shutdown=math.ceil(settings.grace_period),
    )
    # uvicorn re-raises SIGTERM / SIGINT once it has shut down gracefully, to end the
    # process with the signal; with these handlers in place it returns.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: None)
    listener = socket.socket(fileno=listen_fd)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except SystemExit:  # how uvicorn ends when the app fails to start
        return False
    return True


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a head over the limit."""


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head limits and the connection cap."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ServerLimits,
        gate: ConnectionGate,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        self._gate = gate
        self._admitted = False
        self._chunk = 0  # bytes in the read being parsed
        self._chunk_ended_a_message = False  # so a head that begins in it begins mid-read
        self._head_bytes: int | None = None  # of the head being read, at least
        self._head_too_large = False
        self._head_timer: TimerHandle | None = None

    # The ignore: uvicorn's own override narrows BaseTransport to Transport; ours is uvicorn's.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._admitted = self._gate.admit()
        if not self._admitted:
            self.app = refuse_connection
        self._time_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self._admitted = False
            self._gate.release()
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, plus: the reads that arrive while a head is incomplete are counted
        # (httptools holds a head whole before uvicorn sees it), and a head over the limit
        # is refused, incomplete here or complete in on_headers_complete.
        self._unset_keepalive_if_required()
        self._chunk = len(data)
        self._chunk_ended_a_message = False
        if self._head_bytes is not None:
            self._head_bytes += self._chunk
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._head_too_large:
                self._refuse_head()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # ws="none": no upgrades
            return
        if self._head_bytes is not None and self._head_bytes > self._limits.max_header_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A head that begins a read holds all of it so far; one that follows another
        # message in the same read, an unknown part (counted from the next read on).
        self._head_bytes = 0 if self._chunk_ended_a_message else self._chunk
        self._time_head()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        seen, self._head_bytes = self._head_bytes or 0, None
        # Measured only when it may be over the limit: what was read for it is.
        limit = self._limits.max_header_bytes
        if max(seen, self._chunk) > limit and self._head_size() > limit:
            self._head_too_large = True
            raise HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._chunk_ended_a_message = True

    def _head_size(self) -> int:
        """The bytes of the request line and headers just parsed (their separators too)."""
        size = len(self.url) + 16  # the method, version and separators, about
        for name, value in self.headers:
            size += len(name) + len(value) + 4
        return size

    def _refuse_head(self) -> None:
        self._stop_head_timer()
        self._head_bytes = None
        if not self.transport.is_closing():
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()

    def _time_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self._limits.header_timeout, self._head_timed_out
            )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
