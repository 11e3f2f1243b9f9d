"""Media: an image or audio request, at any channel kind that serves it (``media_target``).

The body goes up as the client sent it, unless the channel's model map names another
model: then only the ``model`` field changes (spliced into an upload, ``Form.with_text``).
The answer comes back as it arrives: speech audio chunk by chunk, never whole in memory; an
SSE answer (streamed images, speech as SSE, transcript events) through the pump, read on
the way by its endpoint's meter; a whole answer (JSON, or a transcript as text, SRT, VTT)
as it came, read once for metering. The meters are ``providers.openai``'s pure functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from burncloud.gateway.asgi import ClientDisconnected, Send, send_bytes
from burncloud.gateway.egress.transport import Answer, BrokeOff
from burncloud.gateway.egress.upstream import send_upstream
from burncloud.gateway.relay.disconnect import unless_disconnected
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import InboundRequest, MediaBody
from burncloud.gateway.relay.media_request import SPEECH
from burncloud.gateway.relay.metering import Metered
from burncloud.gateway.relay.pump import CUT_BY_SHUTDOWN, pump_stream
from burncloud.protocols.openai_chunks import error_event
from burncloud.providers.openai.audio_usage import (
    SpeechEventMeter,
    TranscriptEventMeter,
    speech_metering,
    transcription_metering,
)
from burncloud.providers.openai.image_events import ImageEventMeter
from burncloud.providers.openai.media_usage import MediaUse, image_metering, requested_images
from burncloud.providers.registry import kind_of

IMAGES = frozenset({"images", "image_variations"})  # the endpoint names that answer images
BROKE_OFF = "the upstream stream broke off"


class EventMeter(Protocol):
    """A media meter of an SSE answer: fed the bytes as they pass."""

    @property
    def done(self) -> bool: ...

    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> None: ...


async def media(forward: Forward) -> None:
    """Send the request as it came (its model renamed when mapped); relay the answer."""
    request, upstream = forward.request, forward.upstream
    kind = kind_of(upstream.type)
    assert kind.media is not None and request.media is not None  # planned only for these
    operation = request.endpoint.path.removeprefix("/")
    target = kind.media.media_target(upstream, operation, forward.model)
    body, content_type = _outgoing(request, request.media, target.model)
    headers = {**target.headers, "Content-Type": content_type}
    answer = await send_upstream(
        forward.deps.transport, upstream, target.url, headers, body, kind.provider.error
    )
    try:
        if answer.content_type.startswith("text/event-stream"):
            await _events(forward, answer)
        elif request.endpoint is SPEECH:
            await _audio(forward, answer)
        else:
            await _whole(forward, answer)
    finally:
        answer.release()


def _outgoing(request: InboundRequest, media: MediaBody, model: str | None) -> tuple[bytes, str]:
    """The body and its Content-Type for an upstream that must see ``model`` (None: any)."""
    sent = request.data.get("model") or request.endpoint.default_model
    form = media.form
    if model is None or model == sent:
        body = request.body
    elif form is not None:
        body = form.with_text("model", model)
    else:
        body = orjson.dumps({**request.data, "model": model})
    return body, "application/json" if form is None else form.content_type


async def _whole(forward: Forward, answer: Answer) -> None:
    exchange = forward.exchange
    raw = await answer.read()
    exchange.ttft_ms = exchange.elapsed_ms()
    exchange.metered = _metered(forward.request, _whole_use(forward, raw, answer))
    exchange.responded = True
    content_type = answer.content_type.encode()
    await send_bytes(forward.call.send, 200, raw, exchange.headers, content_type)


def _whole_use(forward: Forward, raw: bytes, answer: Answer) -> MediaUse:
    """What a whole answer bills: its images, or its transcript's tokens or minutes."""
    request, fields = forward.request, _as_sent(forward)
    if request.endpoint.listed_as in IMAGES:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        return image_metering(fields, data)
    media = request.media
    assert media is not None
    return transcription_metering(
        fields, raw, answer.content_type, media.seconds, _upload_bytes(media)
    )


