"""Relaying an OpenAI Responses API stream (``POST /v1/responses``) to its client, metered.

Events go out exactly as the upstream wrote them, one by one as they complete; nothing is
re-serialised. The meter looks at each event's type only (its ``event:`` line, or the
``"type"`` OpenAI writes first in the data): the usage comes from the terminal event
(``response.completed``, ``response.incomplete`` or ``response.failed``, each carrying the
whole response), and the data of text deltas (output text, refusals, reasoning, function
call arguments) is kept unparsed, up to ``SAMPLE_BYTES``, for an estimate when no usage
comes. A stream that ends without a terminal event or an error of its own gets an ``error``
event in the Responses shape (``ResponseErrorEvent``), so a client never takes a cut-off
answer for a whole one. Nothing after the terminal event is relayed.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.protocols.openai_chunks import in_band_failure
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.stream import CUT_SHORT
from burncloud.providers.openai.usage import token_usage
from burncloud.providers.text_sample import KeptChunks, TextSample

TERMINAL = frozenset({b"response.completed", b"response.incomplete", b"response.failed"})
FAILED = b"response.failed"
ERROR = b"error"
DELTAS = frozenset(
    {
        b"response.output_text.delta",
        b"response.refusal.delta",
        b"response.reasoning_text.delta",
        b"response.reasoning_summary_text.delta",
        b"response.function_call_arguments.delta",
        b"response.custom_tool_call_input.delta",
    }
)
_TYPE_FIRST = b'data: {"type":"'


class ResponsesEventStream:
    """One Responses event stream on its way to an OpenAI client; a ``ChatStream``."""

    __slots__ = (
        "_events",
        "_framer",
        "_kept",
        "failed",
        "failure",
        "finished",
        "usage",
    )

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None  # from the terminal event's response
        self.finished = False  # the terminal event (or our error event) was passed on
        self.failed = False  # an error event or ``response.failed`` was passed on
        self.failure: tuple[int, str] | None = None  # its status and message, for the log
        self._framer = SSEFramer()
        self._events = 0  # events relayed: the next event's ``sequence_number``
        self._kept = KeptChunks()  # text deltas' raw events

    def feed(self, chunk: bytes) -> bytes:
        """The events ``chunk`` completed, byte for byte."""
        return b"".join([self._relay(event) for event in self._framer.feed(chunk)])

    def finish(self) -> bytes:
        """A last event without its blank line, if whole; then, unless the stream ended or
        failed, an error event saying it was cut short."""
        rest = self._framer.flush()
        out = b""
        if rest.strip() and not self.finished and _is_whole(rest):
            out = self._relay(rest.rstrip(b"\r\n") + b"\n\n")
        if self.finished or self.failed:
            self.finished = True
            return out
        self.failure = (502, CUT_SHORT)
        return out + self.error_event(CUT_SHORT)

    def error_event(self, message: str) -> bytes:
        """An ``error`` event in the Responses stream's shape, numbered after the last one;
        the stream is over once it is sent."""
        self.finished = True
        return standalone_error_event(message, self._events)

    def texts(self) -> list[str]:
        """The first ``SAMPLE_CHARS`` or so of the generated text, in pieces."""
        return list(self._read().parts)

    @property
    def text_chars(self) -> int:
        """Characters of generated text so far (past the sample, scaled from it)."""
        return self._read().total

    def _relay(self, raw: bytes) -> bytes:
        if self.finished:
            return b""
        kind = event_type(raw)
        if kind is None:  # a comment (keep-alive), or a chat-style ``{"error": ...}`` event
            if b'"error"' in raw and (data := _data(raw)).get("error"):
                self._fail(data)
            return raw
        self._events += 1
        if kind in DELTAS:
            self._kept.keep(raw)
        elif kind in TERMINAL:
            self._end(kind, _data(raw))
        elif kind == ERROR:
            self._fail(_data(raw))
        return raw

    def _end(self, kind: bytes, data: dict[str, Any]) -> None:
        response = data.get("response")
        response = response if isinstance(response, dict) else {}
        self.usage = token_usage(response.get("usage")) or self.usage
        self.finished = True
        if kind == FAILED:
            self._fail(response)

    def _fail(self, holder: dict[str, Any]) -> None:
        """Note a failure the upstream reported: ``holder`` is an error event or a failed
        response (its ``error`` member)."""
        error = holder.get("error")
        error = error if isinstance(error, dict) else holder
        self.failed = True
        if self.failure is None:
            self.failure = _failure(error)

    def _read(self) -> TextSample:
        return self._kept.sample(_delta_texts)


def standalone_error_event(message: str, sequence_number: int = 0) -> bytes:
    """An ``error`` event in the Responses stream's shape (``ResponseErrorEvent``)."""
    event = {
        "type": "error",
        "code": "upstream_error",
        "message": message,
        "param": None,
        "sequence_number": sequence_number,
    }
    return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"


def event_type(raw: bytes) -> bytes | None:
    """The type of one raw event: its ``event:`` line, else its data's ``type``; None for a
    comment or an event without a typed JSON object."""
    if raw.startswith(b"event:"):
        return raw[6 : raw.find(b"\n")].strip()
    if raw.startswith(_TYPE_FIRST):
        start = len(_TYPE_FIRST)
        return raw[start : raw.find(b'"', start)]
    kind = _data(raw).get("type")
    return kind.encode() if isinstance(kind, str) and kind else None


def response_texts(answer: object) -> list[str]:
    """The generated texts of a whole Responses answer, for an estimate: output text,
    refusals, reasoning summaries and text, function call names and arguments."""
    output = answer.get("output") if isinstance(answer, dict) else None
    texts: list[object] = []
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, dict):
            continue
        texts += [item.get("name"), item.get("arguments"), item.get("input")]
        for key in ("content", "summary"):
            parts = item.get(key)
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, dict):
                    texts += [part.get("text"), part.get("refusal")]
    return [text for text in texts if isinstance(text, str) and text]


def _delta_texts(raw: bytes) -> list[str]:
    """The text of one kept delta event."""
    delta = _data(raw).get("delta")
    return [delta] if isinstance(delta, str) and delta else []


def _data(raw: bytes) -> dict[str, Any]:
    """The JSON object of one raw event's data; empty when it holds none."""
    event = parse_event(raw)
    if event is None:
        return {}
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_whole(raw: bytes) -> bool:
    """Whether an event the stream ended inside is whole: its data is a JSON object."""
    return bool(_data(raw.rstrip(b"\r\n") + b"\n\n"))


def _failure(error: dict[str, Any]) -> tuple[int, str]:
    """The status and message of an upstream-reported error, by OpenAI's codes."""
    event = {"error": {"message": error.get("message"), "code": error.get("code")}}
    found = in_band_failure(b"data: " + orjson.dumps(event))
    return found if found is not None else (502, "upstream error")
