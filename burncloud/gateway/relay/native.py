"""A front-door request whose channel speaks the door's own format: relayed untouched.

An Anthropic-format request routed to an Anthropic channel (or a Gemini-format one to a
Gemini channel) needs no conversion. Its bytes go upstream as the client sent them, unless
the channel maps the model or the balance caps the answer, and the upstream's bytes come
back as they arrive. Answering natively is the provider's capability (``NativeProvider``):
it builds the upstream request and reads the answer for the usage to bill and the text to
estimate from; a stream's client bytes are the provider's too, the upstream's own or, when
the upstream wraps them (Claude on Bedrock), unwrapped (``native_stream``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from burncloud.errors import BurncloudError, UpstreamError
from burncloud.gateway.asgi import Receive, Send, send_bytes
from burncloud.gateway.egress.upstream import send_upstream
from burncloud.gateway.relay.converted import answer_texts, meter_usage
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.relay.pump import pump_stream
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.base import NativeProvider, NativeStream

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """What a front door hands the relay besides the routing view of its request."""

    speaks: Callable[[str, str], bool]  # (channel type, upstream model): takes it untouched?
    raw: bytes
    body: JSON
    stream: bool
    client_headers: Mapping[str, str]
    send: Send  # the client's own send, past the door's converter
    stream_error: Callable[[str], bytes]  # an in-band error event in the door's format
    convert: Callable[[], InboundRequest]  # the OpenAI chat request, converted on first use

    def for_estimates(self, routing: InboundRequest) -> InboundRequest:
        """The request a tokenizer estimate reads: the OpenAI conversion when there is one,
        else the routing view (whose bytes still give the rough estimate)."""
        try:
            return self.convert()
        except BurncloudError:
            return routing


# A front door's parser: the client's body bytes -> (routing view, native request).
DoorParse = Callable[[bytes], tuple[InboundRequest, NativeRequest]]


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
    """Send the client's own request to ``upstream`` and its answer back as it came."""
    limit = request.cap_to_apply(max_tokens_cap)
    built = provider.native_request(
        upstream, native.raw, native.body, model, native.stream, limit, native.client_headers
    )
    response = await send_upstream(
        runtime.http, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        if native.stream:
            stream = provider.native_stream(request.model)
            try:
                await pump_stream(
                    response,
                    stream,
                    exchange,
                    receive,
                    native.send,
                    native.stream_error,
                    secret=upstream.key,
                )
            finally:
                _bill(runtime, request, native, exchange, stream)
        else:
            await _whole(runtime, provider, request, response, native, exchange)
    finally:
        response.release()


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
        answer = provider.native_answer(raw, request.model)
    except BurncloudError:  # passed on as it came; billed from an estimate
        meter_usage(runtime, native.for_estimates(request), exchange, None, [])
        return
    metered = request if answer.usage is not None else native.for_estimates(request)
    meter_usage(runtime, metered, exchange, answer.usage, answer_texts(answer.completion))


def _bill(
    runtime: Runtime,
    request: InboundRequest,
    native: NativeRequest,
    exchange: Exchange,
    stream: NativeStream,
) -> None:
    metered = request if stream.usage is not None else native.for_estimates(request)
    meter_usage(runtime, metered, exchange, stream.usage, stream.texts())
