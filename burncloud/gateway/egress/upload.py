"""A large request body (an image or audio upload) as aiohttp sends it: in slices of the
bytes the relay holds, each write awaited, so a 25 MB upload neither copies its bytes nor
holds the event loop in one write. aiohttp's own payload for bytes writes them whole (and
warns past 1 MiB); bodies up to that size still go as plain bytes, as every chat does.
"""

from __future__ import annotations

from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import TOO_LARGE_BYTES_BODY, Payload

SLICE_BYTES = 256 * 1024


class SlicedBody(Payload):
    """``bytes`` written a slice at a time (its Content-Length known up front)."""

    _value: bytes

    def __init__(self, value: bytes) -> None:
        super().__init__(value, content_type="application/octet-stream")
        self._size = len(value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self._value

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = memoryview(self._value)[:content_length]
        for start in range(0, len(view), SLICE_BYTES):
            await writer.write(view[start : start + SLICE_BYTES])


def request_body(body: bytes) -> bytes | SlicedBody:
    """What aiohttp is handed to send ``body``: the bytes, or past 1 MiB a ``SlicedBody``."""
    return SlicedBody(body) if len(body) > TOO_LARGE_BYTES_BODY else body
