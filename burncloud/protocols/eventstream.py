"""AWS event-stream framing (``application/vnd.amazon.eventstream``), incremental and CRC-checked.

Bedrock's ConverseStream answers with a sequence of binary messages: a 12-byte prelude
(total length, headers length, prelude CRC), typed headers, a payload and a CRC-32 of the
whole message. ``EventStreamParser`` cuts messages out of byte chunks of any size, verifies
both CRCs and refuses lengths beyond the format's limits, so its buffer never holds more
than one message. ``encode_message`` builds messages, for fakes and tests.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRELUDE_LENGTH = 12
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_MIN_MESSAGE_LENGTH = PRELUDE_LENGTH + 4

HeaderValue = bool | int | bytes | str | datetime | uuid.UUID

_INTEGER_FORMATS = {2: ">b", 3: ">h", 4: ">i", 5: ">q"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EventStreamError(ValueError):
    """The bytes are not a valid event stream: bad CRC, impossible length or header."""


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One decoded message: its headers by name and its raw payload."""

    headers: Mapping[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str | None:
        """The string header ``name``, or None when absent or not a string."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class EventStreamParser:
    """Buffers bytes until whole messages are present; returns each verified message."""

    __slots__ = ("_buffer", "_failure")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failure: EventStreamError | None = None

    @property
    def pending(self) -> int:
        """Bytes held back as the start of a message not yet complete."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[EventMessage]:
        """Add ``chunk``; return the messages it completed. Raises EventStreamError."""
        if self._failure is not None:
            raise self._failure
        self._buffer += chunk
        messages: list[EventMessage] = []
        offset = 0
        try:
            while (length := self._complete_length(offset)) is not None:
                messages.append(decode_message(bytes(self._buffer[offset : offset + length])))
                offset += length
        except EventStreamError as exc:
            self._failure = exc
            self._buffer.clear()
            raise
        del self._buffer[:offset]
        return messages

    def _complete_length(self, offset: int) -> int | None:
        """The length of the message at ``offset`` if all of it is buffered."""
        if len(self._buffer) - offset < PRELUDE_LENGTH:
            return None
        total = _check_prelude(bytes(self._buffer[offset : offset + PRELUDE_LENGTH]))
        return total if len(self._buffer) - offset >= total else None


def decode_message(raw: bytes) -> EventMessage:
    """Decode one whole message, verifying both CRCs; raises EventStreamError."""
    total = _check_prelude(raw[:PRELUDE_LENGTH])
    if len(raw) != total:
        raise EventStreamError(f"event-stream message is {len(raw)} bytes, prelude says {total}")
    (expected,) = struct.unpack(">I", raw[-4:])
    actual = zlib.crc32(raw[:-4])
    if actual != expected:
        raise EventStreamError(
            f"event-stream message CRC mismatch: computed {actual:08x}, frame says {expected:08x}"
        )
    (headers_length,) = struct.unpack(">I", raw[4:8])
    headers_end = PRELUDE_LENGTH + headers_length
    headers = _decode_headers(raw[PRELUDE_LENGTH:headers_end])
    return EventMessage(headers=headers, payload=raw[headers_end:-4])


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One event-stream message with ``headers`` (in order) and ``payload``."""
    encoded = b"".join(_encode_header(name, value) for name, value in headers.items())
    total = PRELUDE_LENGTH + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _check_prelude(prelude: bytes) -> int:
    """The total length announced by a verified prelude."""
    total, headers_length, expected = struct.unpack(">III", prelude)
    actual = zlib.crc32(prelude[:8])
    if actual != expected:
        raise EventStreamError(
            f"event-stream prelude CRC mismatch: computed {actual:08x}, frame says {expected:08x}"
        )
    if headers_length > MAX_HEADERS_LENGTH:
        raise EventStreamError(f"event-stream headers too long: {headers_length} bytes")
    payload_length = total - headers_length - _MIN_MESSAGE_LENGTH
    if payload_length < 0:
        raise EventStreamError(f"event-stream lengths impossible: {total}/{headers_length}")
    if payload_length > MAX_PAYLOAD_LENGTH:
        raise EventStreamError(f"event-stream payload too long: {payload_length} bytes")
    return total


def _decode_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    offset = 0
    try:
        while offset < len(raw):
            name_length = raw[offset]
            name = raw[offset + 1 : offset + 1 + name_length].decode()
            value, offset = _decode_value(raw, offset + 1 + name_length)
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"event-stream header block malformed at byte {offset}") from exc
    if offset != len(raw):
        raise EventStreamError("event-stream header runs past the header block")
    return headers


def _decode_value(raw: bytes, offset: int) -> tuple[HeaderValue, int]:
    """The header value whose type byte is at ``offset``, and the offset after it."""
    kind, start = raw[offset], offset + 1
    if kind in (0, 1):
        return kind == 0, start
    if kind in _INTEGER_FORMATS:
        fmt = _INTEGER_FORMATS[kind]
        end = start + struct.calcsize(fmt)
        return struct.unpack(fmt, raw[start:end])[0], end
    if kind in (6, 7):
        (length,) = struct.unpack(">H", raw[start : start + 2])
        end = start + 2 + length
        if end > len(raw):
            raise IndexError(end)
        data = raw[start + 2 : end]
        return (data.decode() if kind == 7 else data), end
    if kind == 8:
        (millis,) = struct.unpack(">q", raw[start : start + 8])
        try:
            # Integer arithmetic: ``millis / 1000`` as a float loses the last millisecond
            # of far-off dates.
            return _EPOCH + timedelta(milliseconds=millis), start + 8
        except (ValueError, OverflowError, OSError):
            raise EventStreamError(f"event-stream timestamp {millis} is out of range") from None
    if kind == 9:
        if start + 16 > len(raw):
            raise IndexError(start + 16)
        return uuid.UUID(bytes=raw[start : start + 16]), start + 16
    raise EventStreamError(f"event-stream header has unknown value type {kind}")


def _encode_header(name: str, value: HeaderValue) -> bytes:
    encoded_name = name.encode()
    return bytes([len(encoded_name)]) + encoded_name + _encode_value(value)


def _encode_value(value: HeaderValue) -> bytes:
    if isinstance(value, bool):
        return bytes([0 if value else 1])
    if isinstance(value, int):
        kind = 4 if -(2**31) <= value < 2**31 else 5
        return bytes([kind]) + struct.pack(_INTEGER_FORMATS[kind], value)
    if isinstance(value, str | bytes):
        data = value.encode() if isinstance(value, str) else value
        return bytes([7 if isinstance(value, str) else 6]) + struct.pack(">H", len(data)) + data
    if isinstance(value, datetime):
        return b"\x08" + struct.pack(">q", round(value.timestamp() * 1000))
    return b"\x09" + value.bytes
