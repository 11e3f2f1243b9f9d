"""A forward proxy on 127.0.0.1 that refuses every request and notes where it was going.

A client under test gets it as ``HTTPS_PROXY``/``HTTP_PROXY`` (with ``NO_PROXY`` for
loopback), so anything it tries to reach beyond the router fails at once with 403 instead
of hanging on a network that is not there, and the test can say what it tried.
"""

from __future__ import annotations

import asyncio


class EgressTrap:
    """``async with EgressTrap() as trap``: ``trap.url``; ``trap.targets`` holds each
    refused request line's method and target, such as ``CONNECT host:443``."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> EgressTrap:
        self._server = await asyncio.start_server(self._refuse, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
            self.targets.append(f"{method} {target}")
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # not an HTTP request: closing the connection is the refusal
        finally:
            writer.close()
