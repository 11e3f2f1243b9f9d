"""The router's listening socket: bound once, by the supervisor, before it says "listening".

Every worker serves on this one socket, inherited. A busy port is therefore reported before
anything starts, and the port stays open while a worker is replaced: connections wait in
the backlog for a worker that lives. No SO_REUSEPORT: with it a second router on the same
port would bind without an error and silently take half of the connections.
"""

from __future__ import annotations

import errno
import socket

from burncloud.errors import ConfigError

BACKLOG = 4096  # bursts of thousands of connects must queue, not be reset


def open_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``, inheritable by the workers.

    Raises ConfigError with a one-line reason (a busy port, a foreign address, a port the
    user may not bind)."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(_reason(host, port, exc)) from None
    sock.set_inheritable(True)
    return sock


def _reason(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use"
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port} on {host}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
