"""HTTP/1.1 over a bare socket, for requests no client library will send: malformed Host
headers, a huge declared Content-Length with no body, a chunked body that never ends."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson

from burncloud.gateway.asgi import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


def port_of(base_url: str) -> int:
    return int(base_url.split(":")[2].split("/")[0])


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """One response with a Content-Length (or none, read to EOF), from ``reader``."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get(b"content-length")
    body = await (reader.readexactly(int(length)) if length is not None else reader.read())
    return RawResponse(int(status_line.split()[1]), headers, body)


async def exchange(port: int, request: bytes) -> RawResponse:
    """Send ``request`` as it is and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await read_response(reader)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class BodyCounter:
    """ASGI middleware (for ``running_router(wrap=...)``) counting the request body bytes
    the app actually received."""

    def __init__(self) -> None:
        self.received = 0
        self.app: ASGIApp | None = None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        self.app = app
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        assert self.app is not None
        await self.app(scope, counting if scope["type"] == "http" else receive, send)
