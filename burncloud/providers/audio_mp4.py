"""The duration of an MP4/M4A file from its boxes.

A whole file says it in its movie header (``moov/mvhd``: duration over timescale). A
fragmented one (a browser's MediaRecorder on Safari, ``-movflags frag_keyframe``) may leave
that 0 and say it in ``moov/mvex/mehd``; when that is missing too, the fragments are added
up: each ``moof/traf`` starts at its ``tfdt`` decode time and lasts the sum of its ``trun``
sample durations (or samples x the default duration of ``tfhd`` or ``trex``), in the
first track's ``mdhd`` timescale.
"""

from __future__ import annotations

import struct

Span = tuple[int, int]  # a box's body: (start, end)

_UNKNOWN_32 = 0xFFFFFFFF
_UNKNOWN_64 = 0xFFFFFFFFFFFFFFFF
_TFHD_FIELDS = ((0x01, 8), (0x02, 4))  # base data offset, sample description index
_TFHD_DEFAULT_DURATION = 0x08
_TRUN_DATA_OFFSET, _TRUN_FIRST_FLAGS = 0x01, 0x04
_TRUN_SAMPLE_FIELDS = (0x100, 0x200, 0x400, 0x800)  # duration, size, flags, time offset


def mp4_duration(view: memoryview) -> float | None:
    """Seconds of an MP4 file, as the module says; None when it does not tell."""
    moov = box(view, (0, len(view)), b"moov")
    mvhd = None if moov is None else box(view, moov, b"mvhd")
    if moov is None or mvhd is None:
        return None
    header = _timing(view, mvhd)
    if header is None:
        return None
    timescale, duration = header
    if duration in (0, _UNKNOWN_32, _UNKNOWN_64):
        duration = _mehd_duration(view, moov) or 0
    if duration and timescale:
        return duration / timescale
    return _fragments_duration(view, moov)


def box(view: memoryview, within: Span, kind: bytes) -> Span | None:
    """The body of the first ``kind`` box among the boxes ``within`` a span."""
    return next((span for name, span in boxes(view, within) if name == kind), None)


def boxes(view: memoryview, within: Span) -> list[tuple[bytes, Span]]:
    """Every box directly within a span: (type, body)."""
    found = []
    offset, end = within
    while offset + 8 <= end:
        size, name = struct.unpack_from(">I4s", view, offset)
        header = 8
        if size == 1 and offset + 16 <= end:  # a 64-bit size follows the type
            size, header = struct.unpack_from(">Q", view, offset + 8)[0], 16
        elif size == 0:  # the box runs to the end
            size = end - offset
        if size < header:
            break
        found.append((bytes(name), (offset + header, min(offset + size, end))))
        offset += size
    return found


def _timing(view: memoryview, body: Span) -> tuple[int, int] | None:
    """(timescale, duration) of an ``mvhd`` or ``mdhd`` box (versions 0 and 1)."""
    start, end = body
    if end - start >= 32 and view[start] == 1:
        timescale, duration = struct.unpack_from(">IQ", view, start + 20)
    elif end - start >= 20:
        timescale, duration = struct.unpack_from(">II", view, start + 12)
    else:
        return None
    return int(timescale), int(duration)


def _mehd_duration(view: memoryview, moov: Span) -> int | None:
    mvex = box(view, moov, b"mvex")
    mehd = None if mvex is None else box(view, mvex, b"mehd")
    if mehd is None or mehd[1] - mehd[0] < 8:
        return None
    if view[mehd[0]] == 1 and mehd[1] - mehd[0] >= 12:
        return int(struct.unpack_from(">Q", view, mehd[0] + 4)[0])
    return int(struct.unpack_from(">I", view, mehd[0] + 4)[0])


def _fragments_duration(view: memoryview, moov: Span) -> float | None:
    """The end of the last fragment of the first track, in seconds."""
    track = _first_track(view, moov)
    if track is None:
        return None
    track_id, timescale, default = track
    end = 0
    for name, span in boxes(view, (0, len(view))):
        if name != b"moof":
            continue
        for kind, traf in boxes(view, span):
            if kind == b"traf":
                end = _traf_end(view, traf, track_id, default, end)
    return end / timescale if end and timescale else None


def _first_track(view: memoryview, moov: Span) -> tuple[int, int, int] | None:
    """(track id, timescale, default sample duration) of the movie's first track."""
    trak = box(view, moov, b"trak")
    tkhd = None if trak is None else box(view, trak, b"tkhd")
    mdia = None if trak is None else box(view, trak, b"mdia")
    mdhd = None if mdia is None else box(view, mdia, b"mdhd")
    timing = None if mdhd is None else _timing(view, mdhd)
    if tkhd is None or timing is None or tkhd[1] - tkhd[0] < 24:
        return None
    track_id = struct.unpack_from(">I", view, tkhd[0] + (20 if view[tkhd[0]] == 1 else 12))[0]
    default = 0
    mvex = box(view, moov, b"mvex")
    for name, span in boxes(view, mvex) if mvex is not None else ():
        if name == b"trex" and span[1] - span[0] >= 16:
            trex_id, _, duration = struct.unpack_from(">III", view, span[0] + 4)
            default = duration if trex_id == track_id else default
    return int(track_id), timing[0], int(default)


def _traf_end(view: memoryview, traf: Span, track_id: int, default: int, start: int) -> int:
    """When one track fragment ends: its decode time (else where the last one ended) plus
    its samples' durations; ``start`` unchanged for another track's fragment."""
    parts = dict(boxes(view, traf))
    tfhd = parts.get(b"tfhd")
    if tfhd is None or struct.unpack_from(">I", view, tfhd[0] + 4)[0] != track_id:
        return start
    default = _tfhd_default(view, tfhd) or default
    tfdt = parts.get(b"tfdt")
    if tfdt is not None:
        wide = view[tfdt[0]] == 1
        start = int(struct.unpack_from(">Q" if wide else ">I", view, tfdt[0] + 4)[0])
    trun_total = sum(
        _trun_duration(view, span, default) for name, span in boxes(view, traf) if name == b"trun"
    )
    return start + trun_total


def _tfhd_default(view: memoryview, tfhd: Span) -> int:
    flags = int.from_bytes(view[tfhd[0] + 1 : tfhd[0] + 4], "big")
    if not flags & _TFHD_DEFAULT_DURATION:
        return 0
    offset = tfhd[0] + 8 + sum(size for flag, size in _TFHD_FIELDS if flags & flag)
    return int(struct.unpack_from(">I", view, offset)[0]) if offset + 4 <= tfhd[1] else 0


def _trun_duration(view: memoryview, trun: Span, default: int) -> int:
    """The sum of a run's sample durations (each its own, or ``default``)."""
    flags = int.from_bytes(view[trun[0] + 1 : trun[0] + 4], "big")
    samples = int(struct.unpack_from(">I", view, trun[0] + 4)[0])
    if not flags & _TRUN_SAMPLE_FIELDS[0]:
        return samples * default
    offset = trun[0] + 8 + 4 * bool(flags & _TRUN_DATA_OFFSET) + 4 * bool(flags & _TRUN_FIRST_FLAGS)
    words = sum(1 for flag in _TRUN_SAMPLE_FIELDS if flags & flag)
    samples = min(samples, max(trun[1] - offset, 0) // (4 * words))
    fields = struct.unpack_from(f">{samples * words}I", view, offset)
    return sum(fields[::words])  # the duration is each sample's first field
