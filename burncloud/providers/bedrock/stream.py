"""ConverseStream event-stream bytes -> OpenAI chunk SSE (PROTOCOLS.md 7.4, 8.5).

Frames are cut and CRC-checked by ``EventStreamParser``; each event becomes at most one
chunk. Text and reasoning blocks start directly with deltas; only toolUse blocks have a
``contentBlockStart``, which opens OpenAI tool call number k (k counting earlier tool
blocks). Reasoning text becomes ``reasoning_content``; a reasoning signature or redacted
reasoning becomes a ``thinking_blocks`` delta as the Anthropic provider streams it (with the
block's ``index`` among the answer's thinking blocks). Usage comes in ``metadata`` after
``messageStop``, so the usage chunk and ``[DONE]`` wait for ``finish``. Exception frames, a
corrupted or truncated stream become one in-band error event, after which input is ignored.
"""

from __future__ import annotations

import orjson

from burncloud.protocols.eventstream import EventMessage, EventStreamError, EventStreamParser
from burncloud.protocols.openai_chunks import DONE, ChunkWriter, error_event
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock.errors import exception_message, scrub, stream_error_kind
from burncloud.providers.bedrock.response import finish_reason, token_usage
from burncloud.providers.text_sample import TextSample


class ConverseStreamTranscoder:
    """One ConverseStream answer, as OpenAI chunks; see ``ChatStream`` in providers.base."""

    finished = False  # [DONE] comes from finish(), after the usage in ``metadata``

    def __init__(self, writer: ChunkWriter, include_usage: bool) -> None:
        self.usage: TokenUsage | None = None
        self.error: str | None = None
        self._writer = writer
        self._include_usage = include_usage
        self._parser = EventStreamParser()
        self._tool_index: dict[int, int] = {}
        self._thinking_count = 0
        self._started = False
        self._stopped = False
        self._sample = TextSample()

    def feed(self, chunk: bytes) -> bytes:
        """The SSE bytes for the events that ``chunk`` completes."""
        if self.error is not None:
            return b""
        try:
            messages = self._parser.feed(chunk)
        except EventStreamError as exc:
            return self._fail(f"Bedrock stream is corrupted: {exc}")
        out = bytearray()
        for message in messages:
            out += self._on_message(message)
            if self.error is not None:
                break
        return bytes(out)

    def finish(self) -> bytes:
        """The usage chunk when asked for, then ``[DONE]``; an error first if cut short."""
        out = b""
        if self.error is None and (self._parser.pending or not self._stopped):
            out = self._fail("Bedrock stream ended before the answer was complete")
        if self._include_usage and self.usage is not None:
            out += self._writer.usage(self.usage.to_openai())
        return out + DONE

    def texts(self) -> list[str]:
        """A sample of the generated text (content, reasoning, tool names and arguments)."""
        return list(self._sample.parts)

    @property
    def text_chars(self) -> int:
        """Characters of generated text so far."""
        return self._sample.total

    def _on_message(self, message: EventMessage) -> bytes:
        kind = message.header(":message-type")
        if kind == "exception":
            name = message.header(":exception-type") or "exception"
            return self._fail(exception_message(message.payload) or name, name)
        if kind == "error":
            code = message.header(":error-code") or "error"
            return self._fail(message.header(":error-message") or code, code)
        try:
            payload = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            return self._fail("Bedrock sent an event that is not JSON")
        if not isinstance(payload, dict):
            return b""
        return self._on_event(message.header(":event-type") or "", payload)

    def _on_event(self, event: str, payload: JSON) -> bytes:
        if event == "messageStart":
            return self._start()
        if event == "contentBlockStart":
            return self._block_start(payload)
        if event == "contentBlockDelta":
            return self._block_delta(payload)
        if event == "messageStop":
            self._stopped = True
            return self._start() + self._writer.finish(finish_reason(payload.get("stopReason")))
        if event == "metadata":
            self.usage = token_usage(payload.get("usage")) or self.usage
        return b""

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._writer.role()

    def _block_start(self, payload: JSON) -> bytes:
        tool_use = (payload.get("start") or {}).get("toolUse")
        if not isinstance(tool_use, dict):
            return b""
        index = len(self._tool_index)
        self._tool_index[payload.get("contentBlockIndex", -1)] = index
        name = str(tool_use.get("name") or "")
        self._keep(name)
        call_id = str(tool_use.get("toolUseId") or "")
        return self._start() + self._writer.tool_call_start(index, call_id, name)

    def _block_delta(self, payload: JSON) -> bytes:
        delta = payload.get("delta") or {}
        if delta.get("text"):
            return self._start() + self._writer.content(self._keep(delta["text"]))
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            return self._reasoning(reasoning)
        arguments = (delta.get("toolUse") or {}).get("input")
        index = self._tool_index.get(payload.get("contentBlockIndex", -1))
        if arguments and index is not None:
            return self._writer.tool_call_arguments(index, self._keep(arguments))
        return b""

    def _reasoning(self, delta: JSON) -> bytes:
        if isinstance(delta.get("text"), str) and delta["text"]:
            return self._start() + self._writer.reasoning(self._keep(delta["text"]))
        signature, redacted = delta.get("signature"), delta.get("redactedContent")
        block: dict[str, str | int]
        if isinstance(signature, str) and signature:
            block = {"type": "thinking", "thinking": "", "signature": signature}
        elif isinstance(redacted, str) and redacted:
            block = {"type": "redacted_thinking", "data": redacted}
        else:
            return b""
        block["index"] = self._thinking_count
        self._thinking_count += 1
        return self._start() + self._writer.delta({"thinking_blocks": [block]})

    def _fail(self, message: str, exception: str = "") -> bytes:
        self.error = scrub(message)
        kind = stream_error_kind(exception)
        return error_event(self.error, kind.type, kind.code)

    def _keep(self, text: str) -> str:
        """Count ``text`` for estimates; return it unchanged."""
        self._sample.add(text)
        return text
