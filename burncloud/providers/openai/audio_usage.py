"""What the audio endpoints reserve and bill: speech (``/v1/audio/speech``), transcriptions
and translations (``/v1/audio/transcriptions|translations``). Pure, like ``media_usage``.

Speech bills the characters of ``input`` (``UnitUse("characters")``, known exactly before
sending), unless the model reports tokens: only the SSE form (``stream_format: "sse"``)
does, in its ``speech.audio.done`` event (``SpeechEventMeter``); those bill the text as
input and the output as audio output tokens. The binary answer carries no usage.

A transcription bills, in this order: the tokens the answer reports (``usage.type ==
"tokens"``, gpt-4o-transcribe and its kin; the input as audio when the answer does not
split it); the seconds it reports (``usage.type == "duration"``, or ``verbose_json``'s and
``diarized_json``'s ``duration``); the uploaded file's own duration (``audio_duration``); the
last cue's end in an ``srt``/``vtt`` answer (estimated); else the upload's size at
``FALLBACK_BYTES_PER_SECOND`` (estimated). Seconds bill as ``UnitUse("minute", seconds)``,
to the millisecond. A streamed transcription (``stream: true``) reports its tokens in
``transcript.text.done`` (``TranscriptEventMeter``).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from burncloud.protocols.sse import EventReader, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.media_usage import (
    Fields,
    MediaReservation,
    MediaUse,
    field_text,
)
from burncloud.providers.openai.usage import token_usage
from burncloud.services.pricing import UnitUse

# The low end of the bitrates speech is recorded at (16 kbit/s Opus or AAC), so an
# estimate from a file's size errs high.
FALLBACK_BYTES_PER_SECOND = 2_000
# Token ceilings for the reservation of token-billed models, above OpenAI's published
# per-minute estimates: gpt-4o-transcribe's $0.006/min at $6/1M audio tokens is 1,000
# audio tokens a minute (~17/s); its text out, ~3/s of speech; gpt-4o-mini-tts's
# $0.015/min at $12/1M audio out is 1,250 tokens a minute, ~1.4 per character spoken.
AUDIO_IN_TOKENS_PER_SECOND = 20
TEXT_OUT_TOKENS_PER_SECOND = 10
SPEECH_TOKENS_PER_CHARACTER = 2
SLOWEST_SPEECH = 0.25  # the lowest ``speed``
MILLISECOND = Decimal("0.001")
_CUE_END = re.compile(rb"-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_JSON_FORMATS = frozenset({"json", "verbose_json", "diarized_json"})
_SUBTITLE_FORMATS = frozenset({"srt", "vtt"})


def speech_units(body: Fields) -> tuple[UnitUse, ...]:
    """The characters of a speech request's ``input``."""
    text = body.get("input")
    characters = len(text) if isinstance(text, str) else 0
    return (UnitUse("characters", Decimal(characters)),) if characters else ()


def speech_reservation(body: Fields) -> MediaReservation:
    """The most a speech request may cost: its characters (exact), and for token-billed
    models its text as input tokens and a ceiling of audio output tokens."""
    text = body.get("input")
    text = text if isinstance(text, str) else ""
    instructions = field_text(body, "instructions") or ""
    speed = body.get("speed")
    pace = speed if isinstance(speed, int | float) and speed >= SLOWEST_SPEECH else 1.0
    return MediaReservation(
        prompt_tokens=len(text.encode()) + len(instructions.encode()),
        completion_tokens=math.ceil(len(text) * SPEECH_TOKENS_PER_CHARACTER / min(pace, 1.0)),
        units=speech_units(body),
    )


def speech_metering(body: Fields, usage: TokenUsage | None = None) -> MediaUse:
    """The bill of a speech answer: the tokens an SSE answer reported, else the input's
    characters."""
    if usage is not None:
        return MediaUse(usage)
    return MediaUse(None, speech_units(body))


def transcription_metering(
    fields: Fields,
    answer: bytes,
    content_type: str | None,
    upload_duration: float | None,
    upload_bytes: int = 0,
) -> MediaUse:
    """The bill of a whole transcription or translation answer of any ``response_format``
    (an SSE body included), falling back on the upload as the module says."""
    kind = (content_type or "").lower()
    if kind.startswith("text/event-stream"):
        meter = TranscriptEventMeter()
        meter.feed(answer)
        meter.finish()
        return meter.metering(upload_duration, upload_bytes)
    form = (field_text(fields, "response_format") or "json").lower()
    if "json" in kind or (form in _JSON_FORMATS and answer.lstrip()[:1] == b"{"):
        reported = _reported(_json_object(answer))
        if reported is not None and reported.usage is not None:
            # Tokens, and the minutes too: the model's price decides which it bills.
            return MediaUse(reported.usage, upload_metering(upload_duration, upload_bytes).units)
        if reported is not None:
            return reported
    subtitles = form in _SUBTITLE_FORMATS or "vtt" in kind or "subrip" in kind
    if upload_duration is None and subtitles and (cue_end := _last_cue_end(answer)) is not None:
        return MediaUse(None, (_minutes(cue_end),), estimated=True)
    return upload_metering(upload_duration, upload_bytes)


