"""Relaying an OpenAI-format SSE stream to an OpenAI client: meter it, hide what we added.

One transcoder serves every upstream that already speaks OpenAI chunks: the passthrough
relay (OpenAI, compatibles, Qwen) and the converted path (Azure, ``chat_stream``). The relay
always asks such upstreams for stream usage (``include_usage``). When the client asked too,
events go out byte for byte; when it did not, the usage-only chunk is dropped and the
``usage`` member cut from every other chunk (after recording it: some vendors put the figure
on the finishing chunk), so the client sees what OpenAI would have sent it. With
``strip_filters`` (Azure) the prompt-filter chunk and content-filter annotations go too.

This runs once per streamed event, so an ordinary content chunk (one ``data: {...}`` line
holding neither ``"usage"`` nor ``"error"``) is never parsed: it goes out as it came, a
``"usage":null`` member cut at the byte level. The text an estimate needs is read on
demand from the first ``SAMPLE_BYTES`` of those chunks, its length scaled to all of them.

What else the client gets is what an OpenAI SDK can read: comments (keep-alives) as they
came; a named or multi-line event as one plain ``data:`` line; an event without data, or
whose data is not a JSON object, dropped (the SDK would fail on it); an upstream's
``{"error": ...}`` event as an OpenAI error event; the upstream's ``[DONE]`` as soon as it
comes, and nothing after it. A stream that ends without ``[DONE]`` gets an error event
(unless it carried its own), then ``[DONE]``: a client must never take a cut-off answer
for a whole one. Memory is bounded: one partial event and ``SAMPLE_BYTES`` of chunks.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.protocols.openai_chunks import DONE, error_event
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.errors import in_band_error
from burncloud.providers.openai.usage import token_usage
from burncloud.providers.text_sample import KeptChunks, TextSample

CUT_SHORT = "the upstream stream ended before the answer was complete"
_NULL_USAGE = (b',"usage":null', b'"usage":null,')
_CHOICE_FILTER_KEYS = ("content_filter_results", "content_filter_offsets")


class OpenAIChunkStream:
    """One OpenAI-format stream on its way to an OpenAI client; a ``ChatStream``."""

    __slots__ = (
        "_framer",
        "_kept",
        "_parsed",
        "failed",
        "finished",
        "include_usage",
        "strip_filters",
        "usage",
    )

    def __init__(self, include_usage: bool, strip_filters: bool = False) -> None:
        self.include_usage = include_usage  # the client asked for the usage chunk
        self.strip_filters = strip_filters  # Azure: drop its content-filter annotations
        self.usage: TokenUsage | None = None  # the last non-null figure (DashScope resends)
        self.finished = False  # [DONE] was passed on: the client has the whole answer
        self.failed = False  # an error event was passed on
        self._framer = SSEFramer()
        self._kept = KeptChunks()  # unparsed content chunks' data
        self._parsed = TextSample()  # the text of the chunks parsed anyway

    def feed(self, chunk: bytes) -> bytes:
        """The events ``chunk`` completed, as the client should receive them."""
        return b"".join([self._relay(event) for event in self._framer.feed(chunk)])

    def finish(self) -> bytes:
        """An unterminated last event if it is whole; then, unless ``[DONE]`` came, an
        error event (unless the upstream sent its own) and ``[DONE]``."""
        rest = self._framer.flush()
        out = b""
        if rest.strip() and not self.finished:  # checked: a cut may have torn it
            out = self._relay_checked(rest.rstrip(b"\r\n") + b"\n\n")
        if self.finished:
            return out
        self.finished = True
        return out + (b"" if self.failed else error_event(CUT_SHORT)) + DONE

    def texts(self) -> list[str]:
        """The first ``SAMPLE_CHARS`` or so of the generated text, in pieces."""
        return list(self._read().parts)

    @property
    def text_chars(self) -> int:
        """Characters of generated text so far (past the sample, scaled from it)."""
        return self._read().total

    def _relay(self, raw: bytes) -> bytes:
        """One whole event as the client gets it; a content chunk is not parsed. (The
        plain-chunk checks are spelled out here, not called: this runs per event.)"""
        if self.finished:
            return b""
        if not raw.startswith(b"data: {"):
            return self._relay_other(raw)
        data = raw[6:].rstrip(b"\r\n")
        if b"\n" in data or b"\r" in data:
            return self._relay_other(raw)
        if self.strip_filters or b'"error"' in data:
            return self._relay_json(data, raw)
        if b'"usage"' in data:
            if not _only_null_usage(data):
                return self._relay_json(data, raw)
            self._kept.keep(data)
            if self.include_usage:
                return raw
            return raw.replace(_NULL_USAGE[0], b"", 1).replace(_NULL_USAGE[1], b"", 1)
        self._kept.keep(data)
        return raw

    def _relay_checked(self, raw: bytes) -> bytes:
        """Like ``_relay``, but the event is parsed whatever it holds."""
        data = _plain_data(raw)
        return self._relay_other(raw) if data is None else self._relay_json(data, raw)

    def _relay_other(self, raw: bytes) -> bytes:
        """Anything but a plain ``data: {`` line: comments, ``[DONE]``, named, multi-line."""
        event = parse_event(raw)
        if event is None:
            # Comments are keep-alives that stop proxies timing the client out; a data-less
            # named event would make the OpenAI SDK parse empty JSON.
            return raw if _is_comment(raw) else b""
        plain = _is_plain(raw)
        if event.data.strip() == "[DONE]":
            self.finished = True
            return raw if plain else DONE
        return self._relay_json(event.data.encode(), raw if plain else None)

    def _relay_json(self, data: bytes, raw: bytes | None) -> bytes:
        """A parsed event as the client gets it; ``raw`` is None when it must be rewritten."""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""  # a torn or garbled event would crash the client's parser
        if not isinstance(chunk, dict):
            return b""
        if chunk.get("error") and not chunk.get("choices"):
            self.failed = True
            return error_event(*in_band_error(chunk["error"]))
        usage = token_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        for text in _chunk_texts(chunk):
            self._parsed.add(text)
        self._kept.changed()
        return self._rewrite(chunk, raw)

    def _rewrite(self, chunk: dict[str, Any], raw: bytes | None) -> bytes:
        has_usage = bool(chunk.get("usage"))
        if not chunk.get("choices") and not (has_usage and self.include_usage):
            return b""  # the usage chunk we added, or Azure's prompt-filter chunk
        changed = self.strip_filters and _strip_filters(chunk)
        if not self.include_usage and "usage" in chunk:
            if raw is not None and not changed and not has_usage and _only_null_usage(raw):
                return _cut_null_usage(raw)
            del chunk["usage"]
            changed = True
        if raw is not None and not changed:
            return raw
        if self.strip_filters and _is_empty(chunk):
            return b""
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def _read(self) -> TextSample:
        """The text of the kept chunks, scaled to every unparsed one, then the parsed ones'."""
        return self._kept.sample(lambda data: _chunk_texts(_loads(data)), self._parsed)


def _plain_data(raw: bytes) -> bytes | None:
    """The data of an event that is one ``data: {`` line, as OpenAI writes every chunk;
    None for any other event."""
    if not raw.startswith(b"data: {"):
        return None
    data = raw[6:].rstrip(b"\r\n")
    return None if b"\n" in data or b"\r" in data else data


def _only_null_usage(data: bytes) -> bool:
    """A single usage member, and it is null (a JSON string cannot hold these bytes)."""
    return (_NULL_USAGE[0] in data or _NULL_USAGE[1] in data) and data.count(b'"usage"') == 1


def _cut_null_usage(raw: bytes) -> bytes:
    return raw.replace(_NULL_USAGE[0], b"", 1).replace(_NULL_USAGE[1], b"", 1)


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _chunk_texts(chunk: Any) -> list[str]:
    """The generated text in one chunk's choices."""
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    texts: list[str] = []
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict):
            texts += _delta_texts(choice)
    return texts


def _delta_texts(choice: dict[str, Any]) -> list[str]:
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

    Named events, ids or multi-line data are re-encoded as OpenAI writes every chunk: it
    never sends them, and clients' SSE readers differ on what they make of them."""
    return raw.startswith(b"data:") and len(raw.rstrip(b"\r\n").splitlines()) == 1


def _strip_filters(chunk: dict[str, Any]) -> bool:
    """Remove Azure's content-filter annotations; True if there were any."""
    changed = chunk.pop("prompt_filter_results", None) is not None
    for choice in chunk.get("choices") or ():
        if isinstance(choice, dict):
            for key in _CHOICE_FILTER_KEYS:
                changed = (choice.pop(key, None) is not None) or changed
    return changed


def _is_empty(chunk: dict[str, Any]) -> bool:
    """True for a chunk that, filter annotations removed, says nothing."""
    choices = chunk.get("choices") or ()
    if not choices or chunk.get("usage"):
        return False
    return all(
        isinstance(c, dict) and not c.get("delta") and c.get("finish_reason") is None
        for c in choices
    )
