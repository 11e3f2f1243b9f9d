"""What one client connection may hold of a router worker: the same on every server.

- A request line and headers: at most ``max_header_bytes`` (64 KiB); a longer head is
  answered 431 and the connection closed, before the worker buffers it.
- A head's time: from the moment a connection opens, or the first byte of its next request
  arrives, the head must be complete within ``header_timeout`` seconds, else the
  connection is closed (a client that never finishes its headers holds nothing for long).
- Between requests an idle connection is kept ``keep_alive`` seconds (75: longer than the
  60 s idle timeout of common load balancers, which must close first).
- Open connections per worker: at most ``max_connections``; a connection beyond it is
  answered 503 ``service_unavailable`` in our error shape and closed, where it would
  otherwise make the worker run out of file descriptors and fail requests at random.

``on_hypercorn`` and ``on_uvicorn`` apply these to their server. The supervisor raises the
process's open-file limit to what the system allows and lowers the connection cap to what
that limit can hold (``fit_open_files``), once, before the workers start.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass, replace

from burncloud.config import DEFAULT_MAX_CONNECTIONS, Settings
from burncloud.errors import ServiceUnavailable
from burncloud.gateway.asgi import Receive, Scope, Send, send_error

log = logging.getLogger("burncloud.serving")

FILES_PER_CONNECTION = 2  # the client's socket and, while relaying, the upstream's
RESERVED_FILES = 256  # the listening socket, database, logs, Redis, metrics files, ...
CONNECTION_LIMIT_MESSAGE = "the router is at its connection limit; retry shortly"


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The per-connection limits every server applies."""

    max_connections: int
    max_header_bytes: int
    header_timeout: float
    keep_alive: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_connections=settings.max_connections,
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout,
            keep_alive=settings.keep_alive,
        )


def fit_open_files(limits: ServerLimits) -> ServerLimits:
    """``limits`` with a connection cap this process's children can hold open: the soft
    open-file limit is raised to the hard one first (the workers inherit it)."""
    files = raise_open_files_limit()
    cap = connections_within(files, limits.max_connections)
    if cap < limits.max_connections:
        # The default adapts to the system; a cap that was asked for is worth a warning.
        asked = limits.max_connections != DEFAULT_MAX_CONNECTIONS
        log.log(
            logging.WARNING if asked else logging.INFO,
            "BURNCLOUD_MAX_CONNECTIONS %d needs %d open files per worker, the system allows "
            "%d: each worker takes at most %d connections",
            limits.max_connections,
            files_needed(limits.max_connections),
            files,
            cap,
        )
    return replace(limits, max_connections=cap)


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError):  # some systems cap it below the hard limit
            pass
    return soft


def files_needed(connections: int) -> int:
    """Open files a worker needs to serve ``connections`` at once."""
    return RESERVED_FILES + FILES_PER_CONNECTION * connections


def connections_within(files: int, wanted: int) -> int:
    """The connection cap, at most ``wanted``, that ``files`` open files can hold."""
    return max(1, min(wanted, (files - RESERVED_FILES) // FILES_PER_CONNECTION))


class ConnectionGate:
    """One worker's open connections, counted against its cap."""

    __slots__ = ("cap", "open")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open = 0

    def admit(self) -> bool:
        """Count a new connection in; False (not counted) when the cap is reached."""
        if self.open >= self.cap:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.open -= 1


async def refuse_connection(scope: Scope, receive: Receive, send: Send) -> None:
    """The app a connection beyond the cap is served: 503, then the connection closes."""
    if scope["type"] != "http":
        return
    error = ServiceUnavailable(
        CONNECTION_LIMIT_MESSAGE, headers={"Retry-After": "1", "Connection": "close"}
    )
    await send_error(send, error, [])
