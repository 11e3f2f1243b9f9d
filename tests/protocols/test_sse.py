from __future__ import annotations

import random
from pathlib import Path

import pytest

from burncloud.protocols.sse import SSEFramer, encode_event, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _frame_all(data: bytes, sizes: list[int]) -> list[bytes]:
    framer, events, pos = SSEFramer(), [], 0
    for size in sizes:
        events += framer.feed(data[pos : pos + size])
        pos += size
    events += framer.feed(data[pos:])
    rest = framer.flush()
    return events + ([rest] if rest else [])


@pytest.mark.parametrize("separator", [b"\n", b"\r\n", b"\r"])
def test_events_survive_every_chunk_boundary(separator: bytes) -> None:
    body = (
        separator.join(
            [b'data: {"a":"h\xc3\xa9llo"}', b"", b": keep-alive", b"", b"event: x", b"data: 2", b""]
        )
        + separator
    )
    expected = _frame_all(body, [len(body)])
    assert b"".join(expected) == body
    for cut in range(1, len(body)):
        assert _frame_all(body, [cut]) == expected, cut


def test_random_chunking_reassembles_a_recorded_stream() -> None:
    raw = (FIXTURES / "openai" / "chat_stream_text_with_usage.sse").read_bytes()
    whole = _frame_all(raw, [len(raw)])
    rng = random.Random(7)
    for _ in range(50):
        sizes = [rng.randint(1, 40) for _ in range(len(raw) // 10)]
        assert _frame_all(raw, sizes) == whole
    assert b"".join(whole) == raw


def test_parse_event_fields() -> None:
    event = parse_event(b'event: message_start\r\ndata: {"x":\r\ndata:  1}\r\n\r\n')
    assert event is not None
    assert event.event == "message_start"
    assert event.data == '{"x":\n 1}'
    assert parse_event(b": comment\n\n") is None


def test_encode_event() -> None:
    assert encode_event(b"{}") == b"data: {}\n\n"
    assert encode_event(b"{}", "ping") == b"event: ping\ndata: {}\n\n"
