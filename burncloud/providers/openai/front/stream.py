"""OpenAI chat chunk SSE as a Responses API event stream (``POST /v1/responses``).

The chunks come from an OpenAI-style upstream or any provider's chat stream, with usage
asked for. ``response.created`` and ``response.in_progress`` open the stream at the first
chunk; then one output item at a time (``stream_items.py``): reasoning from
``reasoning_content`` (and ``thinking_blocks``), a message from ``content`` and
``refusal``, a call per chat tool index (a new id on a known index is a new call). A call's
fragments arriving after a later item opened are not sent: chat upstreams stream calls one
after another. The finish reason closes the open item; ``response.completed`` (or
``response.incomplete``), carrying the whole Response with the usage chunk's figures, is
held back until ``finish``, so the caller can keep the Response (``final``) before it
sends the event. A chat error chunk ends the stream with ``response.failed``; a stream
that ends before its finish reason or ``[DONE]``, with an ``error`` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.protocols.openai_chunks import MALFORMED_EVENT, read_chunk_event
from burncloud.protocols.shapes import JSON, object_field
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.front.context import ResponsesContext, new_id
from burncloud.providers.openai.front.errors import error_event, response_error
from burncloud.providers.openai.front.output_items import (
    finished_status,
    response_object,
    responses_usage,
)
from burncloud.providers.openai.front.reasoning import Seal
from burncloud.providers.openai.front.stream_items import (
    REFUSAL,
    TEXT,
    CallWriter,
    Events,
    MessageWriter,
    ReasoningWriter,
)
from burncloud.providers.openai.stream import CUT_SHORT
from burncloud.providers.openai.usage import token_usage

Writer = MessageWriter | ReasoningWriter | CallWriter


class ResponsesFromChat:
    """One chat chunk stream re-emitted as Responses events; a ``Transcoder``."""

    __slots__ = (
        "_calls",
        "_context",
        "_done",
        "_ended",
        "_events",
        "_finish_reason",
        "_framer",
        "_open",
        "_output",
        "_seal",
        "_started",
        "_usage",
        "final",
    )

    def __init__(self, context: ResponsesContext, seal: Seal) -> None:
        self.final: JSON | None = None  # the completed (or incomplete) Response
        self._context = context
        self._seal = seal if context.include_encrypted_reasoning else None
        self._framer = SSEFramer()
        self._events = Events()
        self._started = self._done = self._ended = False
        self._output: list[JSON] = []  # closed items
        self._open: Writer | None = None
        self._calls: dict[int, CallWriter] = {}  # by chat tool index
        self._finish_reason: str | None = None
        self._usage: TokenUsage | None = None

    def feed(self, chunk: bytes) -> bytes:
        """The Responses events for the chat events ``chunk`` completes."""
        return b"".join([self._event(raw) for raw in self._framer.feed(chunk)])

    def finish(self) -> bytes:
        """The closing events: the terminal one (``final`` is set then), or an error."""
        rest = self._framer.flush()
        out = self._event(rest) if _is_whole(rest) else b""
        if self._ended:
            return out
        if self._finish_reason is None and not self._done:
            return out + self.error_event(CUT_SHORT)
        self._ended = True
        out += self._start() + self._close()
        status, incomplete = finished_status(self._finish_reason)
        usage = responses_usage(self._usage)
        response = response_object(
            self._context, status, list(self._output), usage, incomplete=incomplete
        )
        self.final = response
        return out + self._events.emit(f"response.{status}", {"response": response})

    def error_event(self, message: str) -> bytes:
        """An ``error`` event numbered after the last one; the stream is over then."""
        self._ended = True
        return error_event(message, self._events.take())

    def _event(self, raw: bytes) -> bytes:
        read = read_chunk_event(raw) if not self._ended else None
        if read is None:
            return b""
        if read.done:
            self._done = True
            return b""
        if read.malformed:
            return self._fail({"message": MALFORMED_EVENT})
        if read.error is not None:
            return self._fail(read.error)
        assert read.chunk is not None
        return self._chunk(read.chunk)

    def _chunk(self, chunk: JSON) -> bytes:
        out = self._start()
        self._usage = token_usage(chunk.get("usage")) or self._usage
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._delta(delta)
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
                out += self._close()
        return out

    def _delta(self, delta: JSON) -> bytes:
        out = b""
        text = delta.get("reasoning_content")
        if isinstance(text, str) and text:
            head, reasoning = self._reasoning()
            out += head + reasoning.text(text)
        blocks = delta.get("thinking_blocks")
        if isinstance(blocks, list) and blocks:
            head, reasoning = self._reasoning()
            out += head
            reasoning.blocks(blocks)
        for kind, key in ((TEXT, "content"), (REFUSAL, "refusal")):
            text = delta.get(key)
            if isinstance(text, str) and text:
                head, message = self._message()
                out += head + message.text(kind, text)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                out += self._tool_call(call)
        return out

    def _reasoning(self) -> tuple[bytes, ReasoningWriter]:
        if isinstance(self._open, ReasoningWriter):
            return b"", self._open
        out = self._close()
        writer = ReasoningWriter(self._events, len(self._output), self._seal)
        self._open = writer
        return out + writer.start(), writer

    def _message(self) -> tuple[bytes, MessageWriter]:
        if isinstance(self._open, MessageWriter):
            return b"", self._open
        out = self._close()
        writer = MessageWriter(self._events, len(self._output))
        self._open = writer
        return out + writer.start(), writer

    def _tool_call(self, call: JSON) -> bytes:
        index = self._call_index(call)
        function = object_field(call, "function")
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        writer = self._calls.get(index)
        out = b""
        if writer is None or (call_id and call_id != writer.call_id):
            out = self._close()
            tool = self._context.client_name(str(function.get("name") or ""))
            writer = CallWriter(self._events, len(self._output), call_id or new_id("call_"), tool)
            self._calls[index] = self._open = writer
            out += writer.start()
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments and writer is self._open:
            out += writer.arguments(arguments)
        return out

    def _call_index(self, call: JSON) -> int:
        """A fragment's tool index; without one, the last call's (unless it names another)."""
        given: Any = call.get("index")
        if isinstance(given, int) and not isinstance(given, bool):
            return given
        last = next(reversed(self._calls), None)
        if last is not None and call.get("id") in (None, "", self._calls[last].call_id):
            return last
        return max(self._calls, default=-1) + 1

    def _close(self) -> bytes:
        writer, self._open = self._open, None
        if writer is None:
            return b""
        out, item = writer.close(finished_status(self._finish_reason)[0])
        self._output.append(item)
        return out

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        response = response_object(self._context, "in_progress", [])
        return self._events.emit("response.created", {"response": response}) + self._events.emit(
            "response.in_progress", {"response": response}
        )

    def _fail(self, error: JSON) -> bytes:
        out = self._start()
        self._ended = True
        failed = response_object(
            self._context, "failed", list(self._output), error=response_error(error)
        )
        return out + self._events.emit("response.failed", {"response": failed})


def _is_whole(raw: bytes) -> bool:
    """Whether what a stream ended inside is a whole event (its data parses)."""
    event = parse_event(raw) if raw.strip() else None
    if event is None:
        return False
    if event.data.strip() == "[DONE]":
        return True
    try:
        orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    return True
