"""A recording reverse proxy on 127.0.0.1: what a real client sends, answered by an upstream.

A client under test (Claude Code) is pointed at the proxy; every request is recorded (method,
path, query, headers with secrets redacted, body) and forwarded unchanged to the upstream,
whose answer, status and stream are passed back as they come. In front of the strict fake
Anthropic upstream it answers as the real API would, so the recording shows every turn of a
real session, not only the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})
# Hop-by-hop headers, and the ones aiohttp sets again for the forwarded request.
_NOT_FORWARDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}
)
_NOT_RETURNED = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One request as the client sent it (secrets redacted) and the status it got back."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int

    def as_fixture(self) -> dict[str, Any]:
        """The call as a JSON-ready mapping, headers sorted by lowercase name."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(sorted(self.headers.items())),
            "body": self.body,
            "status": self.status,
        }


def redact_headers(headers: Any) -> dict[str, str]:
    """Lowercased headers with every credential replaced, keeping a Bearer scheme visible."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        if name in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}" if scheme else REDACTED
        redacted[name] = value
    return redacted


def parse_body(raw: bytes) -> Any:
    """The body as JSON when it is JSON, else as text; None when empty."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


class RecordingProxy:
    """``async with RecordingProxy(upstream_url) as proxy``: ``proxy.base_url``, ``proxy.calls``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.calls: list[RecordedCall] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RecordingProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        raw = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            headers=headers,
            data=raw,
            allow_redirects=False,
        ) as answer:
            self.calls.append(
                RecordedCall(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers=redact_headers(request.headers),
                    body=parse_body(raw),
                    status=answer.status,
                )
            )
            return await _relay(request, answer)


async def _relay(request: web.Request, answer: aiohttp.ClientResponse) -> web.StreamResponse:
    """Pass the upstream's status, headers and body back chunk by chunk, as they arrive."""
    response = web.StreamResponse(status=answer.status)
    for name, value in answer.headers.items():
        if name.lower() not in _NOT_RETURNED:
            response.headers.add(name, value)
    await response.prepare(request)
    async for chunk in answer.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response
