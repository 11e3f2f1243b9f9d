from __future__ import annotations

import base64
import random
import struct
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from burncloud.protocols.eventstream import (
    MAX_PAYLOAD_LENGTH,
    EventMessage,
    EventStreamError,
    EventStreamParser,
    decode_message,
    encode_message,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
STREAMS = ["tool_use", "claude_reasoning", "nova_text"]

# PROTOCOLS.md 7.5: a messageStart event with payload {"role":"assistant"}, 118 bytes.
KNOWN_ANSWER = bytes.fromhex(
    "00000076" "00000052" "96d5fade"
    "0b" "3a6576656e742d74797065" "07" "000c" "6d6573736167655374617274"
    "0d" "3a636f6e74656e742d74797065" "07" "0010" "6170706c69636174696f6e2f6a736f6e"
    "0d" "3a6d6573736167652d74797065" "07" "0005" "6576656e74"
    "7b22726f6c65223a22617373697374616e74227d"
    "6fa8c599"
)  # fmt: skip
KNOWN_HEADERS = {
    ":event-type": "messageStart",
    ":content-type": "application/json",
    ":message-type": "event",
}


def stream_bytes(name: str) -> bytes:
    return base64.b64decode(
        (FIXTURES / f"bedrock_converse_stream_{name}.eventstream.b64").read_text()
    )


def decoded_frames(name: str) -> list[dict]:
    path = FIXTURES / f"bedrock_converse_stream_{name}.decoded.jsonl"
    return [orjson.loads(line) for line in path.read_text().splitlines() if line]


def as_json(messages: list[EventMessage]) -> list[dict]:
    return [{"headers": dict(m.headers), "payload": orjson.loads(m.payload)} for m in messages]


def feed_in_chunks(data: bytes, sizes: list[int]) -> list[EventMessage]:
    parser, messages, pos = EventStreamParser(), [], 0
    for size in sizes:
        messages += parser.feed(data[pos : pos + size])
        pos += size
    messages += parser.feed(data[pos:])
    assert parser.pending == 0
    return messages


def random_sizes(seed: int, total: int) -> list[int]:
    rng = random.Random(seed)
    sizes = []
    while sum(sizes) < total:
        sizes.append(rng.randint(1, 200))
    return sizes


def test_known_answer_vector_decodes() -> None:
    message = decode_message(KNOWN_ANSWER)
    assert len(KNOWN_ANSWER) == 118
    assert dict(message.headers) == KNOWN_HEADERS
    assert message.payload == b'{"role":"assistant"}'
    assert message.header(":event-type") == "messageStart"


def test_encoding_reproduces_the_known_answer_vector() -> None:
    assert encode_message(KNOWN_HEADERS, b'{"role":"assistant"}') == KNOWN_ANSWER


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_frames_match_the_botocore_decoding(name: str) -> None:
    messages = EventStreamParser().feed(stream_bytes(name))
    assert as_json(messages) == decoded_frames(name)


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("seed", range(5))
def test_fixture_frames_survive_random_chunk_boundaries(name: str, seed: int) -> None:
    data = stream_bytes(name)
    whole = EventStreamParser().feed(data)
    assert feed_in_chunks(data, random_sizes(seed, len(data))) == whole


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_frames_survive_one_byte_chunks(name: str) -> None:
    data = stream_bytes(name)
    assert feed_in_chunks(data, [1] * len(data)) == EventStreamParser().feed(data)


def test_a_partial_message_waits_for_the_rest() -> None:
    parser = EventStreamParser()
    assert parser.feed(KNOWN_ANSWER[:50]) == []
    assert parser.pending == 50
    assert len(parser.feed(KNOWN_ANSWER[50:] + KNOWN_ANSWER[:3])) == 1
    assert parser.pending == 3


@pytest.mark.parametrize("name", STREAMS)
def test_a_flipped_payload_byte_fails_the_message_crc(name: str) -> None:
    data = bytearray(stream_bytes(name))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(EventStreamError, match="message CRC mismatch"):
        EventStreamParser().feed(bytes(data))


def test_a_flipped_length_byte_fails_the_prelude_crc_before_the_body_arrives() -> None:
    data = bytearray(KNOWN_ANSWER)
    data[3] ^= 0x40
    parser = EventStreamParser()
    with pytest.raises(EventStreamError, match="prelude CRC mismatch"):
        parser.feed(bytes(data[:12]))


def test_a_failed_parser_keeps_failing() -> None:
    data = bytearray(KNOWN_ANSWER)
    data[-10] ^= 0xFF
    parser = EventStreamParser()
    with pytest.raises(EventStreamError):
        parser.feed(bytes(data))
    with pytest.raises(EventStreamError):
        parser.feed(KNOWN_ANSWER)
    assert parser.pending == 0


def _prelude(total: int, headers_length: int) -> bytes:
    head = struct.pack(">II", total, headers_length)
    return head + struct.pack(">I", zlib.crc32(head))


def test_an_oversized_payload_is_refused_without_buffering_it() -> None:
    total = 16 + MAX_PAYLOAD_LENGTH + 1
    with pytest.raises(EventStreamError, match="payload too long"):
        EventStreamParser().feed(_prelude(total, 0))


def test_oversized_headers_are_refused() -> None:
    with pytest.raises(EventStreamError, match="headers too long"):
        EventStreamParser().feed(_prelude(200_000, 131_073))


def test_impossible_lengths_are_refused() -> None:
    with pytest.raises(EventStreamError, match="impossible"):
        EventStreamParser().feed(_prelude(20, 10))


def _with_header_block(block: bytes) -> bytes:
    body = _prelude(12 + len(block) + 4, len(block)) + block
    return body + struct.pack(">I", zlib.crc32(body))


def test_an_unknown_header_type_is_refused() -> None:
    with pytest.raises(EventStreamError, match="unknown value type 10"):
        decode_message(_with_header_block(b"\x01a\x0a"))


def test_a_header_running_past_its_block_is_refused() -> None:
    with pytest.raises(EventStreamError, match="malformed"):
        decode_message(_with_header_block(b"\x01a\x07\x00\x09abc"))


def test_every_header_type_round_trips() -> None:
    headers = {
        "yes": True,
        "no": False,
        "small": -5,
        "big": 2**40,
        "blob": b"\x00\xff",
        "text": "héllo",
        "when": datetime(2025, 1, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }
    message = decode_message(encode_message(headers, b"payload"))
    assert dict(message.headers) == headers
    assert message.payload == b"payload"
    assert message.header("blob") is None


def test_narrow_integer_header_types_decode() -> None:
    block = b"\x01a\x02\xff" + b"\x01b\x03\x01\x00" + b"\x01c\x04\x00\x00\x00\x07"
    assert dict(decode_message(_with_header_block(block)).headers) == {"a": -1, "b": 256, "c": 7}


def test_botocore_reads_what_encode_message_writes() -> None:
    eventstream = pytest.importorskip(
        "botocore.eventstream", reason="botocore (the optional `bedrock` extra) is not installed"
    )
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(encode_message({":message-type": "event", "n": 3}, b"{}") + KNOWN_ANSWER)
    messages = list(buffer)
    assert [m.headers for m in messages] == [{":message-type": "event", "n": 3}, KNOWN_HEADERS]
    assert messages[1].payload == b'{"role":"assistant"}'
