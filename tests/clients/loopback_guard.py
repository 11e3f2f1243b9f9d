"""Refuse, inside this process, every name lookup and connection beyond loopback, and note it.

An in-process client under test (the OpenAI Agents SDK, whose tracing would post to
api.openai.com from a thread of its own) runs inside ``loopback_only``: ``getaddrinfo`` or
``connect`` for any host but loopback raises at once, before a packet leaves, and is noted in
``LoopbackGuard.refused`` so the test can say what was tried. pytest's ``monkeypatch`` undoes
it when the test ends.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(slots=True)
class LoopbackGuard:
    """Every refused lookup or connection, as ``"getaddrinfo HOST"`` or ``"connect HOST:PORT"``."""

    refused: list[str] = field(default_factory=list)


def is_loopback(host: Any) -> bool:
    """Whether ``host`` (a name, an address text or bytes) names this machine."""
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> LoopbackGuard:
    """Patch ``socket`` so the rest of the test reaches loopback only; the guard's record."""
    guard = LoopbackGuard()
    lookup, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            guard.refused.append(f"getaddrinfo {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"loopback only in this test: {host}")
        return lookup(host, port, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not is_loopback(address[0]):
            guard.refused.append(f"connect {address[0]}:{address[1]}")
            raise ConnectionRefusedError(f"loopback only in this test: {address[0]}")
        connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    return guard
