"""Relaying OpenAI chat and embeddings to a channel that speaks another format, through its
provider module.

The provider builds the upstream request and converts the answer (whole, or stream bytes as
they arrive) back to OpenAI format; this module only sends, pumps and meters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import orjson

from burncloud.errors import BurncloudError, UpstreamError
from burncloud.gateway.asgi import Receive, Send, send_bytes
from burncloud.gateway.egress.inline_images import has_remote_images, inline_remote_images
from burncloud.gateway.egress.upstream import public_error, send_upstream
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.relay.metering import estimate_texts, rough_usage
from burncloud.gateway.relay.pump import pump_stream
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.base import ChatProvider, EmbeddingsProvider, TokenUsage
from burncloud.services.pricing import Usage

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


async def relay_converted(
    runtime: Runtime,
    provider: ChatProvider,
    upstream: Upstream,
    request: InboundRequest,
    model: str,
    max_tokens_cap: int | None,
    exchange: Exchange,
    receive: Receive,
    send: Send,
) -> None:
    """Send ``request`` to ``upstream`` in its own format and answer the client in OpenAI's.

    A provider that cannot take image URLs gets them fetched (SSRF-safe) as data URLs."""
    data = _capped(request, max_tokens_cap)
    if getattr(provider, "needs_image_bytes", False) and has_remote_images(data):
        data = await inline_remote_images(data, runtime.fetcher)
    built = provider.chat_request(upstream, data, model, request.stream)
    response = await send_upstream(
        runtime.http, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        if request.stream:
            await _stream(
                runtime, provider, request, response, exchange, receive, send, upstream.key
            )
        else:
            await _whole(runtime, provider, request, response, exchange, send, upstream.key)
    finally:
        response.release()


async def relay_converted_embeddings(
    runtime: Runtime,
    provider: EmbeddingsProvider,
    upstream: Upstream,
    request: InboundRequest,
    model: str,
    exchange: Exchange,
    send: Send,
) -> None:
    """Send an OpenAI embeddings ``request`` to ``upstream`` in its own format."""
    built = provider.embeddings_request(upstream, request.data, model)
    response = await send_upstream(
        runtime.http, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        raw = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamError("the upstream connection failed while answering") from exc
    finally:
        response.release()
    answer = provider.embeddings_answer(raw, request.model, request.data)
    meter_usage(runtime, request, exchange, answer.usage, [])
    exchange.responded = True
    await send_bytes(send, 200, orjson.dumps(answer.result), exchange.headers)


async def _whole(
    runtime: Runtime,
    provider: ChatProvider,
    request: InboundRequest,
    response: aiohttp.ClientResponse,
    exchange: Exchange,
    send: Send,
    secret: str,
) -> None:
    try:
        raw = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamError("the upstream connection failed while answering") from exc
    try:
        answer = provider.chat_answer(raw, request.model)
    except BurncloudError as error:  # an error body with a 200: it may quote the key
        public_error(error, secret)
        raise
    meter_usage(runtime, request, exchange, answer.usage, answer_texts(answer.completion))
    exchange.responded = True
    await send_bytes(send, 200, orjson.dumps(answer.completion), exchange.headers)


async def _stream(
    runtime: Runtime,
    provider: ChatProvider,
    request: InboundRequest,
    response: aiohttp.ClientResponse,
    exchange: Exchange,
    receive: Receive,
    send: Send,
    secret: str,
) -> None:
    stream = provider.chat_stream(request.model, request.client_wants_usage)
    try:
        await pump_stream(response, stream, exchange, receive, send, secret=secret)
    finally:
        meter_usage(runtime, request, exchange, stream.usage, stream.texts())


def meter_usage(
    runtime: Runtime,
    request: InboundRequest,
    exchange: Exchange,
    usage: TokenUsage | None,
    texts: list[str],
) -> None:
    """Put the upstream's usage on ``exchange``, or a rough estimate (marked, refined later
    by the tokenizer from the request and the generated ``texts``)."""
    if usage is not None:
        exchange.usage = Usage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        return
    exchange.usage = rough_usage(request, sum(len(text) for text in texts))
    exchange.estimated = True
    estimator = runtime.estimator
    exchange.refine = lambda: estimate_texts(estimator, request, texts)


def _capped(request: InboundRequest, cap: int | None) -> dict:
    cap = request.cap_to_apply(cap)
    if cap is None:
        return request.data
    data = dict(request.data)
    data.pop("max_completion_tokens", None)
    data["max_tokens"] = cap
    return data


def answer_texts(completion: dict) -> list[str]:
    """The generated texts of an OpenAI completion, for estimates."""
    texts: list[str] = []
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        for key in ("content", "reasoning_content"):
            if isinstance(message.get(key), str):
                texts.append(message[key])
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            texts += [function.get("name") or "", function.get("arguments") or ""]
    return texts
