"""Passthrough: an OpenAI-format request to a channel that takes OpenAI bodies as they are.

The client's bytes go up unless a change is due (``outbound``); a whole answer comes back
as it came, a stream chunk by chunk through ``OpenAIChunkStream`` (which finds the usage and
hides what burncloud asked for). Usage is the upstream's; without it, the generated text is
kept for an estimate. (The Responses API is a front door: ``native`` relays it.)
"""

from __future__ import annotations

import orjson

from burncloud.gateway.asgi import send_bytes
from burncloud.gateway.egress.transport import Answer
from burncloud.gateway.egress.upstream import open_upstream
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import RERANK
from burncloud.gateway.relay.metering import Metered, answer_texts, rerank_metered
from burncloud.gateway.relay.outbound import upstream_body
from burncloud.gateway.relay.pump import pump_stream
from burncloud.protocols.openai_chunks import error_event
from burncloud.providers.openai.request import wants_stream_usage
from burncloud.providers.openai.stream import OpenAIChunkStream
from burncloud.providers.openai.usage import token_usage
from burncloud.providers.registry import kind_of


async def passthrough(forward: Forward) -> None:
    """Send the request as it came (nearly) and pass the answer on."""
    request, upstream = forward.request, forward.upstream
    provider = kind_of(upstream.type).passthrough
    assert provider is not None  # chosen only for kinds that take OpenAI bodies
    fields = provider.prepare(request.data, forward.model, request.stream)
    stream_usage = wants_stream_usage(upstream.config)
    body = upstream_body(request, forward.model, forward.cap, fields, stream_usage)
    answer = await open_upstream(
        forward.deps.transport, upstream, request.endpoint.path, provider.headers(upstream), body
    )
    try:
        if request.stream:
            await _stream(forward, answer)
        else:
            await _whole(forward, answer)
    finally:
        answer.release()


async def _whole(forward: Forward, answer: Answer) -> None:
    exchange = forward.exchange
    raw = await answer.read()
    exchange.ttft_ms = exchange.elapsed_ms()
    exchange.metered = _metered_whole(forward, raw)
    exchange.responded = True
    content_type = answer.content_type.encode()
    await send_bytes(forward.call.send, 200, raw, exchange.headers, content_type)


def _metered_whole(forward: Forward, raw: bytes) -> Metered:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if forward.request.endpoint is RERANK:
        return rerank_metered(forward.request, data)
    usage = token_usage(data.get("usage")) if isinstance(data, dict) else None
    return Metered.of(forward.request, usage, [] if usage else answer_texts(data))


async def _stream(forward: Forward, answer: Answer) -> None:
    request, exchange = forward.request, forward.exchange
    meter = OpenAIChunkStream(include_usage=request.client_wants_usage)
    try:
        await pump_stream(
            answer,
            meter,
            exchange,
            forward.call.receive,
            forward.call.send,
            error_event,
            secret=forward.upstream.key,
        )
    finally:
        usage = meter.usage
        texts = meter.texts() if usage is None else []
        exchange.metered = Metered.of(request, usage, texts, meter.text_chars if texts else 0)
