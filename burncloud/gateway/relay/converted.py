"""Converted: an OpenAI-format request to a channel that speaks another format, through its
provider module (Anthropic, Gemini, Azure, Bedrock's Converse).

The provider builds the upstream request and converts the answer (whole, or stream bytes as
they arrive) back to OpenAI format; this module only sends, pumps and meters. A provider
that cannot take image URLs gets them fetched (SSRF-safe) as data URLs first.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import send_bytes
from burncloud.gateway.egress.inline_images import has_remote_images, inline_remote_images
from burncloud.gateway.egress.transport import Answer
from burncloud.gateway.egress.upstream import public_error, send_upstream
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.relay.metering import Metered, answer_texts
from burncloud.gateway.relay.pump import pump_stream
from burncloud.providers.base import ChatProvider
from burncloud.providers.registry import kind_of


async def converted_chat(forward: Forward) -> None:
    """Send a chat request in the channel's format; answer the client in OpenAI's."""
    request, upstream = forward.request, forward.upstream
    kind = kind_of(upstream.type)
    provider = kind.provider
    data = _capped(request, forward.cap)
    if kind.needs_image_bytes and has_remote_images(data):
        data = await inline_remote_images(data, forward.deps.fetcher)
    built = provider.chat_request(upstream, data, forward.model, request.stream)
    answer = await send_upstream(
        forward.deps.transport, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        if request.stream:
            await _stream(forward, provider, answer)
        else:
            await _whole(forward, provider, answer)
    finally:
        answer.release()


async def converted_embeddings(forward: Forward) -> None:
    """Send an OpenAI embeddings request in the channel's format."""
    request, upstream = forward.request, forward.upstream
    provider = kind_of(upstream.type).embeddings
    assert provider is not None  # the plan sends embeddings only to kinds that serve them
    built = provider.embeddings_request(upstream, request.data, forward.model)
    answer = await send_upstream(
        forward.deps.transport, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        raw = await answer.read()
    finally:
        answer.release()
    result = provider.embeddings_answer(raw, request.model, request.data)
    forward.exchange.metered = Metered.of(request, result.usage, [])
    forward.exchange.responded = True
    await send_bytes(forward.call.send, 200, orjson.dumps(result.result), forward.exchange.headers)


async def _whole(forward: Forward, provider: ChatProvider, answer: Answer) -> None:
    request, exchange = forward.request, forward.exchange
    raw = await answer.read()
    try:
        result = provider.chat_answer(raw, request.model)
    except BurncloudError as error:  # an error body with a 200: it may quote the key
        public_error(error, forward.upstream.key)
        raise
    exchange.metered = Metered.of(request, result.usage, answer_texts(result.completion))
    exchange.responded = True
    await send_bytes(forward.call.send, 200, orjson.dumps(result.completion), exchange.headers)


async def _stream(forward: Forward, provider: ChatProvider, answer: Answer) -> None:
    request, exchange = forward.request, forward.exchange
    stream = provider.chat_stream(request.model, request.client_wants_usage)
    try:
        await pump_stream(
            answer,
            stream,
            exchange,
            forward.call.receive,
            forward.call.send,
            secret=forward.upstream.key,
        )
    finally:
        exchange.metered = Metered.of(request, stream.usage, stream.texts(), stream.text_chars)


def _capped(request: InboundRequest, cap: int | None) -> dict[str, Any]:
    cap = request.cap_to_apply(cap)
    if cap is None:
        return request.data
    data = dict(request.data)
    data.pop("max_completion_tokens", None)
    data["max_tokens"] = cap
    return data
