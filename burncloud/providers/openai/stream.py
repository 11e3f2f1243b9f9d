"""Relaying an OpenAI-style SSE stream to an OpenAI client: meter it, hide what we added.

The relay always asks OpenAI-style upstreams for stream usage (``include_usage``). When the
client did not ask for it, the usage-only chunk is dropped and the ``usage`` member removed
from every other chunk (after recording it: some vendors put the figure on the finishing
chunk), so the client sees what OpenAI would have sent it. Azure's prompt-filter chunk and
content-filter annotations are dropped the same way. Unchanged events go out byte for byte;
the upstream's ``[DONE]`` is held back and sent by ``finish``. Memory is bounded: one
partial event and at most ``SAMPLE_CHARS`` of generated text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from burncloud.protocols.openai_chunks import DONE, error_event
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.errors import in_band_error
from burncloud.providers.openai.usage import token_usage

SAMPLE_CHARS = 16_384
_NULL_USAGE = (b',"usage":null', b'"usage":null,')
_CHOICE_FILTER_KEYS = ("content_filter_results", "content_filter_offsets")


@dataclass(slots=True)
class TextSample:
    """The first ``SAMPLE_CHARS`` characters of generated text, for estimates."""

    parts: list[str] = field(default_factory=list)
    chars: int = 0

    def add(self, text: str) -> None:
        room = SAMPLE_CHARS - self.chars
        if room > 0 and text:
            self.parts.append(text[:room])
            self.chars += min(len(text), room)


@dataclass(slots=True)
class PassthroughStream:
    """A ChatStream for upstreams that already speak OpenAI chunks."""

    include_usage: bool
    strip_filters: bool = False
    usage: TokenUsage | None = None
    _sample: TextSample = field(default_factory=TextSample)
    _framer: SSEFramer = field(default_factory=SSEFramer)

    def feed(self, chunk: bytes) -> bytes:
        """The events ``chunk`` completed, as the client should receive them."""
        return b"".join(self._relay(event) for event in self._framer.feed(chunk))

    def finish(self) -> bytes:
        """An unterminated last event if it is whole, then ``data: [DONE]``."""
        rest = self._framer.flush()
        tail = self._relay(rest.rstrip(b"\r\n") + b"\n\n") if rest.strip() else b""
        return tail + DONE

    def texts(self) -> list[str]:
        return list(self._sample.parts)

    def _relay(self, raw: bytes) -> bytes:
        parsed = parse_event(raw)
        if parsed is None:
            # Comments are keep-alives that stop proxies timing the client out; a data-less
            # named event would make the OpenAI SDK parse empty JSON.
            return raw if _is_comment(raw) else b""
        if parsed.data.strip() == "[DONE]":
            return b""
        try:
            data = orjson.loads(parsed.data)
        except orjson.JSONDecodeError:
            return b""  # a torn or garbled event would crash the client's parser
        if not isinstance(data, dict):
            return b""
        if data.get("error") and not data.get("choices"):
            return error_event(*in_band_error(data["error"]))
        self._observe(data)
        return self._rewrite(raw, data)

    def _observe(self, data: dict[str, Any]) -> None:
        usage = token_usage(data.get("usage"))
        if usage is not None:
            self.usage = usage  # the last non-null figure wins (DashScope, compatibles)
        for choice in data.get("choices") or ():
            if isinstance(choice, dict):
                for text in delta_texts(choice):
                    self._sample.add(text)

    def _rewrite(self, raw: bytes, data: dict[str, Any]) -> bytes:
        has_usage = bool(data.get("usage"))
        if not data.get("choices") and not (has_usage and self.include_usage):
            return b""  # the usage chunk we added, or Azure's prompt-filter chunk
        changed = self.strip_filters and _strip_filters(data)
        if not self.include_usage and "usage" in data:
            if not changed and not has_usage:
                return _drop_null_usage(raw, data)
            del data["usage"]
            changed = True
        if not changed and _is_plain(raw):
            return raw
        if self.strip_filters and _is_empty(data):
            return b""
        return b"data: " + orjson.dumps(data) + b"\n\n"


def delta_texts(choice: dict[str, Any]) -> list[str]:
    """The generated text in one streamed choice: content, refusal, reasoning, tool calls."""
    delta = choice.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    texts = [choice.get("text"), delta.get("content"), delta.get("refusal")]
    texts += [delta.get("reasoning_content"), delta.get("reasoning")]
    for call in delta.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            texts += [function.get("name"), function.get("arguments")]
    return [text for text in texts if isinstance(text, str) and text]


def _is_comment(raw: bytes) -> bool:
    return all(line.startswith(b":") for line in raw.splitlines() if line)


def _is_plain(raw: bytes) -> bool:
    """True for one ``data:`` line and its blank line: safe to forward as it is.

    Named events, ids or multi-line data are re-encoded, since the OpenAI SDK treats a
    named event as something other than a chat chunk."""
    return raw.startswith(b"data:") and len(raw.rstrip(b"\r\n").splitlines()) == 1


def _drop_null_usage(raw: bytes, data: dict[str, Any]) -> bytes:
    """``raw`` without its ``"usage":null`` member, spliced out when it appears exactly once."""
    if _is_plain(raw) and raw.count(b'"usage"') == 1:
        for pattern in _NULL_USAGE:
            if pattern in raw:
                return raw.replace(pattern, b"", 1)
    del data["usage"]
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _strip_filters(data: dict[str, Any]) -> bool:
    """Remove Azure's content-filter annotations; True if there were any."""
    changed = data.pop("prompt_filter_results", None) is not None
    for choice in data.get("choices") or ():
        if isinstance(choice, dict):
            for key in _CHOICE_FILTER_KEYS:
                changed = (choice.pop(key, None) is not None) or changed
    return changed


def _is_empty(data: dict[str, Any]) -> bool:
    """True for a chunk that, filter annotations removed, says nothing."""
    choices = data.get("choices") or ()
    if not choices or data.get("usage"):
        return False
    return all(
        isinstance(c, dict) and not c.get("delta") and c.get("finish_reason") is None
        for c in choices
    )
