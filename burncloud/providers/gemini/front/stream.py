"""Gemini front door: OpenAI chunk SSE -> Gemini ``streamGenerateContent?alt=sse`` events.

Input is OpenAI ``chat.completion.chunk`` SSE (an OpenAI-style upstream, or any provider's
``ChatStream`` asked for usage). Each chunk with new text becomes one
``GenerateContentResponse`` event holding only the new parts, one candidate per choice that
moved: ``content``/``refusal`` as text, ``reasoning_content`` as thought parts. Gemini sends
function calls whole, so tool-call fragments are held (keyed on the OpenAI tool index, a new
id on a known index starting a new call) and a call goes out once the next call or text
starts, or in the last event. That last event, written at ``[DONE]`` or when the upstream
closes, carries each candidate's ``finishReason`` and the ``usageMetadata`` of the OpenAI
usage chunk. Gemini has no end marker, and events end in CRLF CRLF as Google's do.
"""

from __future__ import annotations

from burncloud.protocols.openai_chunks import MALFORMED_EVENT, read_chunk_event
from burncloud.protocols.shapes import JSON, object_field
from burncloud.protocols.sse import SSEFramer
from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini.front.answer import (
    finish_reason,
    function_call_part,
    response_id,
)
from burncloud.providers.gemini.front.errors import error_event, sse_event, stream_status
from burncloud.providers.gemini.usage import usage_metadata
from burncloud.providers.openai.usage import token_usage

TEXT_LIMIT = 16 * 1024


class _Call:
    __slots__ = ("arguments", "id", "name")

    def __init__(self, call_id: str, name: str) -> None:
        self.id, self.name = call_id, name
        self.arguments: list[str] = []


class _Candidate:
    """One choice's state: the calls still receiving arguments, the finish reason."""

    __slots__ = ("calls", "finish", "started")

    def __init__(self) -> None:
        self.calls: dict[int, _Call] = {}
        self.finish: str | None = None
        self.started = 0

    def flush(self) -> list[JSON]:
        """The held calls as whole ``functionCall`` parts, in tool-index order."""
        parts = [
            function_call_part(call.id, call.name, "".join(call.arguments))
            for _, call in sorted(self.calls.items())
        ]
        self.calls.clear()
        return parts


class GeminiEventStream:
    """One OpenAI-format streamed answer re-emitted as Gemini events for ``model``."""

    __slots__ = (
        "_candidates",
        "_done",
        "_ended",
        "_framer",
        "_model",
        "_response_id",
        "_text_size",
        "_texts",
        "usage",
    )

    def __init__(self, model: str) -> None:
        self.usage: TokenUsage | None = None
        self._model = model
        self._framer = SSEFramer()
        self._candidates: dict[int, _Candidate] = {}
        self._response_id = ""
        self._done = self._ended = False
        self._texts: list[str] = []
        self._text_size = 0

    def feed(self, chunk: bytes) -> bytes:
        """Gemini SSE bytes for the OpenAI events ``chunk`` completes."""
        return b"".join(self._event(raw) for raw in self._framer.feed(chunk))

    def finish(self) -> bytes:
        """The last event (finish reasons, usage), or an error event for a cut-off stream."""
        out = self._event(self._framer.flush())
        if self._ended:
            return out
        if not any(c.finish for c in self._candidates.values()):
            self._ended = True
            return out + error_event(502, "upstream stream ended before the answer was complete")
        return out + self._closing()

    def texts(self) -> list[str]:
        """Generated text so far (text, thoughts, function names, arguments), capped."""
        return list(self._texts)

    def _event(self, raw: bytes) -> bytes:
        read = read_chunk_event(raw) if not self._ended else None
        if read is None:
            return b""
        if read.done:
            self._done = True
            return self._closing()
        if read.malformed:
            return self._fail(502, MALFORMED_EVENT)
        if read.error is not None:
            message = str(read.error.get("message") or "upstream error")
            return self._fail(stream_status(read.error), message)
        assert read.chunk is not None
        return self._chunk(read.chunk)

    def _chunk(self, chunk: JSON) -> bytes:
        if not self._response_id:
            self._response_id = response_id(chunk)
        self.usage = token_usage(chunk.get("usage")) or self.usage
        candidates = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            given = choice.get("index")
            index = given if isinstance(given, int) else 0
            state = self._candidates.setdefault(index, _Candidate())
            delta = choice.get("delta")
            parts = self._delta(state, delta) if isinstance(delta, dict) else []
            if choice.get("finish_reason"):
                state.finish = choice["finish_reason"]
            if parts:
                candidates.append({"content": {"role": "model", "parts": parts}, "index": index})
        return self._response(candidates) if candidates else b""

    def _delta(self, state: _Candidate, delta: JSON) -> list[JSON]:
        parts: list[JSON] = []
        for key, extra in (("reasoning_content", {"thought": True}), ("content", {})):
            text = delta.get(key)
            if key == "content" and not text:
                text = delta.get("refusal")
            if isinstance(text, str) and text:
                self._remember(text)
                parts += state.flush()
                parts.append({"text": text, **extra})
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                parts += self._tool_call(state, call)
        return parts

    def _tool_call(self, state: _Candidate, call: JSON) -> list[JSON]:
        given = call.get("index")
        index = given if isinstance(given, int) else state.started
        function = object_field(call, "function")
        known = state.calls.get(index)
        parts: list[JSON] = []
        if known is None or (call.get("id") and call["id"] != known.id):
            parts = state.flush()
            name = str(function.get("name") or "")
            self._remember(name)
            state.calls[index] = known = _Call(str(call.get("id") or ""), name)
            state.started += 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._remember(arguments)
            known.arguments.append(arguments)
        return parts

    def _closing(self) -> bytes:
        self._ended = True
        candidates = []
        for index, state in sorted(self._candidates.items()) or [(0, _Candidate())]:
            parts = state.flush() or [{"text": ""}]
            candidates.append(
                {
                    "content": {"role": "model", "parts": parts},
                    "finishReason": finish_reason(state.finish),
                    "index": index,
                }
            )
        return self._response(candidates, final=True)

    def _response(self, candidates: list[JSON], final: bool = False) -> bytes:
        payload: JSON = {"candidates": candidates}
        if final and self.usage is not None:
            payload["usageMetadata"] = usage_metadata(self.usage)
        payload["modelVersion"] = self._model
        payload["responseId"] = self._response_id or "burncloud"
        return sse_event(payload)

    def _fail(self, status: int, message: str) -> bytes:
        self._ended = True
        return error_event(status, message)

    def _remember(self, text: str) -> None:
        room = TEXT_LIMIT - self._text_size
        if room > 0:
            self._texts.append(text[:room])
            self._text_size += min(len(text), room)