def _as_sent(forward: Forward) -> dict[str, Any]:
    """The request's fields naming the model the upstream served (whose defaults, such as
    DALL-E's "standard" quality, the bill reads), not the client's public name."""
    return {**forward.request.data, "model": forward.model}


async def _audio(forward: Forward, answer: Answer) -> None:
    """Relay a speech answer's audio as it arrives; it bills the characters spoken."""
    exchange, call = forward.exchange, forward.call
    exchange.responded = True
    content_type = answer.content_type.encode()
    head = [(b"content-type", content_type), *exchange.headers]
    await call.send({"type": "http.response.start", "status": 200, "headers": head})
    ending = asyncio.Event()  # the last write has begun: a disconnect now is its end
    try:
        relay = _relay_audio(answer, exchange, call.send, ending)
        await unless_disconnected(relay, call.receive, ending.is_set)
    except ClientDisconnected:
        exchange.status, exchange.error = 499, "client disconnected"
    except asyncio.CancelledError:  # a shutdown's drain deadline: the audio stays unended
        if not ending.is_set():
            exchange.status, exchange.error = 503, CUT_BY_SHUTDOWN
        raise
    except Exception as failure:  # as the pump records it: the client sees the body cut
        exchange.status, exchange.error = 500, f"relay failed: {type(failure).__name__}"
    finally:
        exchange.metered = _metered(forward.request, speech_metering(forward.request.data))


async def _relay_audio(
    answer: Answer, exchange: Exchange, send: Send, ending: asyncio.Event
) -> None:
    """Each chunk as it comes; a break leaves the body unended, so that the client sees
    the audio cut off rather than a shorter file."""
    try:
        async for chunk in answer.chunks():
            if exchange.ttft_ms is None:
                exchange.ttft_ms = exchange.elapsed_ms()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except BrokeOff:
        exchange.status, exchange.error = 502, BROKE_OFF
        return
    ending.set()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _events(forward: Forward, answer: Answer) -> None:
    """Relay an SSE answer as it came, its meter reading it on the way."""
    request, exchange = forward.request, forward.exchange
    meter, bill = _event_meter(request, _as_sent(forward))
    try:
        await pump_stream(
            answer,
            _Passing(meter),
            exchange,
            forward.call.receive,
            forward.call.send,
            error_event,
            secret=forward.upstream.key,
        )
    finally:
        exchange.metered = _metered(request, bill())


def _event_meter(
    request: InboundRequest, fields: dict[str, Any]
) -> tuple[EventMeter, Callable[[], MediaUse]]:
    """The meter of the endpoint's events, and how to read its bill once they are over."""
    media = request.media
    assert media is not None
    if request.endpoint.listed_as in IMAGES:
        images = ImageEventMeter(requested_images(fields))
        return images, lambda: images.metering(fields)
    if request.endpoint is SPEECH:
        speech = SpeechEventMeter()
        return speech, lambda: speech.metering(fields)
    transcript = TranscriptEventMeter()
    return transcript, lambda: transcript.metering(media.seconds, _upload_bytes(media))


class _Passing:
    """The pump's transcoder for an SSE media answer: the bytes as they came, metered."""

    __slots__ = ("_meter",)

    def __init__(self, meter: EventMeter) -> None:
        self._meter = meter

    @property
    def finished(self) -> bool:
        return self._meter.done

    def feed(self, chunk: bytes) -> bytes:
        self._meter.feed(chunk)
        return chunk

    def finish(self) -> bytes:
        self._meter.finish()
        return b""


def _upload_bytes(media: MediaBody) -> int:
    """The size of the uploaded audio file (for an estimate when nothing else tells)."""
    audio = media.form.file("file") if media.form is not None else None
    return len(audio.data) if audio is not None else 0


def _metered(request: InboundRequest, use: MediaUse) -> Metered:
    return Metered(request, use.tokens, units=use.units, estimated=use.estimated)
