"""The duration of an MPEG audio file (MP3, and MPEG layers I and II) from its frames.

After any ID3v2 tag, the first frame header gives the stream's sample rate. A VBR file (and
LAME's CBR files) carries its frame count in a Xing/Info or VBRI header inside that first
frame: duration = frames x samples per frame / sample rate. Without one (or with a count of
0, as an encoder writing to a pipe leaves it), up to ``WALKED_FRAMES`` frames are walked:
the whole file when it is that short, else the rest is taken at the walked frames' average
bitrate (exact for constant bitrate, an estimate for VBR; walking a 25 MB file frame by
frame would take a tenth of a second). An ID3v1 tag at the end is not audio.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_SYNC_SCAN = 1 << 16  # how far past the tags the first frame may start (junk, padding)
_ID3V1 = 128  # an ID3v1 tag's fixed size, at the very end
_XING_FRAMES = 0x1  # the Xing flag saying a frame count follows
WALKED_FRAMES = 1_000  # about 2 ms of work

# Bitrates in kbit/s by (MPEG-1?, layer) and the header's 4-bit index; 0 = free format.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by the header's version bits (0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1).
_RATES = {0: (11_025, 12_000, 8_000), 2: (22_050, 24_000, 16_000), 3: (44_100, 48_000, 32_000)}


@dataclass(frozen=True, slots=True)
class Frame:
    """What one MPEG audio frame header says."""

    mpeg1: bool
    layer: int  # 1, 2 or 3
    bitrate: int  # bit/s
    rate: int  # samples/s
    padding: int
    mono: bool

    @property
    def samples(self) -> int:
        """Samples per frame."""
        if self.layer == 1:
            return 384
        return 1152 if self.layer == 2 or self.mpeg1 else 576

    @property
    def length(self) -> int:
        """The frame's size in bytes, header included."""
        if self.layer == 1:
            return (12 * self.bitrate // self.rate + self.padding) * 4
        return self.samples // 8 * self.bitrate // self.rate + self.padding

    @property
    def side_info(self) -> int:
        """Bytes of layer III side information after the header (where Xing starts)."""
        if self.mpeg1:
            return 17 if self.mono else 32
        return 9 if self.mono else 17


def id3v2_end(view: memoryview) -> int:
    """The offset just past the ID3v2 tags the file starts with (0 if none)."""
    offset = 0
    while len(view) >= offset + 10 and bytes(view[offset : offset + 3]) == b"ID3":
        flags = view[offset + 5]
        size = 0
        for byte in view[offset + 6 : offset + 10]:  # a "syncsafe" integer: 7 bits a byte
            size = size << 7 | byte & 0x7F
        offset += 10 + size + (10 if flags & 0x10 else 0)  # 0x10: a footer follows
    return offset


def parse_frame(view: memoryview, offset: int) -> Frame | None:
    """The frame header at ``offset``; None if there is no valid one (free-format and
    reserved values are not valid here)."""
    if offset + 4 > len(view) or view[offset] != 0xFF or view[offset + 1] & 0xE0 != 0xE0:
        return None
    b1, b2, b3 = view[offset + 1], view[offset + 2], view[offset + 3]
    version, layer_bits = b1 >> 3 & 3, b1 >> 1 & 3
    bitrate_index, rate_index = b2 >> 4, b2 >> 2 & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1, layer = version == 3, 4 - layer_bits
    bitrate = _BITRATES[mpeg1, layer][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    return Frame(mpeg1, layer, bitrate, rate, b2 >> 1 & 1, b3 >> 6 == 3)


def mp3_duration(view: memoryview) -> float | None:
    """Seconds of MPEG audio, as the module says; None without a valid frame."""
    found = _first_frame(view)
    if found is None:
        return None
    start, frame = found
    frames = _frame_count(view, start, frame)
    if frames:
        return frames * frame.samples / frame.rate
    end = len(view)
    if end - _ID3V1 >= start and bytes(view[end - _ID3V1 : end - _ID3V1 + 3]) == b"TAG":
        end -= _ID3V1
    walked, seconds = _walk(view, start, end)
    return seconds * (end - start) / walked if walked else None


def _walk(view: memoryview, start: int, end: int) -> tuple[int, float]:
    """(bytes, seconds) of the frames from ``start``: up to ``WALKED_FRAMES`` of them, or
    until one is not a frame."""
    offset, seconds = start, 0.0
    for _ in range(WALKED_FRAMES):
        frame = parse_frame(view, offset) if offset < end else None
        if frame is None or offset + frame.length > end:
            break
        offset += frame.length
        seconds += frame.samples / frame.rate
    return offset - start, seconds


def _first_frame(view: memoryview) -> tuple[int, Frame] | None:
    """The first frame whose successor (when the file is that long) is a frame too, so a
    stray sync pattern in junk is not taken for one."""
    start = id3v2_end(view)
    for offset in range(start, min(start + _SYNC_SCAN, len(view) - 3)):
        if view[offset] != 0xFF:
            continue
        frame = parse_frame(view, offset)
        if frame is None:
            continue
        after = offset + frame.length
        if after + 4 > len(view) or parse_frame(view, after) is not None:
            return offset, frame
    return None


def _frame_count(view: memoryview, start: int, frame: Frame) -> int | None:
    """The frame count a Xing/Info or VBRI header in the first frame gives, if any."""
    xing = start + 4 + frame.side_info
    if bytes(view[xing : xing + 4]) in (b"Xing", b"Info") and xing + 12 <= len(view):
        flags, frames = struct.unpack_from(">II", view, xing + 4)
        return int(frames) if flags & _XING_FRAMES else None
    vbri = start + 4 + 32
    if bytes(view[vbri : vbri + 4]) == b"VBRI" and vbri + 18 <= len(view):
        return int(struct.unpack_from(">I", view, vbri + 14)[0])
    return None
