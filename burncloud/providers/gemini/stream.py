"""Gemini ``streamGenerateContent?alt=sse`` bytes as OpenAI ``chat.completion.chunk`` SSE.

Each Gemini event is a whole ``GenerateContentResponse`` holding only the new parts: text
becomes ``delta.content``, thought parts ``delta.reasoning_content``, and every
``functionCall`` (always complete on Gemini) one tool-call delta with full arguments.
``usageMetadata`` is cumulative and can change until the last event, so the latest one is
kept and billed. Gemini has no end marker: the finish chunk, the usage chunk and ``[DONE]``
are written by ``finish`` once the upstream has closed.
"""

from __future__ import annotations

import time

import orjson

from burncloud.protocols.openai_chunks import DONE, ChunkWriter, error_event
from burncloud.protocols.shapes import JSON
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini.errors import stream_error
from burncloud.providers.gemini.response import (
    completion_id,
    finish_reason,
    prompt_blocked,
    tool_call,
)
from burncloud.providers.gemini.usage import token_usage
from burncloud.providers.text_sample import TextSample


class GeminiStream:
    """One stream's transcoder; see ``burncloud.providers.base.ChatStream``."""

    __slots__ = (
        "_blocked",
        "_calls",
        "_failed",
        "_framer",
        "_include_usage",
        "_model",
        "_reason",
        "_response_id",
        "_sample",
        "_writer",
        "usage",
    )
    finished = False  # [DONE] comes from finish(): Gemini has no end marker

    def __init__(self, model: str, include_usage: bool) -> None:
        self.usage: TokenUsage | None = None
        self._model = model
        self._include_usage = include_usage
        self._framer = SSEFramer()
        self._writer: ChunkWriter | None = None
        self._response_id = ""
        self._reason: str | None = None
        self._blocked = False
        self._calls = 0
        self._failed = False
        self._sample = TextSample()

    def feed(self, chunk: bytes) -> bytes:
        """OpenAI SSE bytes for the Gemini events ``chunk`` completed."""
        return b"".join(self._event(raw) for raw in self._framer.feed(chunk))

    def finish(self) -> bytes:
        """The closing bytes: finish chunk, usage chunk if asked for, ``[DONE]``."""
        rest = self._framer.flush()
        out = [self._event(rest)] if rest.strip() else []
        if not self._failed:
            out.append(self._closing())
        return b"".join(out) + DONE

    def texts(self) -> list[str]:
        """A sample of the generated text (content, reasoning, tool names and arguments)."""
        return list(self._sample.parts)

    @property
    def text_chars(self) -> int:
        """Characters of generated text so far."""
        return self._sample.total

    def _closing(self) -> bytes:
        if self._reason is None and not self._blocked:
            return error_event("the Gemini upstream closed the stream before the answer ended")
        writer, out = self._opened()
        if self._blocked and self._reason is None:
            reason = "content_filter"
        else:
            reason = finish_reason(self._reason, self._calls > 0)
        out += writer.finish(reason)
        if self._include_usage and self.usage is not None:
            out += writer.usage(self.usage.to_openai())
        return out

    def _event(self, raw: bytes) -> bytes:
        event = parse_event(raw)
        if event is None or self._failed:
            return b""
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return self._fail({"code": 502, "message": "the Gemini upstream sent unreadable data"})
        if isinstance(data.get("error"), dict):
            return self._fail(data["error"])
        return self._response(data)

    def _fail(self, error: JSON) -> bytes:
        self._failed = True
        err = stream_error(error)
        return error_event(err.message, err.type, err.code)

    def _response(self, data: JSON) -> bytes:
        if not self._response_id:
            self._response_id = completion_id(data)
        self.usage = token_usage(data.get("usageMetadata")) or self.usage
        self._blocked = self._blocked or prompt_blocked(data)
        candidates = data.get("candidates") or [{}]
        candidate = candidates[0] if isinstance(candidates[0], dict) else {}
        if candidate.get("finishReason"):
            self._reason = candidate["finishReason"]
        writer, out = self._opened()
        for part in (candidate.get("content") or {}).get("parts") or []:
            if isinstance(part, dict):
                out += self._part(writer, part)
        return out

    def _part(self, writer: ChunkWriter, part: JSON) -> bytes:
        if isinstance(part.get("functionCall"), dict):
            call = tool_call(part, self._response_id, 0, self._calls)
            self._calls += 1
            self._sample.add(call["function"]["name"])
            self._sample.add(call["function"]["arguments"])
            return writer.delta({"tool_calls": [{"index": self._calls - 1, **call}]})
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return b""
        self._sample.add(text)
        return writer.reasoning(text) if part.get("thought") else writer.content(text)

    def _opened(self) -> tuple[ChunkWriter, bytes]:
        """The chunk writer, and the role chunk when this is the first output."""
        if self._writer is not None:
            return self._writer, b""
        response_id = self._response_id or completion_id({})
        self._writer = ChunkWriter("chatcmpl-" + response_id, self._model, int(time.time()))
        return self._writer, self._writer.role()
