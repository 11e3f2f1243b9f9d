"""The loopback guard refuses lookups and connections beyond loopback, sync and async, before
anything leaves the machine, notes them, and lets loopback through."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.clients.loopback_guard import is_loopback, loopback_only

ELSEWHERE = "192.0.2.1"  # TEST-NET-1: never routed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        (b"localhost", True),
        ("api.openai.com", False),
        (ELSEWHERE, False),
        ("", False),
    ],
)
def test_only_this_machine_is_loopback(host: str | bytes, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_name_beyond_loopback_is_refused_before_any_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = loopback_only(monkeypatch)
    with pytest.raises(socket.gaierror):
        socket.create_connection(("api.openai.com", 443), timeout=1)
    with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
        sock.connect((ELSEWHERE, 443))
    assert guard.refused == ["getaddrinfo api.openai.com", f"connect {ELSEWHERE}:443"]


async def test_async_connections_are_guarded_and_loopback_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = loopback_only(monkeypatch)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, writer = await asyncio.open_connection("localhost", port)
        writer.close()
        await writer.wait_closed()
        with pytest.raises(OSError):
            await asyncio.open_connection("api.openai.com", 443)
        with pytest.raises(OSError):
            await asyncio.open_connection(ELSEWHERE, 443)
    # asyncio resolves a numeric address itself: the connect is what the guard refuses.
    assert guard.refused == ["getaddrinfo api.openai.com", f"connect {ELSEWHERE}:443"]
