"""Audio metering: speech by characters or reported tokens (SSE), transcriptions and
translations by reported tokens, reported seconds, the upload's own duration or an
estimate, their reservations, and the bill each comes to at public prices."""

from __future__ import annotations

import io
import wave
from decimal import Decimal
from typing import Any

import orjson
import pytest
from openai.types.audio import Transcription, TranscriptionVerbose
from openai.types.audio.transcription_text_done_event import TranscriptionTextDoneEvent

from burncloud.money import parse_usd
from burncloud.providers.audio_duration import audio_duration
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.audio_usage import (
    FALLBACK_BYTES_PER_SECOND,
    SpeechEventMeter,
    TranscriptEventMeter,
    speech_metering,
    speech_reservation,
    speech_units,
    transcription_metering,
    transcription_reservation,
)
from burncloud.providers.openai.media_usage import MediaUse
from burncloud.services.pricing import Price, Rates, UnitPrice, UnitUse, Usage, ceiling_cost, cost

ONE = Decimal(1)
TTS_1 = Price(model="tts-1", input=0, output=0, units=(UnitPrice("characters", parse_usd("15")),))
MINI_TTS = Price.named(
    "gpt-4o-mini-tts", Rates(input=parse_usd("0.6"), audio_output=parse_usd("12"))
)
WHISPER = Price(
    model="whisper-1", input=0, output=0, units=(UnitPrice("minute", parse_usd("0.006")),)
)
TRANSCRIBE = Price.named(
    "gpt-4o-transcribe",
    Rates(input=parse_usd("2.5"), audio_input=parse_usd("6"), output=parse_usd("10")),
)


def _bill(use: MediaUse, price: Price) -> int:
    tokens = use.tokens
    usage = Usage(
        prompt_tokens=tokens.prompt_tokens,
        completion_tokens=tokens.completion_tokens,
        audio_input_tokens=tokens.audio_input_tokens,
        audio_output_tokens=tokens.audio_output_tokens,
        units=use.units,
    )
    return cost(usage, price, ONE)


def _sse(*events: dict[str, Any], named: bool = False, crlf: bool = False) -> bytes:
    out = b""
    for event in events:
        head = f"event: {event['type']}\n".encode() if named else b""
        out += head + b"data: " + orjson.dumps(event) + b"\n\n"
    return out.replace(b"\n", b"\r\n") if crlf else out


def _fed(meter: SpeechEventMeter | TranscriptEventMeter, stream: bytes, step: int) -> None:
    for at in range(0, len(stream), step):
        meter.feed(stream[at : at + step])
    meter.finish()


# -- speech ------------------------------------------------------------------------------


def test_speech_bills_the_input_characters() -> None:
    body = {"model": "tts-1", "input": "Hello, world!", "voice": "alloy"}
    use = speech_metering(body)
    assert use == MediaUse(None, (UnitUse("characters", Decimal(13)),))
    assert _bill(use, TTS_1) == 13 * parse_usd("15") // 1_000_000  # $0.000195


def test_characters_are_code_points_and_the_reservation_counts_bytes_as_tokens() -> None:
    body = {"model": "tts-1", "input": "héllo 你好", "instructions": "calm", "speed": 0.5}
    assert speech_units(body) == (UnitUse("characters", Decimal(8)),)
    reserved = speech_reservation(body)
    assert reserved.prompt_tokens == len("héllo 你好".encode()) + 4
    assert reserved.completion_tokens == 8 * 2 * 2  # slower speech, more audio
    assert ceiling_cost(0, 0, TTS_1, ONE, reserved.units) == _bill(speech_metering(body), TTS_1)


def test_empty_or_missing_input_bills_no_characters() -> None:
    assert speech_units({"input": ""}) == ()
    assert speech_units({"input": 42}) == ()


SPEECH_STREAM: tuple[dict[str, Any], ...] = (
    {
        "type": "speech.audio.delta",
        "audio": "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU5LjI3LjEwMAAAAAAAAAAAAAAA" * 40,
    },
    {
        "type": "speech.audio.delta",
        "audio": "//uQxAAAAAAAAAAAAAAAAAAAAAAAWGluZwAAAA8AAAACAAACcQ" * 40,
    },
    {
        "type": "speech.audio.done",
        "usage": {"input_tokens": 14, "output_tokens": 1200, "total_tokens": 1214},
    },
)


@pytest.mark.parametrize("step", [1, 7, 4096])
@pytest.mark.parametrize(("named", "crlf"), [(False, False), (True, False), (True, True)])
def test_sse_speech_bills_the_reported_tokens_with_audio_output(
    step: int, named: bool, crlf: bool
) -> None:
    meter = SpeechEventMeter()
    _fed(meter, _sse(*SPEECH_STREAM, named=named, crlf=crlf), step)
    assert meter.done
    assert meter.usage == TokenUsage(
        prompt_tokens=14, completion_tokens=1200, audio_output_tokens=1200
    )
    use = meter.metering({"model": "gpt-4o-mini-tts", "input": "Hello there, you."})
    # 14 text tokens at $0.60/1M + 1,200 audio tokens at $12/1M
    assert _bill(use, MINI_TTS) == parse_usd("0.0144084")


