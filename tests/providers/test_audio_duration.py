"""The duration of an audio upload from its headers: WAV files written by the stdlib
``wave`` module, and MP3, FLAC, Ogg, MP4 and Matroska files built here to their specs."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from burncloud.providers.audio_duration import (
    audio_duration,
    flac_duration,
    ogg_duration,
    wav_duration,
)
from burncloud.providers.audio_matroska import matroska_duration
from burncloud.providers.audio_mp3 import WALKED_FRAMES, id3v2_end, mp3_duration, parse_frame
from burncloud.providers.audio_mp4 import mp4_duration


def _wav(rate: int, channels: int, frames: int, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(
            bytes(range(256)) * (frames * channels * width // 256)
            + bytes(frames * channels * width % 256)
        )
    return out.getvalue()


def _wave_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _riff(*chunks: bytes, magic: bytes = b"RIFF") -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def _id3v2(size: int) -> bytes:
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + syncsafe + bytes(size)


# -- WAV ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels", "frames"), [(8000, 1, 12345), (44100, 2, 88200)])
def test_wav_duration_matches_the_wave_module(rate: int, channels: int, frames: int) -> None:
    data = _wav(rate, channels, frames)
    assert audio_duration(data, "a.wav", "audio/wav") == pytest.approx(_wave_seconds(data))
    assert audio_duration(memoryview(data)) == pytest.approx(frames / rate)


def test_wav_extensible_format_reads_its_sub_format() -> None:
    pcm_guid = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 2, 48000, 48000 * 6, 6, 24, 22, 24, 3) + pcm_guid
    data = _riff(_chunk(b"fmt ", fmt), _chunk(b"data", bytes(48000 * 6 * 3 // 2)))
    assert audio_duration(data) == pytest.approx(1.5)


def test_wav_chunks_of_odd_size_are_padded_and_skipped() -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    listing = _chunk(b"LIST", b"INFOISFT\x05\0\0\0Lavf\0")  # 17 bytes: one pad byte
    data = _riff(listing, _chunk(b"fmt ", fmt), _chunk(b"data", bytes(32000 * 2)))
    assert audio_duration(data) == pytest.approx(2.0)


def test_streamed_wav_without_a_data_size_counts_the_bytes_there() -> None:
    data = bytearray(_wav(16000, 1, 24000))
    at = data.index(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    assert audio_duration(data) == pytest.approx(1.5)


def test_truncated_wav_counts_only_the_audio_present() -> None:
    data = _wav(8000, 1, 8000)
    assert audio_duration(data[: len(data) - 8000]) == pytest.approx(0.5)


def test_compressed_wav_uses_the_fact_sample_count() -> None:
    # IMA ADPCM: the byte rate is an average, the fact chunk has the real sample count.
    fmt = struct.pack("<HHIIHHHH", 0x11, 1, 22050, 11100, 512, 4, 2, 1017)
    fact = struct.pack("<I", 22050 * 3)
    data = _riff(_chunk(b"fmt ", fmt), _chunk(b"fact", fact), _chunk(b"data", bytes(33300)))
    assert audio_duration(data) == pytest.approx(3.0)


def test_rf64_reads_the_data_size_from_ds64() -> None:
    fmt = struct.pack("<HHIIHH", 1, 2, 48000, 192000, 4, 16)
    ds64 = struct.pack("<QQQI", 0, 192000 * 2, 96000, 0)
    data_chunk = b"data\xff\xff\xff\xff" + bytes(192000 * 2)
    data = _riff(_chunk(b"ds64", ds64), _chunk(b"fmt ", fmt), data_chunk, magic=b"RF64")
    assert audio_duration(data) == pytest.approx(2.0)


def test_wav_without_fmt_has_no_duration() -> None:
    assert audio_duration(_riff(_chunk(b"data", bytes(100)))) is None


# -- MP3 ---------------------------------------------------------------------------------

MPEG1_L3 = 0xFB  # sync bits, MPEG-1, layer III, no CRC


def _mp3_frame(
    bitrate_index: int,
    rate_index: int,
    *,
    mpeg1: bool = True,
    mono: bool = False,
    padding: int = 0,
    body: bytes = b"",
) -> bytes:
    head = bytes(
        (
            0xFF,
            MPEG1_L3 if mpeg1 else 0xF3,
            bitrate_index << 4 | rate_index << 2 | padding << 1,
            0xC0 if mono else 0x00,
        )
    )
    frame = parse_frame(memoryview(head), 0)
    assert frame is not None
    payload = body + bytes(frame.length - 4 - len(body))
    return head + payload


def test_cbr_mp3_duration_from_bitrate_and_size() -> None:
    # 128 kbit/s at 48 kHz: 384-byte frames of 1,152 samples (24 ms) each.
    frames = b"".join(_mp3_frame(9, 1) for _ in range(250))
    assert len(frames) == 250 * 384
    assert audio_duration(frames, "a.mp3", "audio/mpeg") == pytest.approx(250 * 1152 / 48000)


def test_mp3_skips_id3v2_and_an_id3v1_tag() -> None:
    frames = b"".join(_mp3_frame(9, 1) for _ in range(100))
    tagged = _id3v2(300) + frames + b"TAG" + bytes(125)
    assert id3v2_end(memoryview(tagged)) == 310
    assert audio_duration(tagged) == pytest.approx(100 * 1152 / 48000)


def test_vbr_mp3_counts_frames_from_its_xing_header() -> None:
    count = 300
    xing = bytes(32) + b"Xing" + struct.pack(">II", 0x1, count)
    first = _mp3_frame(9, 0, body=xing)  # 44.1 kHz, stereo: Xing after 32 bytes of side info
    rest = b"".join(_mp3_frame(index, 0) for index in (5, 9, 14) * 100)
    data = first + rest
    assert audio_duration(data) == pytest.approx(count * 1152 / 44100)
    # At the first frame's bitrate alone the estimate would be far off:
    assert abs(len(data) * 8 / 128000 - count * 1152 / 44100) > 1


def test_vbr_mp3_without_a_header_walks_its_frames() -> None:
    data = b"".join(_mp3_frame(index, 0, padding=index % 2) for index in (5, 9, 14) * 100)
    assert audio_duration(data, "a.mp3") == pytest.approx(300 * 1152 / 44100)


def test_a_zero_frame_count_left_by_a_streaming_encoder_is_ignored() -> None:
    xing = bytes(32) + b"Xing" + struct.pack(">II", 0x1, 0)
    data = _mp3_frame(9, 1, body=xing) + b"".join(_mp3_frame(9, 1) for _ in range(99))
    assert audio_duration(data) == pytest.approx(100 * 1152 / 48000)


def test_mp3_longer_than_the_walk_is_taken_at_the_walked_bitrate() -> None:
    count = WALKED_FRAMES * 3
    slow, fast = _mp3_frame(5, 1), _mp3_frame(14, 1)  # 64 and 320 kbit/s
    data = (slow + fast) * (count // 2)
    assert audio_duration(data) == pytest.approx(count * 1152 / 48000)  # same mix throughout
    lopsided = slow * WALKED_FRAMES + fast * WALKED_FRAMES
    estimate = audio_duration(lopsided)
    assert estimate is not None and estimate > 2 * WALKED_FRAMES * 1152 / 48000  # too high


def test_mpeg2_mono_info_header_sits_after_nine_bytes_of_side_info() -> None:
    info = bytes(9) + b"Info" + struct.pack(">II", 0x1 | 0x2, 500) + struct.pack(">I", 0)
    first = _mp3_frame(8, 0, mpeg1=False, mono=True, body=info)  # 64 kbit/s at 22.05 kHz
    data = first + b"".join(_mp3_frame(8, 0, mpeg1=False, mono=True) for _ in range(10))
    assert audio_duration(data) == pytest.approx(500 * 576 / 22050)


def test_vbri_header_gives_the_frame_count() -> None:
    vbri = bytes(32) + b"VBRI" + struct.pack(">HHHII", 1, 0, 75, 0, 1234)
    data = _mp3_frame(9, 0, body=vbri) + _mp3_frame(9, 0)
    assert audio_duration(data) == pytest.approx(1234 * 1152 / 44100)


def test_a_stray_sync_in_leading_junk_is_not_taken_for_a_frame() -> None:
    junk = b"\x00junk\xff\xfb\x90\x00more junk" + bytes(50)
    frames = b"".join(_mp3_frame(9, 1) for _ in range(50))
    assert audio_duration(junk + frames, "voice.mp3") == pytest.approx(50 * 1152 / 48000)
    assert audio_duration(junk + frames) is None  # without a hint junk is not MP3


# -- FLAC --------------------------------------------------------------------------------


def _streaminfo(rate: int, channels: int, bits: int, total: int, *, last: bool = True) -> bytes:
    packed = rate << 44 | (channels - 1) << 41 | (bits - 1) << 36 | total
    body = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return bytes((0x80 if last else 0x00,)) + len(body).to_bytes(3, "big") + body


def test_flac_duration_from_streaminfo() -> None:
    data = b"fLaC" + _streaminfo(44100, 2, 16, 3 * 44100 + 22050) + b"\xff\xf8" + bytes(64)
    assert audio_duration(data, "a.flac") == pytest.approx(3.5)
    assert audio_duration(_id3v2(20) + data) == pytest.approx(3.5)


def test_flac_with_an_unknown_sample_count_has_no_duration() -> None:
    assert audio_duration(b"fLaC" + _streaminfo(48000, 1, 24, 0)) is None


# -- Ogg ---------------------------------------------------------------------------------


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packet: bytes, granule: int, serial: int, sequence: int, flags: int = 0) -> bytes:
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    head = struct.pack("<4sBBqIII", b"OggS", 0, flags, granule, serial, sequence, 0)
    page = head + bytes((len(lacing),)) + lacing + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _vorbis_head(rate: int) -> bytes:
    return b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, rate, 0, 128000, 0, 0xB8, 1)


def _opus_head(pre_skip: int) -> bytes:
    return b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 16000, 0, 0)


def test_ogg_vorbis_duration_is_the_last_granule_over_the_rate() -> None:
    pages = [
        _ogg_page(_vorbis_head(44100), 0, 7, 0, flags=0x02),
        _ogg_page(bytes(300), 44100, 7, 1),
        _ogg_page(bytes(300), 3 * 44100, 7, 2),
        _ogg_page(bytes(300), -1, 7, 3),  # no packet ends on this page
        _ogg_page(bytes(300), 99 * 44100, 8, 0),  # another logical stream
    ]
    assert audio_duration(b"".join(pages), "a.ogg", "audio/ogg") == pytest.approx(3.0)


def test_ogg_opus_counts_48_khz_granules_less_the_pre_skip() -> None:
    pages = [
        _ogg_page(_opus_head(312), 0, 1, 0, flags=0x02),
        _ogg_page(b"OpusTags" + bytes(20), 0, 1, 1),
        _ogg_page(bytes(200), 2 * 48000 + 312, 1, 2, flags=0x04),
    ]
    assert audio_duration(b"".join(pages)) == pytest.approx(2.0)


def test_the_last_ogg_page_is_found_across_search_windows() -> None:
    head = _ogg_page(_opus_head(0), 0, 1, 0, flags=0x02)
    last = _ogg_page(bytes(100), 5 * 48000, 1, 1)
    # The last page's capture pattern straddles the first 64 KiB window searched back.
    filler = bytes((1 << 16) + 2 - len(last))
    data = bytearray(head + bytes(70_000) + last + filler)
    assert audio_duration(memoryview(data)) == pytest.approx(5.0)


def test_ogg_flac_reads_its_rate_from_the_embedded_streaminfo() -> None:
    first = b"\x7fFLAC\x01\x00\x00\x01fLaC" + _streaminfo(32000, 1, 16, 0)
    pages = [_ogg_page(first, 0, 3, 0, flags=0x02), _ogg_page(bytes(50), 32000 * 4, 3, 1)]
    assert audio_duration(b"".join(pages)) == pytest.approx(4.0)


def test_ogg_of_an_unknown_codec_has_no_duration() -> None:
    pages = [_ogg_page(b"Speex   " + bytes(72), 0, 1, 0, 2), _ogg_page(bytes(9), 16000, 1, 1)]
    assert audio_duration(b"".join(pages)) is None


# -- MP4 / M4A ---------------------------------------------------------------------------


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return _box(b"mvhd", bytes((version, 0, 0, 0)) + times + bytes(80))


def test_m4a_duration_from_the_movie_header() -> None:
    ftyp = _box(b"ftyp", b"M4A \x00\x00\x00\x00isomM4A ")
    moov = _box(b"moov", _mvhd(44100, 44100 * 7 + 22050) + _box(b"trak", bytes(40)))
    data = ftyp + moov + _box(b"mdat", bytes(1000))
    assert audio_duration(data, "a.m4a", "audio/mp4") == pytest.approx(7.5)


def test_mp4_with_moov_after_a_64_bit_mdat_and_a_version_1_header() -> None:
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isom")
    mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + 5000) + bytes(5000)
    moov = _box(b"moov", _mvhd(1000, 12_345, version=1))
    assert audio_duration(ftyp + mdat + moov) == pytest.approx(12.345)


def test_fragmented_mp4_uses_the_fragment_duration() -> None:
    mehd = _box(b"mehd", bytes(4) + struct.pack(">I", 90_000 * 3))
    moov = _box(b"moov", _mvhd(90_000, 0) + _box(b"mvex", mehd))
    data = _box(b"ftyp", b"iso6\x00\x00\x00\x00") + moov + _box(b"moof", bytes(30))
    assert audio_duration(data) == pytest.approx(3.0)


def _full(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(kind, bytes((version,)) + flags.to_bytes(3, "big") + body)


def _traf(track: int, tfhd_flags: int, tfhd_extra: bytes, base: int, trun: bytes) -> bytes:
    tfhd = _full(b"tfhd", 0, tfhd_flags, struct.pack(">I", track) + tfhd_extra)
    return _box(b"traf", tfhd + _full(b"tfdt", 1, 0, struct.pack(">Q", base)) + trun)


def test_fragmented_mp4_without_mehd_adds_up_its_fragments() -> None:
    tkhd = _full(b"tkhd", 0, 3, struct.pack(">III", 0, 0, 1) + bytes(72))
    mdhd = _full(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, 48000, 0) + bytes(4))
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd))
    trex = _full(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 1024, 0, 0))
    moov = _box(b"moov", _mvhd(1000, 0) + trak + _box(b"mvex", trex))
    # 10 samples at trex's default 1,024, then 5 of 960 each listed in the run; a second
    # track's fragment (id 2) is not the first track's and does not count.
    first = _traf(1, 0, b"", 0, _full(b"trun", 0, 0x001, struct.pack(">Ii", 10, 0)))
    durations = b"".join(struct.pack(">II", 960, 100) for _ in range(5))
    run = _full(b"trun", 0, 0x301, struct.pack(">Ii", 5, 0) + durations)
    second = _traf(1, 0x08, struct.pack(">I", 960), 10240, run)
    other = _traf(2, 0x08, struct.pack(">I", 10**6), 0, _full(b"trun", 0, 0, struct.pack(">I", 9)))
    moofs = _box(b"moof", first) + _box(b"mdat", bytes(50)) + _box(b"moof", second + other)
    data = _box(b"ftyp", b"iso5\x00\x00\x02\x00") + moov + moofs + _box(b"mdat", bytes(50))
    assert audio_duration(data, "safari.mp4", "audio/mp4") == pytest.approx((10240 + 4800) / 48000)


def test_mp4_without_a_movie_header_has_no_duration() -> None:
    assert audio_duration(_box(b"ftyp", b"M4A \x00\x00\x00\x00") + _box(b"mdat", bytes(9))) is None


# -- WebM / Matroska ---------------------------------------------------------------------


def _element(kind: int, body: bytes, *, unknown_size: bool = False) -> bytes:
    ident = kind.to_bytes((kind.bit_length() + 7) // 8, "big")
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown_size else bytes((0x80 | len(body),))
    if not unknown_size and len(body) >= 0x7F:
        size = (0x4000 | len(body)).to_bytes(2, "big")
    return ident + size + body


def _webm(info: bytes) -> bytes:
    header = _element(0x1A45DFA3, _element(0x4282, b"webm"))
    seek_head = _element(0x114D9B74, bytes(20))
    cluster = _element(0x1F43B675, _element(0xE7, b"\x00"), unknown_size=True)
    segment = seek_head + _element(0x1549A966, info) + cluster
    return header + _element(0x18538067, segment, unknown_size=True)


def test_webm_duration_from_its_segment_info() -> None:
    info = _element(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _element(
        0x4489, struct.pack(">d", 2500.0)
    )
    assert audio_duration(_webm(info), "a.webm", "audio/webm") == pytest.approx(2.5)


def test_matroska_float32_duration_and_its_own_timecode_scale() -> None:
    info = _element(0x4489, struct.pack(">f", 400.0)) + _element(0x2AD7B1, b"\x98\x96\x80")
    assert audio_duration(_webm(info)) == pytest.approx(4.0)  # 400 x 10 ms


def test_webm_without_a_duration_or_a_cluster_has_none() -> None:
    info = _element(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _element(0x4D80, b"Chrome")
    header = _element(0x1A45DFA3, _element(0x4282, b"webm"))
    assert audio_duration(header + _element(0x18538067, _element(0x1549A966, info))) is None


def _simple_block(time: int) -> bytes:
    return _element(0xA3, b"\x81" + struct.pack(">hB", time, 0x80) + bytes(40))


def _live_cluster(timecode: int, times: range, *, crc: bool = False) -> bytes:
    head = _element(0xBF, bytes(4)) if crc else b""
    blocks = b"".join(_simple_block(time) for time in times)
    return _element(
        0x1F43B675, head + _element(0xE7, timecode.to_bytes(2, "big")) + blocks, unknown_size=True
    )


def test_live_webm_recording_lasts_until_its_last_block() -> None:
    info = _element(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _element(0x4D80, b"Chrome")
    header = _element(0x1A45DFA3, _element(0x4282, b"webm"))
    clusters = _live_cluster(0, range(0, 1000, 20)) + _live_cluster(1000, range(0, 500, 20))
    group = _element(0xA0, _element(0xA1, b"\x81" + struct.pack(">hB", 500, 0) + bytes(9)))
    segment = _element(0x1549A966, info) + clusters + group
    data = header + _element(0x18538067, segment, unknown_size=True)
    assert audio_duration(data, "rec.webm", "audio/webm") == pytest.approx(1.52)  # + one block


def test_live_matroska_cluster_may_open_with_a_crc() -> None:
    header = _element(0x1A45DFA3, _element(0x4282, b"matroska"))
    cluster = _live_cluster(3000, range(0, 100, 20), crc=True)
    data = header + _element(0x18538067, cluster, unknown_size=True) + bytes(70_000)
    assert audio_duration(data) == pytest.approx(3.1)


# -- everything else ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"RIFF\x00\x00\x00\x00AVI LIST", b"\xff\xfb", bytes(64)]
)
def test_unknown_or_broken_files_have_no_duration(data: bytes) -> None:
    assert audio_duration(data, "a.bin", "application/octet-stream") is None


def _samples() -> dict[str, tuple[Callable[[memoryview], float | None], bytes]]:
    """One file of each format, and the reader that should take it."""
    xing = bytes(32) + b"Xing" + struct.pack(">II", 0x1, 40)
    vorbis = _ogg_page(_vorbis_head(44100), 0, 7, 0, 2) + _ogg_page(bytes(300), 44100, 7, 1)
    info = _element(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _element(
        0x4489, struct.pack(">d", 2500.0)
    )
    return {
        "wav": (wav_duration, _wav(8000, 1, 800)),
        "mp3": (mp3_duration, _mp3_frame(9, 0, body=xing) + _mp3_frame(9, 0) * 3),
        "flac": (flac_duration, b"fLaC" + _streaminfo(44100, 2, 16, 44100)),
        "ogg": (ogg_duration, vorbis),
        "mp4": (mp4_duration, _box(b"ftyp", b"M4A \0\0\0\0") + _box(b"moov", _mvhd(600, 900))),
        "webm": (matroska_duration, _webm(info)),
        "live webm": (
            matroska_duration,
            _element(0x1A45DFA3, b"")
            + _element(0x18538067, _live_cluster(0, range(0, 60, 20)), unknown_size=True),
        ),
    }


@pytest.mark.parametrize("name", list(_samples()))
def test_cut_or_corrupt_files_never_raise(name: str) -> None:
    """An upload is whatever a client sent: a reader answers a duration or None."""
    reader, data = _samples()[name]
    assert reader(memoryview(data)) is not None
    noise = random.Random(name)
    for cut in range(len(data)):
        corrupt = bytearray(data)
        for _ in range(4):
            corrupt[noise.randrange(len(corrupt))] = noise.randrange(256)
        for damaged in (data[:cut], data[cut:], corrupt):
            seconds = reader(memoryview(damaged))
            assert seconds is None or seconds >= 0


FFMPEG = shutil.which("ffmpeg")
ENCODINGS = {
    "mp3 vbr": ("mp3", ["-q:a", "5"]),
    "mp3 cbr without xing": ("mp3", ["-b:a", "64k", "-write_xing", "0"]),
    "wav": ("wav", []),
    "flac": ("flac", []),
    "ogg vorbis": ("ogg", []),
    "ogg opus": ("opus", []),
    "m4a": ("m4a", []),
    "fragmented mp4": ("mp4", ["-movflags", "frag_keyframe+empty_moov", "-frag_duration", "1e6"]),
    "webm": ("webm", []),
}


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize(("suffix", "options"), ENCODINGS.values(), ids=ENCODINGS.keys())
@pytest.mark.parametrize("piped", [False, True], ids=["file", "piped"])
def test_files_ffmpeg_encodes_read_their_length(
    suffix: str, options: list[str], piped: bool, tmp_path: Path
) -> None:
    """Written to a file, or to a pipe (no seeking back: streamed WAV sizes, MP4 fragments
    without a total, WebM without a Duration, as live recorders write them)."""
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ar", "48000", *options]
    target = tmp_path / f"tone.{suffix}"
    if piped and suffix == "m4a":
        pytest.skip("ffmpeg cannot write a whole (unfragmented) M4A to a pipe")
    muxer = {"opus": "ogg"}.get(suffix, suffix)
    out = ["-f", muxer, "-"] if piped else [str(target)]
    run = subprocess.run([str(FFMPEG), "-v", "error", *tone, *out], check=True, capture_output=True)
    data = run.stdout if piped else target.read_bytes()
    if piped and suffix == "flac":  # STREAMINFO's sample count is left 0: no duration
        assert audio_duration(data, target.name) is None
        return
    assert audio_duration(data, target.name) == pytest.approx(3.0, abs=0.06)
