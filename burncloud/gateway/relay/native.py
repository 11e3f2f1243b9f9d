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

from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import send_bytes
from burncloud.gateway.egress.transport import Answer
from burncloud.gateway.egress.upstream import send_upstream
from burncloud.gateway.relay.call import NativeRequest
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.relay.metering import Metered, answer_texts
from burncloud.gateway.relay.pump import pump_stream
from burncloud.providers.base import NativeProvider
from burncloud.providers.registry import kind_of


async def native(forward: Forward) -> None:
    """Send the client's own request to the channel and its answer back as it came."""
    request, upstream, door = forward.request, forward.upstream, forward.native
    assert door is not None
    provider = kind_of(upstream.type).native
    assert provider is not None  # chosen only for kinds that speak the door's format
    built = provider.native_request(
        upstream,
        door.raw,
        door.body,
        forward.model,
        door.stream,
        request.cap_to_apply(forward.cap),
        door.client_headers,
    )
    answer = await send_upstream(
        forward.deps.transport, upstream, built.url, built.headers, built.body, provider.error
    )
    try:
        if door.stream:
            await _stream(forward, provider, door, answer)
        else:
            await _whole(forward, provider, door, answer)
    finally:
        answer.release()


async def _stream(
    forward: Forward, provider: NativeProvider, door: NativeRequest, answer: Answer
) -> None:
    stream = provider.native_stream(forward.request.model)
    try:
        await pump_stream(
            answer,
            stream,
            forward.exchange,
            forward.call.receive,
            door.send,
            # A stream that numbers its events (Responses) makes its own error event.
            getattr(stream, "error_event", door.stream_error),
            secret=forward.upstream.key,
        )
    finally:
        prompt = _prompt(forward.request, door, stream.usage is None)
        forward.exchange.metered = Metered.of(
            prompt, stream.usage, stream.texts(), stream.text_chars
        )


async def _whole(
    forward: Forward, provider: NativeProvider, door: NativeRequest, answer: Answer
) -> None:
    request, exchange = forward.request, forward.exchange
    raw = await answer.read()
    exchange.responded = True
    await send_bytes(door.send, 200, raw, exchange.headers, answer.content_type.encode())
    try:
        result = provider.native_answer(raw, request.model)
    except BurncloudError:  # passed on as it came; billed from an estimate
        exchange.metered = Metered(_prompt(request, door, True))
        return
    prompt = _prompt(request, door, result.usage is None)
    exchange.metered = Metered.of(prompt, result.usage, answer_texts(result.completion))


def _prompt(request: InboundRequest, door: NativeRequest, estimated: bool) -> InboundRequest:
    """What an estimate reads the prompt from: the OpenAI conversion, needed (and made)
    only when the upstream reported no usage."""
    return door.for_estimates(request) if estimated else request
