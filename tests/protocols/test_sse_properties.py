"""Properties of the SSE framer: how a stream is cut into chunks never changes the events,
for LF, CRLF and CR line ends; nothing is lost or invented; no input makes it raise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burncloud.protocols.sse import SSEEvent, SSEFramer, parse_event

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)
ENDINGS = (b"\n", b"\r\n", b"\r")
BLANK_LINE_END = re.compile(rb"(?:\r\n|\r|\n)(?:\r\n|\r|\n)\Z")

# What str.splitlines() also breaks at, besides CR and LF: parse_event must not.
UNICODE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Field values: any text without line ends (they end a line in every spelling).
value = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n" + UNICODE_BREAKS), max_size=30
).map(lambda text: text.encode())


@dataclass(frozen=True, slots=True)
class Written:
    """An event as a server writes it: its lines (no line ends yet) and what it means."""

    lines: tuple[bytes, ...]
    meaning: SSEEvent | None


@st.composite
def events(draw: st.DrawFn) -> Written:
    data = draw(st.lists(value, min_size=0, max_size=3))
    name = draw(st.none() | value.filter(lambda v: v != b""))
    event_id = draw(st.none() | value)
    comments = draw(st.lists(value.map(lambda v: b":" + v), max_size=2))
    lines = [*comments]
    if name is not None:
        lines.append(b"event: " + name)
    if event_id is not None:
        lines.append(b"id: " + event_id)
    lines += [b"data: " + line for line in data]
    if not lines:
        lines = [b":keep-alive"]
    meaning = None
    if data:
        meaning = SSEEvent(
            event=(name or b"message").decode(),
            data="\n".join(line.decode() for line in data),
            id=None if event_id is None else event_id.decode(),
        )
    return Written(tuple(lines), meaning)


def encode(written: Written, ending: bytes) -> bytes:
    return b"".join(line + ending for line in written.lines) + ending


def frame(chunks: list[bytes]) -> list[bytes]:
    """Every raw event of ``chunks`` fed in order, the unterminated rest included."""
    framer = SSEFramer()
    out = [event for chunk in chunks for event in framer.feed(chunk)]
    rest = framer.flush()
    return out + ([rest] if rest else [])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


@SETTINGS
@given(
    st.lists(events(), min_size=1, max_size=6),
    st.sampled_from(ENDINGS),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_any_chunking_yields_the_events_of_the_whole_stream(written, ending, cuts) -> None:
    raw = [encode(event, ending) for event in written]
    stream = b"".join(raw)
    whole = frame([stream])
    assert whole == raw  # one raw event per written event, byte for byte
    assert frame(split(stream, cuts)) == whole
    assert frame([bytes([byte]) for byte in stream]) == whole
    assert [parse_event(event) for event in whole] == [event.meaning for event in written]


@SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_arbitrary_bytes_never_raise_and_lose_nothing(chunks: list[bytes]) -> None:
    framer = SSEFramer()
    out = []
    for chunk in chunks:
        for event in framer.feed(chunk):
            assert BLANK_LINE_END.search(event), event  # each ends with its blank line
            out.append(event)
    assert b"".join(out) + framer.flush() == b"".join(chunks)
    for event in out:
        parsed = parse_event(event)
        assert parsed is None or isinstance(parsed.data, str)


@SETTINGS
@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=10))
def test_arbitrary_bytes_frame_the_same_however_they_are_cut(data: bytes, cuts) -> None:
    assert b"".join(frame(split(data, cuts))) == data
    assert frame(split(data, cuts)) == frame([data])


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_unicode_line_separator_inside_data_is_kept(separator: str) -> None:
    data = orjson.dumps({"content": f"a{separator}b"})  # orjson leaves U+2028 unescaped
    event = parse_event(b"data: " + data + b"\n\n")
    assert event is not None and orjson.loads(event.data) == {"content": f"a{separator}b"}
