"""The one client that sends the relay's requests upstream, behind a small protocol.

``Transport.post`` sends one POST and returns its ``Answer`` once the head arrived
(``request``: another method, without a body); ``close`` ends the transport. The relay
sees only these types: aiohttp's errors and timeouts are translated here, once: a
connection that cannot be made is ``Unreachable``, a body that breaks off while it is read
is ``BrokeOff`` (a whole read says so as the client's ``UpstreamError``). Tests swap in an
in-process transport (``tests/fakes/transport.py``), as httpx's MockTransport does, so
each forwarding mode has fast tests without a socket.

aiohttp's pooled ClientSession is the relay's upstream client (one per worker, owned by the
runtime): its per-request cost is a fraction of httpx's pool (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp
from yarl import URL

from burncloud.errors import UpstreamError
from burncloud.gateway.egress.upload import request_body
from burncloud.gateway.egress.upstream_guard import UpstreamResolver
from burncloud.services.timeouts import Timeouts

READ_FAILED = "the upstream connection failed while answering"


class Unreachable(Exception):
    """No connection to the upstream could be made (refused, reset, DNS, a guarded address)."""


class BrokeOff(Exception):
    """The upstream's connection failed, or fell silent past its idle limit, mid-answer."""


class Answer(Protocol):
    """An upstream's answer, from its head on."""

    status: int

    def header(self, name: str) -> str | None: ...
    @property
    def content_type(self) -> str: ...
    async def read(self, limit: int = -1) -> bytes:
        """The body (at most ``limit`` bytes); UpstreamError when the connection fails."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; BrokeOff when the connection fails."""
        ...

    def release(self) -> None: ...


class Transport(Protocol):
    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> Answer:
        """Send ``body``; the answer once its head arrived. Unreachable, or TimeoutError when
        connecting takes longer than ``timeouts.connect``."""
        ...

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], timeouts: Timeouts
    ) -> Answer:
        """``post`` for a request of another ``method`` without a body (a stored Responses
        API response's GET or DELETE)."""
        ...

    async def close(self) -> None: ...


class AiohttpTransport:
    """The relay's transport: one pooled aiohttp session, with the address guard."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    @classmethod
    def open(cls, allow_private: bool) -> AiohttpTransport:
        """A transport whose connections refuse link-local and metadata addresses at connect
        time (DNS rebinding) unless ``allow_private``."""
        return cls(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=0, ttl_dns_cache=300, resolver=UpstreamResolver(allow_private)
                ),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300),
            )
        )

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> Answer:
        try:
            # encoded=True: the URL goes out exactly as built; aiohttp would otherwise
            # decode %3A in a Bedrock model id to ':' after SigV4 signed the encoded path.
            response = await self.session.post(
                URL(url, encoded=True),
                data=request_body(body),  # a large upload: in slices, not copied
                headers=dict(headers),
                timeout=_client_timeout(timeouts),
                allow_redirects=False,  # a redirect's target would skip the address guard
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            if isinstance(exc, TimeoutError):  # aiohttp's connect timeout is both
                raise
            raise Unreachable(str(exc)) from exc
        return _AiohttpAnswer(response)

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], timeouts: Timeouts
    ) -> Answer:
        try:
            response = await self.session.request(
                method,
                URL(url, encoded=True),
                headers=dict(headers),
                timeout=_client_timeout(timeouts),
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise Unreachable(str(exc)) from exc
        return _AiohttpAnswer(response)

    async def close(self) -> None:
        await self.session.close()


class _AiohttpAnswer:
    __slots__ = ("_response", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    @property
    def content_type(self) -> str:
        return self._response.headers.get("Content-Type", "application/json")

    async def read(self, limit: int = -1) -> bytes:
        try:
            return await self._response.content.read(limit)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(READ_FAILED) from exc

    def chunks(self) -> AsyncIterator[bytes]:
        return _Chunks(self._response.content)

    def release(self) -> None:
        self._response.release()


class _Chunks:
    """The body as it arrives, aiohttp's failures as ``BrokeOff``. An iterator class, not
    an async generator: this sits under every stream chunk of every request."""

    __slots__ = ("_content",)

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self._content = content

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._content.readany()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BrokeOff(str(exc)) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """Connect and idle limits for aiohttp (the first-byte limit wraps the whole call)."""
    cached = _CLIENT_TIMEOUTS.get(timeouts)
    if cached is None:
        cached = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.idle
        )
        _CLIENT_TIMEOUTS[timeouts] = cached
    return cached


_CLIENT_TIMEOUTS: dict[Timeouts, aiohttp.ClientTimeout] = {}