def test_a_done_event_without_its_blank_line_is_read_at_the_end() -> None:
    meter = SpeechEventMeter()
    _fed(meter, _sse(*SPEECH_STREAM).rstrip(b"\n"), 4096)
    assert meter.usage is not None and meter.usage.prompt_tokens == 14


def test_speech_stream_cut_short_bills_the_characters() -> None:
    meter = SpeechEventMeter()
    _fed(meter, _sse(*SPEECH_STREAM[:2]), 100)
    assert not meter.done and meter.usage is None
    body = {"model": "gpt-4o-mini-tts", "input": "Cut short."}
    assert meter.metering(body) == MediaUse(None, (UnitUse("characters", Decimal(10)),))


# -- transcriptions and translations -----------------------------------------------------


def test_verbose_json_bills_its_duration_per_minute() -> None:
    answer = {"task": "transcribe", "language": "english", "duration": 8.47, "text": "Hello."}
    TranscriptionVerbose.model_validate(answer)
    fields = {"model": "whisper-1", "response_format": "verbose_json"}
    use = transcription_metering(fields, orjson.dumps(answer), "application/json", None)
    assert use == MediaUse(None, (UnitUse("minute", Decimal("8.470")),))
    assert _bill(use, WHISPER) == parse_usd("0.000847")  # 8.47 s at $0.006 a minute


def test_a_duration_usage_bills_its_seconds_over_the_upload() -> None:
    answer = {"text": "Hello.", "usage": {"type": "duration", "seconds": 9}}
    Transcription.model_validate(answer)
    use = transcription_metering(
        {"model": "whisper-1"}, orjson.dumps(answer), "application/json", 30.0
    )
    assert use.units == (UnitUse("minute", Decimal("9.000")),)
    assert _bill(use, WHISPER) == parse_usd("0.0009")


def test_token_usage_bills_text_and_audio_input_and_output() -> None:
    usage = {
        "type": "tokens",
        "input_tokens": 164,
        "input_token_details": {"text_tokens": 4, "audio_tokens": 160},
        "output_tokens": 30,
        "total_tokens": 194,
    }
    answer = {"text": "Hello there.", "usage": usage}
    Transcription.model_validate(answer)
    use = transcription_metering(
        {"model": "gpt-4o-transcribe"}, orjson.dumps(answer), "application/json", 12.0
    )
    assert use == MediaUse(
        TokenUsage(prompt_tokens=164, completion_tokens=30, audio_input_tokens=160),
        (UnitUse("minute", Decimal("12.000")),),  # billed only where priced per minute
    )
    # 4 text tokens at $2.50/1M + 160 audio tokens at $6/1M + 30 out at $10/1M
    assert _bill(use, TRANSCRIBE) == parse_usd("0.00127")
    # The same answer from a model priced per minute ($0.006): 12 s = 0.0012 USD.
    assert _bill(use, WHISPER) == parse_usd("0.0012")


def test_token_usage_without_a_split_counts_the_input_as_audio() -> None:
    answer = {
        "text": "Hi.",
        "usage": {"type": "tokens", "input_tokens": 100, "output_tokens": 5, "total_tokens": 105},
    }
    use = transcription_metering({}, orjson.dumps(answer), "application/json", None)
    assert use.usage == TokenUsage(prompt_tokens=100, completion_tokens=5, audio_input_tokens=100)


def _wav_upload(seconds: float, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(int(seconds * rate) * 2))
    return out.getvalue()


@pytest.mark.parametrize(
    ("form", "answer", "kind"),
    [
        ("text", b"Hello there.\n", "text/plain; charset=utf-8"),
        ("json", b'{"text": "Hello there."}', "application/json"),
    ],
)
def test_answers_without_a_duration_bill_the_uploaded_file(
    form: str, answer: bytes, kind: str
) -> None:
    upload = _wav_upload(3.25)
    seconds = audio_duration(upload, "hello.wav", "audio/wav")
    fields = {"model": "whisper-1", "response_format": form}
    use = transcription_metering(fields, answer, kind, seconds, len(upload))
    assert use == MediaUse(None, (UnitUse("minute", Decimal("3.250")),))
    assert _bill(use, WHISPER) == parse_usd("0.000325")


SRT = b"""1
00:00:00,000 --> 00:00:02,500
Hello there.

2
00:00:02,500 --> 00:01:04,120
General Kenobi.
"""
VTT = b"""WEBVTT

00:00.000 --> 00:02.500
Hello there.

01:00:01.500 --> 01:00:04.250
General Kenobi.
"""


