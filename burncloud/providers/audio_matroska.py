"""The duration of a WebM/Matroska file from its EBML elements.

A file written whole says it in the segment's ``Info/Duration`` (in ``TimecodeScale``
units, 1 ms by default). A live recording (a browser's MediaRecorder) has none: its
length is the last block's time, its cluster's ``Timecode`` plus the block's own offset,
plus one block's length (taken as the gap between the last two blocks). The last cluster
is found by searching back from the end for its id, a window at a time, and accepted
only if a ``Timecode`` opens it (after a CRC-32 or Void element).
"""

from __future__ import annotations

import struct

Element = tuple[int, int, int | None]  # id (marker bits kept), body offset, size (None: unknown)

EBML, SEGMENT, INFO, CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1F43B675
TIMECODE_SCALE, DURATION, TIMECODE = 0x2AD7B1, 0x4489, 0xE7
SIMPLE_BLOCK, BLOCK_GROUP, BLOCK = 0xA3, 0xA0, 0xA1
SKIPPED = frozenset({0xBF, 0xEC})  # CRC-32 and Void: before a cluster's Timecode in .mkv
DEFAULT_SCALE = 1_000_000  # nanoseconds per timecode unit
_CLUSTER_ID = CLUSTER.to_bytes(4, "big")
_WINDOW = 1 << 16  # bytes searched at a time for the last cluster


def matroska_duration(view: memoryview) -> float | None:
    """Seconds of a Matroska file, as the module says; None when it does not tell."""
    header = element(view, 0)
    if header is None or header[0] != EBML or header[2] is None:
        return None
    segment = element(view, header[1] + header[2])
    if segment is None or segment[0] != SEGMENT:
        return None
    end = len(view) if segment[2] is None else min(segment[1] + segment[2], len(view))
    info = child(view, segment[1], end, INFO)
    scale, duration = _info(view, info) if info is not None else (DEFAULT_SCALE, None)
    if duration is None:
        duration = _last_block_end(view, segment[1])
    return duration * scale / 1e9 if duration and duration > 0 else None


def _info(view: memoryview, info: tuple[int, int]) -> tuple[int, float | None]:
    """(TimecodeScale, Duration or None) of an Info element's body."""
    scale, duration = DEFAULT_SCALE, None
    offset, end = info
    while offset < end and (found := element(view, offset)) is not None:
        kind, body, size = found
        if size is None or body + size > len(view):
            break
        if kind == TIMECODE_SCALE and 1 <= size <= 8:
            scale = int.from_bytes(view[body : body + size], "big")
        elif kind == DURATION and size in (4, 8):
            duration = float(struct.unpack_from(">f" if size == 4 else ">d", view, body)[0])
        offset = body + size
    return scale, duration


def _last_block_end(view: memoryview, start: int) -> float | None:
    """The end of the last block of the last cluster after ``start``, in timecode units."""
    end = len(view)
    while end > start:
        low = max(end - _WINDOW, start)
        window = bytes(view[low:end])
        found = window.rfind(_CLUSTER_ID)
        while found >= 0:
            times = _block_times(view, low + found)
            if times:
                gap = times[-1] - times[-2] if len(times) > 1 else 0
                return float(times[-1] + max(gap, 0))
            found = window.rfind(_CLUSTER_ID, 0, found)
        end = low + 3 if low > start else start  # overlap: an id may span two windows
    return None


def _block_times(view: memoryview, offset: int) -> list[int]:
    """The times of the blocks of the cluster at ``offset`` (empty if it is not one)."""
    cluster = element(view, offset)
    first = None if cluster is None else element(view, cluster[1])
    while first is not None and first[0] in SKIPPED and first[2] is not None:
        first = element(view, first[1] + first[2])
    if cluster is None or first is None or first[0] != TIMECODE or not first[2]:
        return []
    base = int.from_bytes(view[first[1] : first[1] + first[2]], "big")
    end = len(view) if cluster[2] is None else min(cluster[1] + cluster[2], len(view))
    times, position = [], first[1] + first[2]
    while position < end and (found := element(view, position)) is not None:
        kind, body, size = found
        if kind == CLUSTER or size is None:
            break
        if kind == BLOCK_GROUP:
            block = child(view, body, body + size, BLOCK)
            body = block[0] if block is not None else -1
        if kind in (SIMPLE_BLOCK, BLOCK_GROUP) and body >= 0:
            track = vint(view, body, keep_marker=False)
            if track is not None and body + track[1] + 2 <= len(view):
                times.append(base + struct.unpack_from(">h", view, body + track[1])[0])
        position = found[1] + size
    return sorted(times)


def child(view: memoryview, start: int, end: int, kind: int) -> tuple[int, int] | None:
    """(body start, body end) of the first ``kind`` element from ``start`` to ``end``."""
    offset = start
    while offset < end and (found := element(view, offset)) is not None:
        if found[0] == kind:
            return found[1], end if found[2] is None else min(found[1] + found[2], end)
        if found[2] is None:
            return None
        offset = found[1] + found[2]
    return None


def element(view: memoryview, offset: int) -> Element | None:
    """The element at ``offset``."""
    kind = vint(view, offset, keep_marker=True)
    size = None if kind is None else vint(view, offset + kind[1], keep_marker=False)
    if kind is None or size is None:
        return None
    value, width = size
    unknown = value == (1 << 7 * width) - 1  # every value bit set: size unknown
    return kind[0], offset + kind[1] + width, None if unknown else value


def vint(view: memoryview, offset: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``offset``: (value, width in bytes)."""
    if offset >= len(view) or view[offset] == 0:
        return None
    width = 9 - view[offset].bit_length()
    if offset + width > len(view):
        return None
    value = int.from_bytes(view[offset : offset + width], "big")
    return (value if keep_marker else value & ((1 << 7 * width) - 1)), width
