"""A loopback image server for the fetcher tests: redirects, lies, slow and huge bodies."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import struct
import zlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from burncloud.gateway.egress.fetcher import IPAddress

MiB = 1024 * 1024


def tiny_png() -> bytes:
    """A valid 1x1 grayscale PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()


def only(*addresses: str) -> Callable[[IPAddress], bool]:
    """A policy allowing exactly ``addresses``."""
    allowed = {ipaddress.ip_address(a) for a in addresses}
    return lambda ip: ip in allowed


class ImageServer:
    """An aiohttp app on ``host``:free port that serves images, lies, redirects and stalls."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.seen: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.sent = 0
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    async def __aenter__(self) -> ImageServer:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/cat.png", self._png)
        app.router.add_get("/png-as-jpeg", self._png_as_jpeg)
        app.router.add_get("/page.html", self._html)
        app.router.add_get("/lying.png", self._lying)
        app.router.add_get("/redirect/{n}", self._redirect_chain)
        app.router.add_get("/to", self._redirect_to)
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/declared-huge", self._declared_huge)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/cookie", self._set_cookie)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.port = port
        self.base_url = f"http://{self.host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.seen.append(request.path)
        self.headers.append(dict(request.headers))
        return await handler(request)

    async def _png(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def _png_as_jpeg(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/jpeg")

    async def _html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>hi</html>", content_type="text/html")

    async def _lying(self, request: web.Request) -> web.Response:
        return web.Response(body=b"<html>not a picture</html>", content_type="image/png")

    async def _redirect_chain(self, request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        raise web.HTTPFound("/cat.png" if left == 0 else f"/redirect/{left - 1}")

    async def _redirect_to(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["target"])

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """30 MiB of "PNG", written lazily in 64 KiB pieces as the client reads."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        await self._write_lazily(response, PNG + bytes(30 * MiB - len(PNG)))
        return response

    async def _declared_huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.content_length = 30 * MiB
        await response.prepare(request)
        await self._write_lazily(response, PNG + bytes(30 * MiB - len(PNG)))
        return response

    async def _write_lazily(self, response: web.StreamResponse, body: bytes) -> None:
        piece = 64 * 1024
        for start in range(0, len(body), piece):
            self.sent += len(body[start : start + piece])
            await response.write(body[start : start + piece])
        await response.write_eof()

    async def _slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(body=PNG, content_type="image/png")

    async def _set_cookie(self, request: web.Request) -> web.Response:
        response = web.Response(body=PNG, content_type="image/png")
        response.set_cookie("session", "tenant-a")
        return response
