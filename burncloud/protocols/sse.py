"""Server-Sent Events framing, incremental and byte-exact.

``SSEFramer`` cuts an arbitrary stream of byte chunks into complete raw events (the bytes
of each event including its blank-line terminator), so a relay can forward events
untouched and look inside only the ones it cares about. ``parse_event`` reads the fields
of one raw event by the WHATWG rules: ``\\n``, ``\\r\\n`` or ``\\r`` line ends, comments,
multi-line ``data``, one optional space after the colon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    id: str | None = None


class SSEFramer:
    """Buffers bytes until whole events are present; yields each raw event's bytes."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk``; return the complete raw events it finished, terminators included."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" not in buffer:  # LF-only, as nearly every upstream sends: a plain split
            *whole, self._buffer = buffer.split(b"\n\n")
            return [event + b"\n\n" for event in whole]
        events: list[bytes] = []
        start = 0
        while True:
            match = _EVENT_END.search(buffer, start)
            if match is None:
                break
            end = match.end()
            if buffer[end - 1 : end] == b"\r" and end == len(buffer):
                break  # a lone CR at the end may be the first half of CRLF
            events.append(buffer[start:end])
            start = end
        self._buffer = buffer[start:]
        return events

    def flush(self) -> bytes:
        """Whatever is left when the stream ends (an event without its blank line)."""
        rest, self._buffer = self._buffer, b""
        return rest


_LINE_END = re.compile(r"\r\n|\r|\n")


class EventReader:
    """Reads an SSE stream as it passes, one whole event at a time (``read``), chunk
    boundaries and a last event without its blank line included; a meter's base."""

    __slots__ = ("_framer",)

    def __init__(self) -> None:
        self._framer = SSEFramer()

    def feed(self, chunk: bytes) -> None:
        """Read the events ``chunk`` completes."""
        for raw in self._framer.feed(chunk):
            self.read(raw)

    def finish(self) -> None:
        """Read a last event the stream ended without its blank line."""
        rest = self._framer.flush()
        if rest.strip():
            self.read(rest + b"\n\n")

    def read(self, raw: bytes) -> None:
        """Read one whole raw event."""
        raise NotImplementedError


def parse_event(raw: bytes) -> SSEEvent | None:
    """The fields of one raw event; None for an event with no data (comments, keep-alives)."""
    text = raw.decode("utf-8", errors="replace")
    name, data_lines, event_id = "message", [], None
    # Only CR, LF and CRLF end an SSE line: str.splitlines would also split at U+2028,
    # U+2029 and U+0085, which JSON may carry raw inside a string.
    for line in _LINE_END.split(text):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data_lines.append(value)
        elif field == "event":
            name = value
        elif field == "id":
            event_id = value
    if not data_lines:
        return None
    return SSEEvent(event=name, data="\n".join(data_lines), id=event_id)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event as bytes: optional ``event:`` line, one ``data:`` line, blank line."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"
