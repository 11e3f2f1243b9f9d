"""Strict fake image and audio endpoints of OpenAI, shared by FakeOpenAI and FakeAzure (whose
deployments answer the same shapes).

``/images/generations`` (JSON), ``/images/edits`` and ``/images/variations`` (multipart),
``/audio/speech`` (JSON in, audio bytes out in several writes, or SSE with
``stream_format: "sse"``), ``/audio/transcriptions`` and ``/audio/translations``
(multipart, every ``response_format``, SSE transcript events with ``stream``). Multipart
bodies are read with werkzeug's parser (independent of the router's own), and each
request is checked as OpenAI checks it: the parameters the openai SDK knows and no other,
required fields and files, a model the endpoint serves (else a 400 listing them), sizes and
qualities per model, response formats per model, PNG uploads (square for DALL-E 2), audio
file formats, ``stream`` only where a model streams.
Answers are deterministic: a transcript says how long the WAV was (read with ``wave``),
GPT image answers report usage from OpenAI's published token table.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import threading
import wave
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiohttp import web
from openai.types import image_create_variation_params as variation_params
from openai.types import image_edit_params, image_generate_params
from openai.types.audio import (
    speech_create_params,
    transcription_create_params,
    translation_create_params,
)
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import parse_form_data

from tests.fakes.media_files import png_bytes, png_size, silent_wav

CREATED = 1_735_689_600
DEFAULT_MODELS = {
    operation: "dall-e-2"
    for operation in ("images/generations", "images/edits", "images/variations")
}
OPERATIONS = (
    "images/generations",
    "images/edits",
    "images/variations",
    "audio/speech",
    "audio/transcriptions",
    "audio/translations",
)


class Recorded(Protocol):
    """A request as a fake recorded it."""

    @property
    def body(self) -> bytes: ...


Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]


def _keys(*typed_dicts: Any) -> frozenset[str]:
    """Every parameter name of the openai SDK's request TypedDicts."""
    return frozenset().union(*(t.__required_keys__ | t.__optional_keys__ for t in typed_dicts))


PARAMS = {
    "images/generations": _keys(image_generate_params.ImageGenerateParamsStreaming),
    "images/edits": _keys(image_edit_params.ImageEditParamsStreaming),
    "images/variations": _keys(variation_params.ImageCreateVariationParams),
    "audio/speech": _keys(speech_create_params.SpeechCreateParams),
    "audio/transcriptions": _keys(transcription_create_params.TranscriptionCreateParamsStreaming),
    "audio/translations": _keys(translation_create_params.TranslationCreateParams),
}
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
IMAGE_SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
}
IMAGE_QUALITIES = {
    "dall-e-2": ("standard",),
    "dall-e-3": ("standard", "hd", "auto"),
    "gpt-image": ("low", "medium", "high", "auto"),
}
# Output tokens per image, OpenAI's image generation guide ("Cost and latency").
IMAGE_TOKENS = {
    "1024x1024": {"low": 272, "medium": 1056, "high": 4160},
    "1024x1536": {"low": 408, "medium": 1584, "high": 6240},
    "1536x1024": {"low": 400, "medium": 1568, "high": 6208},
}
IMAGE_INPUT_TOKENS = 323  # what one uploaded image costs a GPT image edit
SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"}
    | {"verse", "marin", "cedar"}
)
SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
TRANSCRIBE_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
TEXT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
AUDIO_TOKENS_PER_SECOND = 10  # what the fake's gpt-4o transcription bills per second
GATE_SECONDS = 10.0  # the longest a gated speech answer waits for its last write


class MediaError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=orjson.dumps({"error": self.error}),
            content_type="application/json",
        )


