"""Anthropic front door: OpenAI chunk SSE -> Anthropic Messages SSE (PROTOCOLS.md 8.6).

Input is OpenAI ``chat.completion.chunk`` SSE, from an OpenAI-style upstream or from any
provider's ``ChatStream`` (ask it for usage). One block is open at a time: text, thinking
(from ``reasoning_content``) or a tool call (keyed on the OpenAI tool index; a new id on a
known index starts a new call). The closing ``message_delta`` / ``message_stop`` come from
``finish``, with the upstream's usage, or the estimate passed in when it sent none.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.protocols.openai_chunks import MALFORMED_EVENT, read_chunk_event
from burncloud.protocols.shapes import object_field
from burncloud.protocols.sse import SSEFramer, encode_event
from burncloud.providers.anthropic.front.answer import anthropic_usage, stop_reason
from burncloud.providers.anthropic.front.errors import error_event, kind_of_openai_error
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.usage import token_usage

TEXT_LIMIT = 16 * 1024
_TEXT, _THINKING, _TOOL = "text", "thinking", "tool"
_BLOCK_STARTS = {
    _TEXT: {"type": "text", "text": ""},
    _THINKING: {"type": "thinking", "thinking": "", "signature": ""},
}


class MessagesEventStream:
    """One OpenAI-format streamed answer re-emitted as Anthropic events for ``model``."""

    __slots__ = (
        "_done",
        "_ended",
        "_finish_reason",
        "_framer",
        "_input_tokens",
        "_model",
        "_next_index",
        "_open_kind",
        "_started",
        "_text_size",
        "_texts",
        "_tools",
        "usage",
    )

    def __init__(self, model: str, input_tokens: int = 0) -> None:
        self.usage: TokenUsage | None = None
        self._model, self._input_tokens = model, input_tokens
        self._framer = SSEFramer()
        self._started = self._done = self._ended = False
        self._next_index = 0
        self._open_kind: str | None = None  # the open block is always the last one started
        self._tools: dict[int, tuple[str, int]] = {}  # OpenAI tool index -> (call id, block)
        self._finish_reason: str | None = None
        self._texts: list[str] = []
        self._text_size = 0

    def feed(self, chunk: bytes) -> bytes:
        """Anthropic SSE bytes for the OpenAI events ``chunk`` completes."""
        return b"".join(self._event(raw) for raw in self._framer.feed(chunk))

    def finish(self, estimate: TokenUsage | None = None) -> bytes:
        """The closing events; ``estimate`` is the usage to report if the upstream sent none."""
        out = self._event(self._framer.flush())
        if self._ended:
            return out
        self._ended = True
        if not self._done and self._finish_reason is None:
            return out + error_event(
                "api_error", "upstream stream ended before the answer was complete"
            )
        out += self._start({}) + self._close_block()
        usage = self.usage or estimate or TokenUsage(self._input_tokens, 0)
        delta = {"stop_reason": stop_reason(self._finish_reason), "stop_sequence": None}
        out += _event({"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)})
        return out + _event({"type": "message_stop"})

    def texts(self) -> list[str]:
        """Generated text so far (text, thinking, tool names, arguments), capped."""
        return list(self._texts)

    def _event(self, raw: bytes) -> bytes:
        read = read_chunk_event(raw) if not self._ended else None
        if read is None:
            return b""
        if read.done:
            self._done = True
            return b""
        if read.malformed:
            return self._fail("api_error", MALFORMED_EVENT)
        if read.error is not None:
            message = str(read.error.get("message") or "error")
            return self._fail(kind_of_openai_error(read.error), message)
        assert read.chunk is not None
        return self._chunk(read.chunk)

    def _chunk(self, chunk: dict[str, Any]) -> bytes:
        out = self._start(chunk)
        self.usage = token_usage(chunk.get("usage")) or self.usage
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._delta(delta)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        out = self._block_text(_THINKING, delta.get("reasoning_content"))
        out += self._block_text(_TEXT, delta.get("content"))
        out += self._block_text(_TEXT, delta.get("refusal"))
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                out += self._tool_call(call)
        return out

    def _block_text(self, kind: str, text: Any) -> bytes:
        if not isinstance(text, str) or not text:
            return b""
        out = b""
        if self._open_kind != kind:
            out = self._open_block(kind, dict(_BLOCK_STARTS[kind]))
        self._remember(text)
        field = "thinking" if kind == _THINKING else "text"
        return out + self._delta_event(
            self._next_index - 1, {"type": f"{field}_delta", field: text}
        )

    def _tool_call(self, call: dict[str, Any]) -> bytes:
        given = call.get("index")
        index = given if isinstance(given, int) else len(self._tools)
        function = object_field(call, "function")
        known = self._tools.get(index)
        out = b""
        if known is None or (call.get("id") and call["id"] != known[0]):
            call_id = str(call.get("id") or f"toolu_bc{self._next_index}")
            name = str(function.get("name") or "")
            self._remember(name)
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            out = self._open_block(_TOOL, block)
            self._tools[index] = (call_id, self._next_index - 1)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._remember(arguments)
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out += self._delta_event(self._tools[index][1], delta)
        return out

    def _start(self, chunk: dict[str, Any]) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": "msg_" + str(chunk.get("id") or "burncloud"),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return _event({"type": "message_start", "message": message})

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._open_kind = kind
        start = {"type": "content_block_start", "index": self._next_index, "content_block": block}
        self._next_index += 1
        return out + _event(start)

    def _delta_event(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event({"type": "content_block_delta", "index": index, "delta": delta})

    def _close_block(self) -> bytes:
        if self._open_kind is None:
            return b""
        self._open_kind = None
        return _event({"type": "content_block_stop", "index": self._next_index - 1})

    def _fail(self, kind: str, message: str) -> bytes:
        self._ended = True
        return error_event(kind, message)

    def _remember(self, text: str) -> None:
        room = TEXT_LIMIT - self._text_size
        if room > 0:
            self._texts.append(text[:room])
            self._text_size += min(len(text), room)


def _event(payload: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(payload), payload["type"])