def transcription_reservation(
    fields: Fields, upload_duration: float | None, upload_bytes: int
) -> MediaReservation:
    """The most a transcription may cost: the file's duration (else the size-based
    estimate) in minutes, and token ceilings for that much audio plus the prompt."""
    seconds = upload_duration if upload_duration is not None else _by_size(upload_bytes)
    prompt = field_text(fields, "prompt") or ""
    return MediaReservation(
        prompt_tokens=math.ceil(seconds * AUDIO_IN_TOKENS_PER_SECOND) + len(prompt.encode()),
        completion_tokens=math.ceil(seconds * TEXT_OUT_TOKENS_PER_SECOND),
        units=(_minutes(seconds, ROUND_CEILING),),
    )


def upload_metering(upload_duration: float | None, upload_bytes: int) -> MediaUse:
    """Minutes of the upload: its measured duration, else estimated from its size."""
    if upload_duration is not None:
        return MediaUse(None, (_minutes(upload_duration),))
    return MediaUse(None, (_minutes(_by_size(upload_bytes)),), estimated=True)


class _DoneEventMeter(EventReader):
    """Watches an SSE answer for its one terminal event (``done``), which carries the
    usage; every other event (audio or text deltas) is passed over unparsed."""

    __slots__ = ("_marker", "done", "event")
    done_type = ""

    def __init__(self) -> None:
        super().__init__()
        self._marker = f'"{self.done_type}"'.encode()
        self.done = False  # the terminal event arrived
        self.event: dict[str, Any] = {}  # its data

    def read(self, raw: bytes) -> None:
        if self.done or self._marker not in raw:  # JSON escapes quotes inside strings
            return
        event = parse_event(raw)
        data = _json_object(event.data.encode()) if event is not None else {}
        if data.get("type") == self.done_type:
            self.done, self.event = True, data


class SpeechEventMeter(_DoneEventMeter):
    """The usage of a speech answer streamed as SSE (``speech.audio.done``)."""

    __slots__ = ()
    done_type = "speech.audio.done"

    @property
    def usage(self) -> TokenUsage | None:
        """The reported tokens, the output counted as audio; None until reported."""
        usage = token_usage(self.event.get("usage"))
        if usage is None or usage.audio_output_tokens:
            return usage
        return replace(usage, audio_output_tokens=usage.completion_tokens)

    def metering(self, body: Fields) -> MediaUse:
        """The bill: the reported tokens, else (cut short) the input's characters."""
        return speech_metering(body, self.usage)


class TranscriptEventMeter(_DoneEventMeter):
    """The usage of a streamed transcription (``transcript.text.done``)."""

    __slots__ = ()
    done_type = "transcript.text.done"

    def metering(self, upload_duration: float | None, upload_bytes: int = 0) -> MediaUse:
        """The bill: the reported usage, else the upload's minutes."""
        reported = _reported(self.event)
        return reported if reported is not None else upload_metering(upload_duration, upload_bytes)


def _reported(answer: dict[str, Any]) -> MediaUse | None:
    """What a transcription answer reports of itself: tokens, or seconds."""
    usage = answer.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    if usage.get("type") != "duration" and (tokens := token_usage(usage)) is not None:
        split = "input_token_details" in usage or "input_tokens_details" in usage
        return MediaUse(
            tokens if split else replace(tokens, audio_input_tokens=tokens.prompt_tokens)
        )
    for seconds in (usage.get("seconds"), answer.get("duration")):
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            return MediaUse(None, (_minutes(seconds),))
    return None


def _last_cue_end(answer: bytes) -> float | None:
    """The latest cue end of an SRT or WebVTT answer, in seconds."""
    ends = [
        int(hours or 0) * 3600
        + int(minutes) * 60
        + int(seconds)
        + int(fraction) / 10 ** len(fraction)
        for hours, minutes, seconds, fraction in _CUE_END.findall(answer)
    ]
    return max(ends) if ends else None


def _minutes(seconds: float, rounding: str = ROUND_HALF_UP) -> UnitUse:
    """Seconds of audio as a per-minute unit, to the millisecond."""
    quantity = Decimal(repr(float(seconds))).quantize(MILLISECOND, rounding=rounding)
    return UnitUse("minute", quantity)


def _by_size(upload_bytes: int) -> float:
    return max(upload_bytes, 0) / FALLBACK_BYTES_PER_SECOND


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
