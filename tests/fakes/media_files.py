"""Real media files made with the standard library: PNG images (``zlib``, ``struct``) and
WAV recordings (``wave``), for uploads in tests and for the fakes' answers."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(
    width: int, height: int, rgba: tuple[int, int, int, int] = (200, 30, 30, 255)
) -> bytes:
    """A valid RGBA PNG of one colour."""
    row = b"\x00" + bytes(rgba) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(row * height)),
            _chunk(b"IEND", b""),
        )
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, None when ``data`` is not one."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def silent_wav(seconds: float, rate: int = 8_000) -> bytes:
    """A mono 16-bit PCM WAV of ``seconds`` of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x00\x00" * round(seconds * rate))
    return buffer.getvalue()


def tone_wav(seconds: float, rate: int = 16_000) -> bytes:
    """A mono 16-bit PCM WAV of a 440 Hz tone (not silence: a real recording's shape)."""
    frames = round(seconds * rate)
    samples = (round(12_000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
