"""The duration of an uploaded audio file, read from its own headers (no decoder, no copy).

A transcription bills per minute of audio; when the answer does not say how long the audio
was (``text``, ``srt`` and ``vtt`` answers), the upload's headers do: WAV (RIFF/RF64 ``fmt``
and ``data``, WAVE_FORMAT_EXTENSIBLE included, the ``fact`` sample count for compressed
formats), FLAC (STREAMINFO), Ogg Vorbis, Opus and FLAC (the last page's granule position),
and in their own modules MPEG audio (``audio_mp3``), MP4/M4A (``audio_mp4``) and
WebM/Matroska (``audio_matroska``).

The bytes are the whole file (Ogg's last page and an MP4's ``moov`` may sit at its end);
they are read through a ``memoryview``, never copied whole. The format is told by its magic
bytes after any ID3v2 tag; the file name and content type only let a bare MP3 start after
junk.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from burncloud.providers.audio_matroska import matroska_duration
from burncloud.providers.audio_mp3 import id3v2_end, mp3_duration
from burncloud.providers.audio_mp4 import mp4_duration

Reader = Callable[[memoryview], float | None]

_MP3_HINTS = ("mp3", "mpeg", "mpga")
_PCM_FORMATS = frozenset({1, 3})  # integer PCM and IEEE float: the byte rate is exact
_EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZE = 0xFFFFFFFF  # a streamed WAV's ``data`` size, written before the end was known
_OPUS_RATE = 48_000  # Ogg Opus granule positions count 48 kHz samples whatever the input rate
_OGG_WINDOW = 1 << 16  # bytes searched at a time for the last Ogg page


def audio_duration(
    data: bytes | bytearray | memoryview,
    filename: str | None = None,
    content_type: str | None = None,
) -> float | None:
    """The audio's length in seconds, from the file's headers; None when the format is not
    one read here or its headers do not say."""
    view = memoryview(data).cast("B")
    audio = view[id3v2_end(view) :]  # a tag before the audio: skipped whatever the format
    reader = _reader(audio, filename, content_type)
    try:
        return None if reader is None else reader(audio)
    except (struct.error, IndexError):  # headers cut off or corrupt past what is checked
        return None


def _reader(head: memoryview, filename: str | None, content_type: str | None) -> Reader | None:
    magic = bytes(head[:12])
    if magic[:4] in (b"RIFF", b"RF64", b"BW64") and magic[8:12] == b"WAVE":
        return wav_duration
    if magic[:4] == b"fLaC":
        return flac_duration
    if magic[:4] == b"OggS":
        return ogg_duration
    if magic[4:8] == b"ftyp":
        return mp4_duration
    if magic[:4] == b"\x1a\x45\xdf\xa3":
        return matroska_duration
    if magic[:1] == b"\xff" and len(magic) > 1 and magic[1] & 0xE0 == 0xE0:
        return mp3_duration
    hints = f"{filename or ''} {content_type or ''}".lower()
    return mp3_duration if any(hint in hints for hint in _MP3_HINTS) else None


def wav_duration(view: memoryview) -> float | None:
    """data bytes / byte rate for PCM; the ``fact`` chunk's sample count for compressed
    formats. A ``data`` size past the end (a streamed WAV) counts what is there."""
    fmt: tuple[int, int, int] | None = None  # format, sample rate, byte rate
    data_size: int | None = None
    samples: int | None = None  # ``fact`` (or RF64 ``ds64``) sample frames
    big_size: int | None = None  # RF64 ``ds64`` data size
    for kind, offset, size in _riff_chunks(view, 12):
        if kind == b"ds64" and size >= 24:  # RF64: 64-bit sizes for the big chunks
            big_size, samples = (int(n) for n in struct.unpack_from("<8xQQ", view, offset))
        elif kind == b"fmt " and size >= 16:
            fmt = _wav_format(view, offset, size)
        elif kind == b"fact" and size >= 4 and samples is None:
            samples = int(struct.unpack_from("<I", view, offset)[0])
        elif kind == b"data":
            declared = big_size if size == _UNKNOWN_SIZE and big_size is not None else size
            available = len(view) - offset
            data_size = available if declared in (0, _UNKNOWN_SIZE) else min(declared, available)
            break
    if fmt is None or data_size is None:
        return None
    code, rate, byte_rate = fmt
    if code not in _PCM_FORMATS and samples and rate:
        return samples / rate
    return data_size / byte_rate if byte_rate else None


def _wav_format(view: memoryview, offset: int, size: int) -> tuple[int, int, int]:
    code, _, rate, byte_rate = struct.unpack_from("<HHII", view, offset)
    if code == _EXTENSIBLE and size >= 40:
        code = struct.unpack_from("<H", view, offset + 24)[0]  # the sub-format GUID's head
    return code, rate, byte_rate


def _riff_chunks(view: memoryview, offset: int) -> list[tuple[bytes, int, int]]:
    """(id, data offset, size) of each chunk, up to and including ``data``."""
    chunks = []
    while offset + 8 <= len(view):
        kind = bytes(view[offset : offset + 4])
        size = struct.unpack_from("<I", view, offset + 4)[0]
        if kind != b"data" and offset + 8 + size > len(view):
            break  # cut off inside its headers
        chunks.append((kind, offset + 8, size))
        if kind == b"data":
            break
        offset += 8 + size + (size & 1)  # chunks are word-aligned
    return chunks


def flac_duration(view: memoryview) -> float | None:
    """Total samples / sample rate from STREAMINFO (None when the encoder left them 0)."""
    if len(view) < 8 + 18 or view[4] & 0x7F != 0:  # STREAMINFO comes first
        return None
    return _streaminfo_duration(view, 8)


def _streaminfo_duration(view: memoryview, offset: int) -> float | None:
    """Duration from a STREAMINFO block's body at ``offset``: 20 bits of sample rate, then
    channels (3) and bits per sample (5), then 36 bits of total samples."""
    packed = int.from_bytes(view[offset + 10 : offset + 18], "big")
    rate = packed >> 44
    total = packed & ((1 << 36) - 1)
    return total / rate if rate and total else None


def ogg_duration(view: memoryview) -> float | None:
    """The last granule position of the first logical stream, over its sample rate (Opus:
    48 kHz, less the pre-skip)."""
    if len(view) < 27 or bytes(view[:4]) != b"OggS":
        return None
    serial = struct.unpack_from("<I", view, 14)[0]
    codec = _ogg_codec(view)
    if codec is None:
        return None
    rate, skip = codec
    granule = _last_granule(view, serial)
    if granule is None or rate <= 0:
        return None
    return max(granule - skip, 0) / rate


def _ogg_codec(view: memoryview) -> tuple[int, int] | None:
    """(sample rate, pre-skip) from the first packet of the first page."""
    segments = view[26]
    packet = view[27 + segments :]
    head = bytes(packet[:8])
    if head[:7] == b"\x01vorbis" and len(packet) >= 16:
        return struct.unpack_from("<I", packet, 12)[0], 0
    if head == b"OpusHead" and len(packet) >= 12:
        return _OPUS_RATE, struct.unpack_from("<H", packet, 10)[0]
    if head[:5] == b"\x7fFLAC" and len(packet) >= 13 + 4 + 18:  # FLAC in Ogg
        packed = int.from_bytes(packet[27:30], "big")
        return packed >> 4, 0
    return None


def _last_granule(view: memoryview, serial: int) -> int | None:
    """The granule position of the last page of ``serial`` that has one, searching back
    from the end a window at a time (a page is at most 65,307 bytes)."""
    end = len(view)
    while end > 0:
        start = max(end - _OGG_WINDOW, 0)
        window = bytes(view[start:end])
        found = window.rfind(b"OggS")
        while found >= 0:
            at = start + found
            if at + 27 <= len(view):
                granule, page_serial = struct.unpack_from("<qI", view, at + 6)
                if page_serial == serial and granule >= 0:  # -1: no packet ends here
                    return int(granule)
            found = window.rfind(b"OggS", 0, found)
        end = start + 3 if start else 0  # overlap: a capture pattern may span windows
    return None
