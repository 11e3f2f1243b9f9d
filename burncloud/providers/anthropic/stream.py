"""Anthropic Messages SSE -> OpenAI ``chat.completion.chunk`` SSE, incrementally (PROTOCOLS.md 8.3).

State is bounded: the SSE framer's partial event, one small entry per content block, the
usage counters and a ``TextSample`` of the generated text for estimates.
Anthropic block indexes map to OpenAI tool-call indexes counted from 0 (a text block before
a tool call takes no tool index). Thinking streams as ``reasoning_content`` deltas, and its
signature, once it arrives, as ``{"thinking_blocks": [{"type": "thinking", "thinking": "",
"signature": ..., "index": k}]}``; a redacted thinking block is one ``thinking_blocks``
delta, whole. ``index`` numbers the answer's thinking blocks from 0: the openai SDK's stream
accumulator merges list deltas by it (and fails on a second entry without one).
Server tool blocks (web search) are not forwarded; text resuming after them starts a new
paragraph (``server_tools``).

Usage is taken from ``message_start`` (input and cache, with the cache write's split by
lifetime) and ``message_delta`` (cumulative output, and input, cache and server tool use
again on newer API versions; the latest value of each field wins: ``merge_usage``); it is
set once ``message_delta`` arrives, so a stream cut before it reports None and gets
estimated.
A stream that ends without ``message_delta``/``message_stop`` and without an error event is
reported to the client as an in-band error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.openai_chunks import DONE, ChunkWriter
from burncloud.protocols.shapes import object_field
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.anthropic.errors import error_bytes, stream_error_event
from burncloud.providers.anthropic.response import finish_reason, merge_usage, token_usage
from burncloud.providers.anthropic.server_tools import TextJoin, is_server_block
from burncloud.providers.base import TokenUsage
from burncloud.providers.text_sample import TextSample

_TEXT, _THINKING, _OTHER = "text", "thinking", "other"


class AnthropicChatStream:
    """One streamed Messages API answer, re-emitted as OpenAI chunks for ``model``."""

    __slots__ = (
        "_blocks",
        "_created",
        "_ended",
        "_failed",
        "_framer",
        "_include_usage",
        "_join",
        "_model",
        "_sample",
        "_stop_reason",
        "_thinking_count",
        "_tool_count",
        "_usage",
        "_writer",
        "usage",
    )
    finished = False  # [DONE] comes from finish()

    def __init__(self, model: str, include_usage: bool, created: int) -> None:
        self.usage: TokenUsage | None = None
        self._model, self._include_usage, self._created = model, include_usage, created
        self._framer = SSEFramer()
        self._writer: ChunkWriter | None = None
        self._blocks: dict[int, str | int] = {}  # block index -> kind, or OpenAI tool index
        self._tool_count = 0
        self._thinking_count = 0  # thinking blocks passed on, for their ``index``
        self._usage: dict[str, Any] = {}  # the usage objects seen, merged
        self._stop_reason: str | None = None
        self._ended = False  # message_stop or an error seen: nothing more is read
        self._failed = False
        self._sample = TextSample()
        self._join = TextJoin()

    def feed(self, chunk: bytes) -> bytes:
        """OpenAI SSE bytes for the upstream events ``chunk`` completes."""
        return b"".join(self._event(raw) for raw in self._framer.feed(chunk))

    def finish(self) -> bytes:
        """The last events: any unterminated event, the finish chunk if still due, usage, DONE."""
        out = self._event(self._framer.flush())
        if not self._ended:
            out += self._close(complete=self._stop_reason is not None or self.usage is not None)
        if self._include_usage and self.usage is not None and not self._failed:
            out += self._writer_now().usage(self.usage.to_openai())
        return out + DONE

    def texts(self) -> list[str]:
        """A sample of the generated text (content, reasoning, tool names, arguments)."""
        return list(self._sample.parts)

    @property
    def text_chars(self) -> int:
        """Characters of generated text so far."""
        return self._sample.total

    def _event(self, raw: bytes) -> bytes:
        event = parse_event(raw) if raw and not self._ended else None
        if event is None:
            return b""
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return self._fail(UpstreamError("upstream sent a malformed stream event"))
        if not isinstance(data, dict):
            return self._fail(UpstreamError("upstream sent a malformed stream event"))
        kind = data.get("type")
        handler = _HANDLERS.get(kind if isinstance(kind, str) else event.event)
        return handler(self, data) if handler else b""

    def _message_start(self, data: dict[str, Any]) -> bytes:
        message = object_field(data, "message")
        merge_usage(self._usage, message.get("usage"), skip_output=True)
        if self._writer is not None:
            return b""
        self._writer = self._new_writer(message.get("id"))
        return self._writer.role()

    def _block_start(self, data: dict[str, Any]) -> bytes:
        block = data.get("content_block")
        index = data.get("index")
        if not isinstance(block, dict) or not isinstance(index, int):
            return b""
        head, writer = self._opened()
        kind = block.get("type")
        if kind == "tool_use":
            return head + self._tool_start(index, block, writer)
        if kind == "text":
            self._blocks[index] = _TEXT
            return head + self._text(writer, block.get("text"))
        if kind == "thinking":
            self._blocks[index] = _THINKING
            return head + self._reasoning(writer, block.get("thinking"))
        self._blocks[index] = _OTHER
        if kind == "redacted_thinking" and isinstance(block.get("data"), str) and block["data"]:
            return head + self._thinking_block(writer, {"type": kind, "data": block["data"]})
        if is_server_block(kind):
            self._join.interrupt()
        return head

    def _tool_start(self, index: int, block: dict[str, Any], writer: ChunkWriter) -> bytes:
        tool_index = self._blocks[index] = self._tool_count
        self._tool_count += 1
        name = str(block.get("name") or "")
        self._sample.add(name)
        out = writer.tool_call_start(tool_index, str(block.get("id") or ""), name)
        if block.get("input"):  # normally {} with the input streamed as input_json_delta
            out += self._arguments(writer, tool_index, orjson.dumps(block["input"]).decode())
        return out

    def _block_delta(self, data: dict[str, Any]) -> bytes:
        delta = data.get("delta")
        index = data.get("index")
        target = self._blocks.get(index) if isinstance(index, int) else None
        if not isinstance(delta, dict) or target is None:
            return b""
        head, writer = self._opened()
        kind = delta.get("type")
        if kind == "text_delta" and target == _TEXT:
            return head + self._text(writer, delta.get("text"))
        if kind == "thinking_delta" and target == _THINKING:
            return head + self._reasoning(writer, delta.get("thinking"))
        if kind == "signature_delta" and target == _THINKING:
            return head + self._signature(writer, delta.get("signature"))
        if kind == "input_json_delta" and isinstance(target, int):
            return head + self._arguments(writer, target, delta.get("partial_json"))
        return head

    def _message_delta(self, data: dict[str, Any]) -> bytes:
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            self._stop_reason = delta["stop_reason"]
        merge_usage(self._usage, data.get("usage"), skip_output=False)
        self.usage = token_usage(self._usage)
        return b""

    def _message_stop(self, _data: dict[str, Any]) -> bytes:
        return self._close(complete=True)

    def _error(self, data: dict[str, Any]) -> bytes:
        self._ended = self._failed = True
        return stream_error_event(data)

    def _close(self, complete: bool) -> bytes:
        if not complete:
            return self._fail(UpstreamError("upstream stream ended before the answer was complete"))
        self._ended = True
        head, writer = self._opened()
        return head + writer.finish(finish_reason(self._stop_reason))

    def _fail(self, error: UpstreamError) -> bytes:
        self._ended = self._failed = True
        return error_bytes(error)

    def _text(self, writer: ChunkWriter, text: Any) -> bytes:
        if not isinstance(text, str) or not text:
            return b""
        self._sample.add(text)
        return writer.content(self._join.join(text))

    def _signature(self, writer: ChunkWriter, signature: Any) -> bytes:
        if not isinstance(signature, str) or not signature:
            return b""
        block = {"type": "thinking", "thinking": "", "signature": signature}
        return self._thinking_block(writer, block)

    def _thinking_block(self, writer: ChunkWriter, block: dict[str, Any]) -> bytes:
        block["index"] = self._thinking_count
        self._thinking_count += 1
        return writer.delta({"thinking_blocks": [block]})

    def _reasoning(self, writer: ChunkWriter, text: Any) -> bytes:
        if not isinstance(text, str) or not text:
            return b""
        self._sample.add(text)
        return writer.reasoning(text)

    def _arguments(self, writer: ChunkWriter, tool_index: int, text: Any) -> bytes:
        if not isinstance(text, str) or not text:
            return b""
        self._sample.add(text)
        return writer.tool_call_arguments(tool_index, text)

    def _opened(self) -> tuple[bytes, ChunkWriter]:
        """The writer, plus the role chunk if no ``message_start`` opened the answer."""
        if self._writer is not None:
            return b"", self._writer
        self._writer = self._new_writer(None)
        return self._writer.role(), self._writer

    def _writer_now(self) -> ChunkWriter:
        return self._writer or self._new_writer(None)

    def _new_writer(self, message_id: Any) -> ChunkWriter:
        suffix = message_id if isinstance(message_id, str) and message_id else "anthropic"
        return ChunkWriter("chatcmpl-" + suffix, self._model, self._created)


_Handler = Callable[[AnthropicChatStream, dict[str, Any]], bytes]
_HANDLERS: dict[str, _Handler] = {
    "message_start": AnthropicChatStream._message_start,
    "content_block_start": AnthropicChatStream._block_start,
    "content_block_delta": AnthropicChatStream._block_delta,
    "message_delta": AnthropicChatStream._message_delta,
    "message_stop": AnthropicChatStream._message_stop,
    "error": AnthropicChatStream._error,
}
