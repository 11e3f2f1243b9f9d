"""Sending one upstream stream to the client as it arrives, through a transcoder.

The transcoder decides the client's bytes (OpenAI passthrough with usage hiding, or a
provider's conversion); the pump owns the timing: the 200 head only once the upstream
answered 200, chunk by chunk forwarding, the client's disconnect (which cancels the
upstream read), and an in-band error event when the upstream breaks off mid-stream, or
when the server cancels the stream (a shutdown's drain deadline): a client must never take
a cut-off answer for a whole one. Once a stream carries an error, the channel's key is
masked in what the client gets and in the log row's error (``stream_mask``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from burncloud.gateway.asgi import ClientDisconnected, Receive, Send
from burncloud.gateway.egress.transport import Answer, BrokeOff
from burncloud.gateway.egress.upstream import MESSAGE_LIMIT
from burncloud.gateway.relay.disconnect import unless_disconnected
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.stream_mask import StreamKeyMask
from burncloud.protocols.openai_chunks import ERROR_MARK, error_event, in_band_failure

CUT_BY_SHUTDOWN = "the router shut down before the answer was complete"
LAST_WORDS_SECONDS = 1.0  # a client not reading must not hold a shutdown up

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Transcoder(Protocol):
    """Turns stream bytes into the client's as they arrive (``feed``) and ends the stream
    (``finish``): an upstream's here, the relay's OpenAI output for a front door's dialect."""

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


class UpstreamTranscoder(Transcoder, Protocol):
    """What the pump relays an upstream stream through. An OpenAI-format error event in its
    output (``protocols.openai_chunks.error_event``) is recorded as the request's failure; a
    transcoder whose output is in another format reports one through ``failure``.
    ``finished`` says ``feed`` has returned the answer's end marker (``[DONE]``): the client
    may hang up right after it, before the upstream closes, and that is no 499."""

    @property
    def finished(self) -> bool: ...


async def pump_stream(
    answer: Answer,
    transcoder: UpstreamTranscoder,
    exchange: Exchange,
    receive: Receive,
    send: Send,
    stream_error: Callable[[str], bytes] = error_event,
    *,
    secret: str = "",
) -> None:
    """Relay the whole stream; record a disconnect (499) or a relay failure on ``exchange``.

    ``stream_error`` makes the in-band error event sent when the upstream breaks off;
    ``secret`` is the channel's key, masked in any error the stream carries."""
    exchange.responded = True
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *exchange.headers]}
    )
    ending = asyncio.Event()  # the last write has begun: a disconnect now is its end
    mask = StreamKeyMask(secret)
    pump = _pump(answer, transcoder, exchange, send, stream_error, ending, mask)
    try:
        await unless_disconnected(pump, receive, ending.is_set)
    except ClientDisconnected:
        exchange.status, exchange.error = 499, "client disconnected"
    except asyncio.CancelledError:
        if not ending.is_set():  # cut before the answer's end: say so, in the stream's format
            exchange.status, exchange.error = 503, CUT_BY_SHUTDOWN
            await _last_words(send, stream_error(CUT_BY_SHUTDOWN))
        raise
    except Exception as failure:
        exchange.status, exchange.error = 500, f"relay failed: {type(failure).__name__}"


async def _pump(
    answer: Answer,
    transcoder: UpstreamTranscoder,
    exchange: Exchange,
    send: Send,
    stream_error: Callable[[str], bytes],
    ending: asyncio.Event,
    mask: StreamKeyMask,
) -> None:
    try:
        async for chunk in answer.chunks():
            if exchange.ttft_ms is None:
                exchange.ttft_ms = int((time.monotonic() - exchange.started) * 1000)
            out = transcoder.feed(chunk)
            if transcoder.finished:
                ending.set()  # the answer's end is in ``out``: a client may close after it
            if out:
                _note_failure(exchange, out, mask)
                if out := mask(out):
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        tail = transcoder.finish()
        _note_failure(exchange, tail, mask)
        tail = mask(tail) + mask.flush()
        failure = getattr(transcoder, "failure", None)
        if failure is not None and exchange.status == 200:
            exchange.status, exchange.error = failure[0], mask.text(failure[1], MESSAGE_LIMIT)
    except BrokeOff:
        exchange.status, exchange.error = 502, "the upstream stream broke off"
        tail = mask.flush() + stream_error("the upstream stream broke off")
    ending.set()
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _last_words(send: Send, tail: bytes) -> None:
    """End a cancelled stream with ``tail``, if the client takes it within a second."""
    try:
        async with asyncio.timeout(LAST_WORDS_SECONDS):
            await send({"type": "http.response.body", "body": tail, "more_body": False})
    except (TimeoutError, OSError):
        pass  # the client is gone or not reading: the cut is all it can get


def _note_failure(exchange: Exchange, out: bytes, mask: StreamKeyMask) -> None:
    """Record the first in-band error the client is sent (the stream keeps its 200), its
    message masked whole, then cut."""
    if exchange.status == 200 and ERROR_MARK in out:
        failure = in_band_failure(out)
        if failure is not None:
            exchange.status, exchange.error = failure[0], mask.text(failure[1], MESSAGE_LIMIT)
