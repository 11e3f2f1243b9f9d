"""A front-door request whose channel speaks the door's own format: relayed untouched.

An Anthropic-format request routed to an Anthropic channel (or a Gemini-format one to a
Gemini channel) needs no conversion. Its bytes go upstream as the client sent them, unless
the channel maps the model or the balance caps the answer, and the upstream's bytes come
back as they arrive. The provider's own transcoder still reads them, output discarded, for
the usage to bill and the text to estimate from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from burncloud.errors import BurncloudError, UpstreamError
from burncloud.gateway.asgi import Receive, Send, send_bytes
from burncloud.gateway.converted import answer_texts, meter_usage
from burncloud.gateway.exchange import Exchange
from burncloud.gateway.inbound import InboundRequest
from burncloud.gateway.pump import pump_stream
from burncloud.gateway.snapshot import Upstream
from burncloud.gateway.upstream import send_upstream
from burncloud.protocols.openai_chunks import ERROR_MARK, in_band_failure
from burncloud.providers.base import ChannelAccess, ChatProvider, ChatStream, UpstreamRequest

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

JSON = dict[str, Any]


class NativeProvider(ChatProvider, Protocol):
    """A provider that can also send a request already in its own format."""

    def native_request(
        self,
        channel: ChannelAccess,
        raw: bytes,
        body: JSON,
        model: str,
        stream: bool,
        max_tokens: int | None,
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        """The upstream request for ``body`` (whose bytes are ``raw``) sent as ``model``,
        with the answer limited to ``max_tokens`` when given; the bytes are reused as they
        are when neither changes anything."""
        ...


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """What a front door hands the relay besides the converted OpenAI request."""

    channel_type: str  # the channel type that speaks this door's format
    raw: bytes
    body: JSON
    stream: bool
    client_headers: Mapping[str, str]
    send: Send  # the client's own send, past the door's converter
    stream_error: Callable[[str], bytes]  # an in-band error event in the door's format


async def relay_native(
    runtime: Runtime,
    provider: NativeProvider,
    upstream: Upstream,
    request: InboundRequest,
    native: NativeRequest,
    model: str,
    max_tokens_cap: int | None,
    exchange: Exchange,
    receive: Receive,
) -> None:
    """Send the client's own request to ``upstream`` and its answer back untouched."""
    limit = request.cap_to_apply(max_tokens_cap)
    built = provider.native_request(
        upstream, native.raw, native.body, model, native.stream, limit, native.client_headers
    )
    response = await send_upstream(
        runtime.http, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        if native.stream:
            meter = NativeStreamMeter(provider.chat_stream(request.model, False))
            try:
                await pump_stream(
                    response, meter, exchange, receive, native.send, native.stream_error
                )
            finally:
                _bill(runtime, request, exchange, meter.stream)
        else:
            await _whole(runtime, provider, request, response, native, exchange)
    finally:
        response.release()


class NativeStreamMeter:
    """Passes stream bytes on unchanged while the provider's transcoder reads them; an
    error event it converts is the request's ``failure`` (the client got the original)."""

    __slots__ = ("failure", "stream")

    def __init__(self, stream: ChatStream) -> None:
        self.stream = stream
        self.failure: tuple[int, str] | None = None

    def feed(self, chunk: bytes) -> bytes:
        self._watch(self.stream.feed(chunk))
        return chunk

    def finish(self) -> bytes:
        self._watch(self.stream.finish())
        return b""

    def _watch(self, converted: bytes) -> None:
        if self.failure is None and ERROR_MARK in converted:
            self.failure = in_band_failure(converted)


async def _whole(
    runtime: Runtime,
    provider: NativeProvider,
    request: InboundRequest,
    response: aiohttp.ClientResponse,
    native: NativeRequest,
    exchange: Exchange,
) -> None:
    try:
        raw = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamError("the upstream connection failed while answering") from exc
    content_type = response.headers.get("Content-Type", "application/json").encode()
    exchange.responded = True
    await send_bytes(native.send, 200, raw, exchange.headers, content_type)
    try:
        answer = provider.chat_answer(raw, request.model)
    except BurncloudError:  # passed on as it came; billed from an estimate
        meter_usage(runtime, request, exchange, None, [])
        return
    meter_usage(runtime, request, exchange, answer.usage, answer_texts(answer.completion))


def _bill(
    runtime: Runtime, request: InboundRequest, exchange: Exchange, stream: ChatStream
) -> None:
    meter_usage(runtime, request, exchange, stream.usage, stream.texts())
