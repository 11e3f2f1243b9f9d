"""Relaying an OpenAI-format SSE stream: meter its usage, hide the usage we asked for.

When the client asked for usage itself, bytes go out exactly as they came in, chunk by
chunk; the meter only frames a copy to find the usage chunk. When burncloud injected
``include_usage``, whole events go out, with the usage-only chunk dropped and the
``"usage":null`` members removed, so the client sees what OpenAI would have sent it.

This runs once per streamed event, so ordinary content chunks are never parsed: only
events that carry a usage object or an error are. The answer's text is needed only when
usage never comes (an estimate then): the meter keeps the first ``SAMPLE_BYTES`` of the
content events' data and reads the text out of them on demand, scaled to all the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from burncloud.protocols.openai_chunks import error_event
from burncloud.protocols.sse import SSEFramer, parse_event

_NULL_USAGE = (b',"usage":null', b'"usage":null,')
SAMPLE_CHARS = 16_384  # characters of the answer the estimate reads
SAMPLE_BYTES = 32_768  # bytes of content events kept to find them in (per stream)
_DONE = b"[DONE]"


@dataclass(slots=True)
class _Text:
    """What the kept content events say: all characters (scaled), the sample, its size."""

    chars: int
    sample: list[str]
    sample_chars: int


@dataclass(slots=True)
class StreamMeter:
    """Watches one stream; ``feed`` returns the bytes the client should receive."""

    hide_usage: bool
    usage: dict[str, Any] | None = None
    finished: bool = False  # [DONE] seen
    errored: bool = False  # the upstream sent an error event of its own
    _framer: SSEFramer = field(default_factory=SSEFramer)
    _kept: list[bytes] = field(default_factory=list)  # content events' data, SAMPLE_BYTES
    _kept_bytes: int = 0
    _all_bytes: int = 0
    _parsed_texts: list[str] = field(default_factory=list)  # from events parsed anyway
    _text: _Text | None = None

    @property
    def text_chars(self) -> int:
        """Characters of generated text streamed so far (scaled from the kept sample)."""
        return self._read_text().chars

    @property
    def sample(self) -> list[str]:
        """The first ``SAMPLE_CHARS`` or so of the generated text, in pieces."""
        return self._read_text().sample

    @property
    def sample_chars(self) -> int:
        return self._read_text().sample_chars

    def feed(self, chunk: bytes) -> bytes:
        events = self._framer.feed(chunk)
        if not self.hide_usage:
            for event in events:
                self._observe(event)
            return chunk
        return b"".join([self._rewrite(event) for event in events])

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
        data = _data(event)
        if data is None or b'"usage"' not in data:
            self._observe_data(data)
            return event
        if _only_null_usage(data) and b'"error"' not in data:
            self._keep(data)  # a content chunk with "usage":null, as include_usage sends
            return event.replace(_NULL_USAGE[0], b"", 1).replace(_NULL_USAGE[1], b"", 1)
        parsed = self._parse(data)
        if parsed is None:
            return event
        if parsed.get("choices") == [] and parsed.get("usage"):
            return b""  # the usage-only chunk we asked for
        rest = {k: v for k, v in parsed.items() if k != "usage"}
        return b"data: " + orjson.dumps(rest) + b"\n\n"

    def _observe(self, event: bytes) -> None:
        self._observe_data(_data(event))

    def _observe_data(self, data: bytes | None) -> None:
        if data is None:
            return
        if data == _DONE:
            self.finished = True
        elif _worth_parsing(data):
            self._parse(data)
        else:
            self._keep(data)

    def _parse(self, data: bytes) -> dict[str, Any] | None:
        """Parse an event that may carry usage or an error; its text counts too."""
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict):
            return None
        if parsed.get("error") is not None:
            self.errored = True
        if parsed.get("usage"):
            self.usage = parsed["usage"]
        for choice in parsed.get("choices") or ():
            self._parsed_texts.extend(_delta_texts(choice))
        self._text = None
        return parsed

    def _keep(self, data: bytes) -> None:
        self._all_bytes += len(data)
        if self._kept_bytes < SAMPLE_BYTES:
            self._kept.append(data)
            self._kept_bytes += len(data)
        self._text = None

    def _read_text(self) -> _Text:
        if self._text is not None:
            return self._text
        texts: list[str] = []
        for data in self._kept:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                for choice in parsed.get("choices") or ():
                    texts.extend(_delta_texts(choice))
        kept_chars = sum(len(text) for text in texts)
        chars = kept_chars
        if self._all_bytes > self._kept_bytes and self._kept_bytes:
            chars = -(-kept_chars * self._all_bytes // self._kept_bytes)
        texts.extend(self._parsed_texts)
        extra = sum(len(text) for text in self._parsed_texts)
        sample, sample_chars = [], 0
        for text in texts:
            if sample_chars >= SAMPLE_CHARS:
                break
            sample.append(text)
            sample_chars += len(text)
        self._text = _Text(chars + extra, sample, sample_chars)
        return self._text


def _data(event: bytes) -> bytes | None:
    """The data of one event: OpenAI's one ``data:`` line read directly, anything else
    through the full SSE parser; None for an event without data."""
    if event.startswith(b"data: "):
        data = event[6:].rstrip(b"\r\n")
        if b"\n" not in data and b"\r" not in data:
            return data
    parsed = parse_event(event)
    return None if parsed is None else parsed.data.strip().encode()


def _worth_parsing(data: bytes) -> bool:
    """Whether an event may carry usage or an error (a content chunk carries neither)."""
    if b'"error"' in data:
        return True
    return b'"usage"' in data and not _only_null_usage(data)


def _only_null_usage(data: bytes) -> bool:
    """A single usage member, and it is null."""
    return (_NULL_USAGE[0] in data or _NULL_USAGE[1] in data) and data.count(b'"usage"') == 1


def _delta_texts(choice: dict[str, Any]) -> list[str]:
    """The generated text in one streamed choice: content, refusal, reasoning, tool calls."""
    delta = choice.get("delta") or {}
    texts = [choice.get("text"), delta.get("content"), delta.get("refusal")]
    texts.append(delta.get("reasoning_content"))
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        texts += [function.get("name"), function.get("arguments")]
    return [text for text in texts if isinstance(text, str) and text]
