"""InvokeModelWithResponseStream bytes -> the Anthropic SSE events they carry (PROTOCOLS.md 7.5).

Bedrock wraps each of Claude's stream events in an event-stream ``chunk`` message whose
payload is ``{"bytes": "<base64 of the event's JSON>"}``. The client gets each event as the
Anthropic API would send it, ``event: <type>`` and ``data: <the decoded JSON>``, the JSON
as Bedrock sent it. The last event, ``message_stop``, carries Bedrock's
``amazon-bedrock-invocationMetrics``: it is passed on, since rewriting it would be the only
re-serialisation in the stream, Anthropic clients ignore members they do not know, and it
hides nothing the message's ``id`` and ``model`` do not already show.

The provider's Anthropic transcoder reads the events produced (output discarded) for the
usage and the generated text. An exception frame, a corrupted stream or one that ends
before ``message_stop`` becomes one Anthropic ``event: error`` (the upstream's message,
without ARNs or account ids), after which input is ignored.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from burncloud.errors import BurncloudError, UpstreamError
from burncloud.protocols.eventstream import EventMessage, EventStreamError, EventStreamParser
from burncloud.protocols.sse import encode_event
from burncloud.providers.anthropic.front.errors import anthropic_error
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock.errors import exception_message, scrub, stream_error_kind
from burncloud.providers.passthrough import PassthroughStream

CUT_SHORT = "Bedrock stream ended before the answer was complete"
UNREADABLE = "Bedrock sent a stream chunk that is not an Anthropic event"


class InvokeStreamTranscoder:
    """One Claude answer over InvokeModelWithResponseStream; a ``NativeStream``."""

    __slots__ = ("_ended", "_failure", "_parser", "_reader")
    finished = False  # Claude's end marker is not watched for

    def __init__(self, reader: PassthroughStream) -> None:
        self._reader = reader  # fed the Anthropic events this sends, for usage and texts
        self._parser = EventStreamParser()
        self._failure: tuple[int, str] | None = None
        self._ended = False

    @property
    def usage(self) -> TokenUsage | None:
        return self._reader.usage

    @property
    def failure(self) -> tuple[int, str] | None:
        """Bedrock's own failure, else an Anthropic ``error`` event's that was passed on."""
        return self._failure or self._reader.failure

    def feed(self, chunk: bytes) -> bytes:
        """The Anthropic SSE events for the messages ``chunk`` completes."""
        if self._ended:
            return b""
        try:
            messages = self._parser.feed(chunk)
        except EventStreamError as exc:
            return self._fail(UpstreamError(f"Bedrock stream is corrupted: {exc}"))
        out = bytearray()
        for message in messages:
            out += self._on_message(message)
            if self._ended:
                break
        return bytes(out)

    def finish(self) -> bytes:
        """An error event when the stream was cut short; else nothing."""
        if self._ended:
            return b""
        self._ended = True
        passed_on = self._reader.failure  # the client has an error event already
        self._reader.finish()
        if passed_on is None and (self._parser.pending or self._reader.failure):
            return self._fail(UpstreamError(CUT_SHORT))
        return b""

    def texts(self) -> list[str]:
        return self._reader.texts()

    @property
    def text_chars(self) -> int:
        return self._reader.text_chars

    def _on_message(self, message: EventMessage) -> bytes:
        kind = message.header(":message-type")
        if kind == "exception":
            name = message.header(":exception-type") or "exception"
            return self._fail(_mapped(name, exception_message(message.payload) or name))
        if kind == "error":
            code = message.header(":error-code") or "error"
            return self._fail(_mapped(code, message.header(":error-message") or code))
        if message.header(":event-type") != "chunk":
            return b""
        try:
            event = _chunk_event(message.payload)
        except ValueError:
            return self._fail(UpstreamError(UNREADABLE))
        if event is None:
            return b""
        return self._reader.feed(event)

    def _fail(self, error: BurncloudError) -> bytes:
        self._ended = True
        self._failure = (error.status, error.message)
        _, body = anthropic_error(error)
        return encode_event(orjson.dumps(body), "error")


def _chunk_event(payload: bytes) -> bytes | None:
    """The SSE event for one ``chunk`` payload; None for one that is not a typed object
    (as the anthropic SDK's Bedrock client skips it). ValueError if it cannot be read."""
    wrapper = orjson.loads(payload)
    encoded = wrapper.get("bytes") if isinstance(wrapper, dict) else None
    if not isinstance(encoded, str):
        raise ValueError("a chunk without bytes")
    data = base64.b64decode(encoded, validate=True)  # binascii.Error is a ValueError
    event: Any = orjson.loads(data)
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str) or not kind or not kind.isprintable():
        return None  # (a line break in it would end the ``event:`` line)
    if b"\n" in data or b"\r" in data:  # one SSE data line: only a pretty-printed event needs it
        data = orjson.dumps(event)
    return encode_event(data, kind)


def _mapped(exception: str, message: str) -> BurncloudError:
    """The burncloud error for a mid-stream exception (PROTOCOLS.md 7.7)."""
    return stream_error_kind(exception)(scrub(message))