def test_subtitles_without_an_upload_duration_bill_their_last_cue_as_an_estimate() -> None:
    srt = transcription_metering({"response_format": "srt"}, SRT, "text/plain", None, 10_000)
    vtt = transcription_metering({"response_format": "vtt"}, VTT, "text/vtt", None, 10_000)
    assert srt == MediaUse(None, (UnitUse("minute", Decimal("64.120")),), estimated=True)
    assert vtt.units == (UnitUse("minute", Decimal("3604.250")),)
    measured = transcription_metering({"response_format": "srt"}, SRT, "text/plain", 70.0)
    assert measured == MediaUse(None, (UnitUse("minute", Decimal("70.000")),))


def test_unknown_audio_is_estimated_from_its_size() -> None:
    use = transcription_metering({"response_format": "text"}, b"Hello.", "text/plain", None, 20_000)
    assert use == MediaUse(None, (UnitUse("minute", Decimal("10.000")),), estimated=True)
    assert 20_000 / FALLBACK_BYTES_PER_SECOND == 10


def test_a_transcript_quoting_an_arrow_is_not_taken_for_subtitles() -> None:
    answer = b'{"text": "go --> 00:09:59.000 now"}'
    use = transcription_metering({"model": "whisper-1"}, answer, "application/json", None, 4_000)
    assert use.units == (UnitUse("minute", Decimal("2.000")),) and use.estimated


TRANSCRIPT_DONE = {
    "type": "transcript.text.done",
    "text": "Hello there.",
    "usage": {
        "type": "tokens",
        "input_tokens": 120,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 120},
        "output_tokens": 8,
        "total_tokens": 128,
    },
}
TRANSCRIPT_STREAM: tuple[dict[str, Any], ...] = (
    {"type": "transcript.text.delta", "delta": 'Say "transcript.text.done" '},
    {"type": "transcript.text.delta", "delta": "Hello there."},
    TRANSCRIPT_DONE,
)


@pytest.mark.parametrize("step", [1, 13, 10_000])
def test_streamed_transcription_bills_the_done_events_tokens(step: int) -> None:
    TranscriptionTextDoneEvent.model_validate(TRANSCRIPT_DONE)
    meter = TranscriptEventMeter()
    _fed(meter, _sse(*TRANSCRIPT_STREAM), step)
    use = meter.metering(5.0)
    assert use == MediaUse(
        TokenUsage(prompt_tokens=120, completion_tokens=8, audio_input_tokens=120)
    )
    assert _bill(use, TRANSCRIBE) == parse_usd("0.0008")  # 120 x $6/1M + 8 x $10/1M


def test_a_delta_quoting_the_done_type_does_not_end_the_stream() -> None:
    meter = TranscriptEventMeter()
    _fed(meter, _sse(*TRANSCRIPT_STREAM[:2]), 64)
    assert not meter.done


def test_a_cut_transcription_stream_bills_the_upload() -> None:
    meter = TranscriptEventMeter()
    _fed(meter, _sse(*TRANSCRIPT_STREAM[:2]), 64)
    assert meter.metering(42.5) == MediaUse(None, (UnitUse("minute", Decimal("42.500")),))
    assert meter.metering(None, 3_000).estimated


def test_a_whole_sse_answer_is_metered_like_a_stream() -> None:
    body = _sse(*TRANSCRIPT_STREAM, named=True)
    use = transcription_metering({"stream": "true"}, body, "text/event-stream; charset=utf-8", 9.0)
    assert use.usage is not None and use.usage.completion_tokens == 8


def test_transcription_reservation_covers_the_file_in_minutes_and_tokens() -> None:
    reserved = transcription_reservation(
        {"model": "whisper-1", "prompt": "Names: Ada."}, 60.0, 1_920_044
    )
    assert reserved.units == (UnitUse("minute", Decimal("60.000")),)
    assert reserved.prompt_tokens == 60 * 20 + len("Names: Ada.")
    assert reserved.completion_tokens == 60 * 10
    assert ceiling_cost(
        reserved.prompt_tokens, reserved.completion_tokens, WHISPER, ONE, reserved.units
    ) == parse_usd("0.006")
    tokens = ceiling_cost(
        reserved.prompt_tokens, reserved.completion_tokens, TRANSCRIBE, ONE, reserved.units
    )
    assert tokens > _bill(MediaUse(TokenUsage(1011, 200, audio_input_tokens=1000)), TRANSCRIBE)


def test_transcription_reservation_without_a_duration_goes_by_size_rounded_up() -> None:
    reserved = transcription_reservation({}, None, 2_001)
    assert reserved.units == (UnitUse("minute", Decimal("1.001")),)