def _missing(param: str) -> MediaError:
    return MediaError(
        400, f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def _invalid(param: str, value: object, allowed: tuple[str, ...]) -> MediaError:
    return MediaError(
        400,
        f"Invalid value: '{value}'. Supported values are: {', '.join(map(repr, allowed))}.",
        param,
        "invalid_value",
    )


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part, read whole."""

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Upload:
    """A request's fields (JSON values, or form text) and files, as the fake read them."""

    fields: dict[str, Any]
    files: dict[str, list[UploadedFile]]

    def text(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else str(value)

    def count(self, name: str, default: int, most: int) -> int:
        value = self.fields.get(name, default)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise MediaError(400, f"Invalid '{name}': expected 1 to {most}.", name, "invalid_value")
        return value

    def flag(self, name: str) -> bool:
        value = self.fields.get(name)
        if value in (None, False, "false"):
            return False
        if value in (True, "true"):
            return True
        raise MediaError(400, f"Invalid type for '{name}': expected a boolean.", name)


class FakeMedia:
    """The media endpoints of one fake server, with their switches.

    ``speech_chunks`` writes per speech answer, ``speech_delay`` seconds between them;
    ``speech_gate`` (a threading.Event) holds the last write until it is set, and
    ``speech_writes`` counts the writes of the current answer; ``speech_cut_after`` K drops
    the connection after K writes (no end of body). ``transcription_usage``
    False answers as older whisper-1 answers did (no ``usage``); ``image_usage`` False
    leaves ``usage`` out of GPT image answers.
    """

    def __init__(self) -> None:
        self.speech_chunks = 4
        self.speech_delay = 0.0
        self.speech_gate: threading.Event | None = None
        self.speech_writes = 0
        self.speech_cut_after: int | None = None
        self.transcription_usage = True
        self.image_usage = True
        self.served: list[tuple[str, str]] = []  # (operation, model) of each answer

    def endpoint(self, operation: str) -> Handler:
        """The handler of ``operation`` for FakeOpenAI (the model is the body's)."""

        async def handle(request: web.Request, record: Recorded) -> web.StreamResponse:
            return await self.serve(request, record.body, operation)

        return handle

    async def serve(
        self,
        request: web.Request,
        raw: bytes,
        operation: str,
        model: str | None = None,
        deployed: Callable[[str], str] | None = None,
    ) -> web.StreamResponse:
        """Answer ``operation`` for ``raw``. The model is ``model`` (an Azure deployment's),
        else the body's: through ``deployed`` when it names a deployment (Azure's v1)."""
        try:
            upload = _read(request.headers.get("Content-Type", ""), raw, operation)
            _check_known(upload, operation)
            chosen = model or upload.text("model") or DEFAULT_MODELS.get(operation)
            if chosen is None:
                raise _missing("model")
            chosen = chosen if deployed is None else deployed(chosen)
            return await self._answer(request, operation, upload, chosen)
        except MediaError as error:
            return error.response()

    async def _answer(
        self, request: web.Request, operation: str, upload: Upload, chosen: str
    ) -> web.StreamResponse:
        self.served.append((operation, chosen))
        if operation.startswith("images/"):
            return await self._images(request, operation, upload, chosen)
        if operation == "audio/speech":
            return await self._speech(request, upload, chosen)
        return await self._transcription(request, operation, upload, chosen)

    # Images

    async def _images(
        self, request: web.Request, operation: str, upload: Upload, model: str
    ) -> web.StreamResponse:
        family = _image_family(model)
        if operation != "images/variations" and not upload.text("prompt"):
            raise _missing("prompt")
        if operation == "images/variations" and family != "dall-e-2":
            raise _invalid("model", model, ("dall-e-2",))
        if operation == "images/edits" and family == "dall-e-3":
            raise _invalid("model", model, ("dall-e-2", "gpt-image-1"))
        images = _uploaded_images(upload, operation, family)
        n = upload.count("n", 1, 1 if family == "dall-e-3" else 10)
        size, quality = _size_and_quality(upload, family)
        stream = upload.flag("stream")
        if family != "gpt-image" and stream:
            raise MediaError(400, f"Streaming is not supported for {model}.", "stream")
        if family == "gpt-image":
            if upload.text("response_format") is not None:
                raise MediaError(400, "Unknown parameter: 'response_format'.", "response_format")
            answer = self._gpt_image(upload, n, size, quality, images)
            if stream:
                return await _image_events(request, operation, answer)
            return _json(answer)
        form = upload.text("response_format") or "url"
        if form not in ("url", "b64_json"):
            raise _invalid("response_format", form, ("url", "b64_json"))
        return _json(
            {"created": CREATED, "data": [_dall_e_image(family, upload, form, i) for i in range(n)]}
        )

    def _gpt_image(
        self, upload: Upload, n: int, size: str, quality: str, images: int
    ) -> dict[str, Any]:
        size = "1024x1024" if size == "auto" else size
        quality = "medium" if quality == "auto" else quality
        b64 = base64.b64encode(png_bytes(8, 8)).decode()
        answer: dict[str, Any] = {
            "created": CREATED,
            "background": "opaque",
            "data": [{"b64_json": b64} for _ in range(n)],
            "output_format": upload.text("output_format") or "png",
            "quality": quality,
            "size": size,
        }
        if self.image_usage:
            text = len((upload.text("prompt") or "").split())
            image = images * IMAGE_INPUT_TOKENS
            output = n * IMAGE_TOKENS[size][quality]
            answer["usage"] = {
                "input_tokens": text + image,
                "input_tokens_details": {"text_tokens": text, "image_tokens": image},
                "output_tokens": output,
                "total_tokens": text + image + output,
            }
        return answer

    # Speech

    async def _speech(self, request: web.Request, upload: Upload, model: str) -> web.StreamResponse:
        text = upload.fields.get("input")
        if not isinstance(text, str) or not text:
            raise _missing("input")
        if len(text) > 4096:
            raise MediaError(400, "'input' is longer than 4096 characters.", "input")
        if model not in SPEECH_MODELS:
            raise _invalid("model", model, SPEECH_MODELS)
        _check_voice(upload.fields.get("voice"))
        form = upload.text("response_format") or "mp3"
        if form not in SPEECH_TYPES:
            raise _invalid("response_format", form, tuple(SPEECH_TYPES))
        legacy = model.startswith("tts-1")
        if legacy and "instructions" in upload.fields:
            raise MediaError(400, "Instructions are not supported for tts-1.", "instructions")
        speed = upload.fields.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise MediaError(400, "Invalid 'speed': expected 0.25 to 4.0.", "speed")
        stream_format = upload.text("stream_format") or "audio"
        if stream_format not in ("audio", "sse"):
            raise _invalid("stream_format", stream_format, ("sse", "audio"))
        if stream_format == "sse" and legacy:
            raise MediaError(400, f"stream_format 'sse' is not supported for {model}.")
        audio = speech_audio(text)
        if stream_format == "sse":
            return await self._speech_events(request, audio, text)
        return await self._write_chunks(
            request, SPEECH_TYPES[form], _split(audio, self.speech_chunks)
        )

    async def _speech_events(
        self, request: web.Request, audio: bytes, text: str
    ) -> web.StreamResponse:
        events = [
            _event({"type": "speech.audio.delta", "audio": base64.b64encode(part).decode()})
            for part in _split(audio, self.speech_chunks - 1)
        ]
        tokens = len(text.split())
        usage = {"input_tokens": tokens, "output_tokens": len(audio) // 100}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        events.append(_event({"type": "speech.audio.done", "usage": usage}))
        return await self._write_chunks(request, "text/event-stream", events)

    async def _write_chunks(
        self, request: web.Request, content_type: str, parts: list[bytes]
    ) -> web.StreamResponse:
        """One write per part, ``speech_delay`` apart, the last one held by the gate."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        self.speech_writes = 0
        for index, part in enumerate(parts):
            if index and self.speech_delay:
                await asyncio.sleep(self.speech_delay)
            if index == self.speech_cut_after:
                assert request.transport is not None
                request.transport.close()  # what was written is flushed; the body never ends
                return response
            if index == len(parts) - 1 and self.speech_gate is not None:
                await asyncio.to_thread(self.speech_gate.wait, GATE_SECONDS)
            await response.write(part)
            self.speech_writes += 1
        await response.write_eof()
        return response

    # Transcriptions and translations

    async def _transcription(
        self, request: web.Request, operation: str, upload: Upload, model: str
    ) -> web.StreamResponse:
        seconds = _audio_seconds(upload)
        translate = operation == "audio/translations"
        if model not in TRANSCRIBE_MODELS or (translate and model != "whisper-1"):
            raise _invalid("model", model, ("whisper-1",) if translate else TRANSCRIBE_MODELS)
        form = upload.text("response_format") or "json"
        allowed: tuple[str, ...] = ("json", "text") if model.startswith("gpt-4o") else TEXT_FORMATS
        if form not in allowed:
            raise MediaError(
                400,
                f"response_format '{form}' is not compatible with model '{model}'. Use "
                f"{' or '.join(allowed)}.",
                "response_format",
                "unsupported_value",
            )
        if "timestamp_granularities" in _bases(upload) and form != "verbose_json":
            raise MediaError(
                400,
                "timestamp_granularities requires response_format verbose_json.",
            )
        text = f"Hello from a {seconds:.1f} second recording."
        if translate:
            text = f"Translated: {text}"
        stream = upload.flag("stream")
        if stream and model == "whisper-1":
            raise MediaError(400, "Streaming is not supported for whisper-1.", "stream")
        usage = self._transcript_usage(model, seconds, upload, text)
        if stream:
            return await _transcript_events(request, text, usage)
        return _transcript(form, text, seconds, usage, translate)

    def _transcript_usage(
        self, model: str, seconds: float, upload: Upload, text: str
    ) -> dict[str, Any] | None:
        if not self.transcription_usage:
            return None
        if model == "whisper-1":
            return {"type": "duration", "seconds": math.ceil(seconds)}
        audio = math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
        prompt = len((upload.text("prompt") or "").split())
        output = len(text.split())
        return {
            "type": "tokens",
            "input_tokens": audio + prompt,
            "input_token_details": {"text_tokens": prompt, "audio_tokens": audio},
            "output_tokens": output,
            "total_tokens": audio + prompt + output,
        }


def _read(content_type: str, raw: bytes, operation: str) -> Upload:
    """The request as OpenAI reads it: JSON for generations and speech, else multipart."""
    if operation in ("images/generations", "audio/speech"):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise MediaError(400, "We could not parse the JSON body of your request.")
        return Upload(body, {})
    if not content_type.lower().startswith("multipart/form-data"):
        raise MediaError(
            400,
            f"Invalid Content-Type header ({content_type}), expected multipart/form-data.",
        )
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    try:
        _, form, files = parse_form_data(environ, silent=False)
    except ValueError as error:
        raise MediaError(400, f"Could not parse multipart form: {error}") from None
    try:
        return Upload(_form_fields(form), {name: _read_files(files, name) for name in files})
    finally:
        for _, stored in files.items(multi=True):
            stored.close()


def _read_files(files: MultiDict[str, FileStorage], name: str) -> list[UploadedFile]:
    return [
        UploadedFile(stored.filename or "", stored.mimetype, stored.read())
        for stored in files.getlist(name)
    ]


def _form_fields(form: MultiDict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in form:
        values = form.getlist(name)
        fields[name] = values if name.endswith("[]") else values[-1]
    return fields


def _bases(upload: Upload) -> set[str]:
    """The parameter names of the request (``a[]`` and ``a[b]`` are parameter ``a``)."""
    return {name.partition("[")[0] for name in (*upload.fields, *upload.files)}


def _check_known(upload: Upload, operation: str) -> None:
    unknown = sorted(_bases(upload) - PARAMS[operation])
    if unknown:
        raise MediaError(400, f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])


def _image_family(model: str) -> str:
    if model in IMAGE_SIZES:
        return model
    if model.startswith("gpt-image") or model == "chatgpt-image-latest":
        return "gpt-image"
    raise _invalid("model", model, ("dall-e-2", "dall-e-3", "gpt-image-1"))


def _size_and_quality(upload: Upload, family: str) -> tuple[str, str]:
    sizes = GPT_IMAGE_SIZES if family == "gpt-image" else IMAGE_SIZES[family]
    size = upload.text("size") or ("auto" if family == "gpt-image" else "1024x1024")
    if size not in sizes:
        raise _invalid("size", size, sizes)
    qualities = IMAGE_QUALITIES[family]
    quality = upload.text("quality") or qualities[-1 if family == "gpt-image" else 0]
    if quality not in qualities:
        raise _invalid("quality", quality, qualities)
    if family != "dall-e-3" and upload.text("style") is not None:
        raise MediaError(400, f"'style' is not supported for {family}.", "style")
    return size, quality


def _uploaded_images(upload: Upload, operation: str, family: str) -> int:
    """How many images an edit or variation uploads, each checked; 0 for generations."""
    if operation == "images/generations":
        return 0
    images = upload.files.get("image", []) + upload.files.get("image[]", [])
    if not images:
        raise _missing("image")
    if len(images) > 1 and family == "dall-e-2":
        raise MediaError(400, "dall-e-2 takes one image.", "image")
    for image in [*images, *upload.files.get("mask", [])]:
        data = image.data
        size = png_size(data)
        if size is None or (len(data) > 4 * 1024 * 1024 and family == "dall-e-2"):
            raise MediaError(
                400, "Invalid input image - format must be a PNG of less than 4 MB.", "image"
            )
        if family == "dall-e-2" and size[0] != size[1]:
            raise MediaError(400, "Invalid input image - image must be square.", "image")
    return len(images)


def _dall_e_image(family: str, upload: Upload, form: str, index: int) -> dict[str, Any]:
    image: dict[str, Any] = (
        {"url": f"https://images.fake.invalid/{family}/{index}.png"}
        if form == "url"
        else {"b64_json": base64.b64encode(png_bytes(4, 4)).decode()}
    )
    if family == "dall-e-3":
        image["revised_prompt"] = f"A careful drawing of {upload.text('prompt')}"
    return image


async def _image_events(
    request: web.Request, operation: str, answer: dict[str, Any]
) -> web.StreamResponse:
    prefix = "image_edit" if operation == "images/edits" else "image_generation"
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for image in answer["data"]:
        partial = {"type": f"{prefix}.partial_image", "b64_json": image["b64_json"]}
        await response.write(_event({**partial, "partial_image_index": 0}, partial["type"]))
        completed = {
            "type": f"{prefix}.completed",
            "b64_json": image["b64_json"],
            "created_at": CREATED,
            **{key: answer[key] for key in ("background", "output_format", "quality", "size")},
        }
        if "usage" in answer:
            completed["usage"] = answer["usage"]
        await response.write(_event(completed, completed["type"]))
    await response.write_eof()
    return response


def _check_voice(voice: object) -> None:
    if voice is None:
        raise _missing("voice")
    if isinstance(voice, dict) and isinstance(voice.get("id"), str):
        return
    if voice not in VOICES:
        raise _invalid("voice", voice, tuple(sorted(VOICES)))


def speech_audio(text: str) -> bytes:
    """The fake's audio for ``text``: a silent WAV of 50 ms per character."""
    return silent_wav(len(text) * 0.05)


def _split(data: bytes, parts: int) -> list[bytes]:
    parts = max(1, min(parts, len(data)))
    size = -(-len(data) // parts)
    return [data[i : i + size] for i in range(0, len(data), size)]


def _audio_seconds(upload: Upload) -> float:
    files = upload.files.get("file")
    if not files:
        raise _missing("file")
    upload_file = files[0]
    name = (upload_file.filename or "").lower()
    extension = name.rpartition(".")[2]
    if extension not in AUDIO_FORMATS:
        raise MediaError(
            400, f"Invalid file format. Supported formats: {list(AUDIO_FORMATS)}", "file"
        )
    data = upload_file.data
    if extension != "wav":
        return round(len(data) / 16_000, 3)  # 128 kbit/s
    try:
        with wave.open(io.BytesIO(data)) as audio:
            frames, rate = int(audio.getnframes()), int(audio.getframerate())
    except (wave.Error, EOFError):
        raise MediaError(
            400, "Audio file might be corrupted or unsupported", "file", "invalid_value"
        ) from None
    return frames / rate


def _transcript(
    form: str, text: str, seconds: float, usage: Mapping[str, Any] | None, translate: bool
) -> web.Response:
    if form in ("text", "srt", "vtt"):
        body = {"text": f"{text}\n", "srt": _srt(text, seconds), "vtt": _vtt(text, seconds)}
        return web.Response(text=body[form], content_type="text/plain")
    answer: dict[str, Any] = {"text": text}
    if form == "verbose_json":
        answer = {
            "task": "translate" if translate else "transcribe",
            "language": "english",
            "duration": seconds,
            "text": text,
            "segments": [_segment(text, seconds)],
        }
    if usage is not None:
        answer["usage"] = usage
    return _json(answer)


def _segment(text: str, seconds: float) -> dict[str, Any]:
    return {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": seconds,
        "text": text,
        "tokens": list(range(len(text.split()))),
        "temperature": 0.0,
        "avg_logprob": -0.2,
        "compression_ratio": 1.0,
        "no_speech_prob": 0.01,
    }


def _stamp(seconds: float, separator: str) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}{separator}{millis:03d}"


def _srt(text: str, seconds: float) -> str:
    return f"1\n{_stamp(0, ',')} --> {_stamp(seconds, ',')}\n{text}\n\n"


def _vtt(text: str, seconds: float) -> str:
    return f"WEBVTT\n\n{_stamp(0, '.')} --> {_stamp(seconds, '.')}\n{text}\n\n"


async def _transcript_events(
    request: web.Request, text: str, usage: Mapping[str, Any] | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for word in text.split(" "):
        delta = {"type": "transcript.text.delta", "delta": word + " ", "logprobs": None}
        await response.write(_event(delta))
    done: dict[str, Any] = {"type": "transcript.text.done", "text": text, "logprobs": None}
    if usage is not None:
        done["usage"] = usage
    await response.write(_event(done))
    await response.write_eof()
    return response


def _event(data: Mapping[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def _json(payload: Mapping[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")
