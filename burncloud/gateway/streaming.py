"""Relaying an OpenAI-format SSE stream: meter its usage, hide the usage we asked for.

When the client asked for usage itself, bytes go out exactly as they came in, chunk by
chunk; the meter only frames a copy to find the usage chunk. When burncloud injected
``include_usage``, whole events go out, with the usage-only chunk dropped and the
``"usage":null`` members removed, so the client sees what OpenAI would have sent it.
Memory per stream is bounded: the meter counts characters and keeps only the first
``SAMPLE_CHARS`` of the answer, from which an estimate is scaled if usage never comes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from burncloud.protocols.openai_chunks import error_event
from burncloud.protocols.sse import SSEFramer, parse_event

_NULL_USAGE = (b',"usage":null', b'"usage":null,')
SAMPLE_CHARS = 16_384


@dataclass(slots=True)
class StreamMeter:
    """Watches one stream; ``feed`` returns the bytes the client should receive."""

    hide_usage: bool
    usage: dict[str, Any] | None = None
    text_chars: int = 0
    sample: list[str] = field(default_factory=list)
    sample_chars: int = 0
    finished: bool = False  # [DONE] seen
    errored: bool = False  # the upstream sent an error event of its own
    _framer: SSEFramer = field(default_factory=SSEFramer)

    def feed(self, chunk: bytes) -> bytes:
        events = self._framer.feed(chunk)
        if not self.hide_usage:
            for event in events:
                self._observe(event)
            return chunk
        return b"".join(self._rewrite(event) for event in events)

    def finish(self) -> bytes:
        """What is left when the upstream closes (an unterminated last event), and an error
        event when the stream ended without ``[DONE]`` or an error of its own: the client
        must never take a cut-off answer for a whole one."""
        rest = self._framer.flush()
        if rest:
            self._observe(rest)
        tail = rest if self.hide_usage else b""
        if not self.finished and not self.errored:
            tail += error_event("the upstream stream ended before the answer was complete")
        return tail

    def _rewrite(self, event: bytes) -> bytes:
        data = self._observe(event)
        if data is None or b'"usage"' not in event:
            return event
        if data.get("choices") == [] and data.get("usage"):
            return b""  # the usage-only chunk we asked for
        if data.get("usage") is None:
            for pattern in _NULL_USAGE:
                if pattern in event:
                    return event.replace(pattern, b"", 1)
        rest = {k: v for k, v in data.items() if k != "usage"}
        return b"data: " + orjson.dumps(rest) + b"\n\n"

    def _observe(self, event: bytes) -> dict[str, Any] | None:
        parsed = parse_event(event)
        if parsed is None:
            return None
        if parsed.data.strip() == "[DONE]":
            self.finished = True
            return None
        try:
            data = orjson.loads(parsed.data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        if data.get("error") is not None:
            self.errored = True
        if data.get("usage"):
            self.usage = data["usage"]
        for choice in data.get("choices") or ():
            for text in _delta_texts(choice):
                self._count(text)
        return data

    def _count(self, text: str) -> None:
        self.text_chars += len(text)
        if self.sample_chars < SAMPLE_CHARS:
            self.sample.append(text)
            self.sample_chars += len(text)


def _delta_texts(choice: dict[str, Any]) -> list[str]:
    """The generated text in one streamed choice: content, refusal, reasoning, tool calls."""
    delta = choice.get("delta") or {}
    texts = [choice.get("text"), delta.get("content"), delta.get("refusal")]
    texts.append(delta.get("reasoning_content"))
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        texts += [function.get("name"), function.get("arguments")]
    return [text for text in texts if isinstance(text, str) and text]
