"""Image and audio requests as they arrive: their endpoints, their bodies read just enough
to route, reserve and bill them, and the bounded read of a multipart upload.

``/v1/images/generations`` and ``/v1/audio/speech`` are JSON; ``/v1/images/edits``,
``/v1/images/variations``, ``/v1/audio/transcriptions`` and ``/v1/audio/translations`` are
multipart uploads, read once (bounded by the body limit, like any body) and parsed in place
(``protocols.multipart``): the file is never copied, and goes upstream in the bytes it came
in. Each request carries what it may cost at most (``MediaReservation``: images of the
requested size and quality, the characters to speak, the seconds of the uploaded audio,
read from the file's own headers), reserved instead of a token estimate and never capped
(there is no answer limit to cap: all of it or a 402), and what it bills when no answer
comes back (the client left): the input the upstream had, as for chat.
"""

from __future__ import annotations

from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.gateway.asgi import Receive, read_bounded
from burncloud.gateway.relay.inbound import (
    CLIENT_OVERRIDES,
    Endpoint,
    InboundRequest,
    MediaBody,
    model_name,
    parse_object,
    without_overrides,
)
from burncloud.protocols.multipart import Form, form_boundary, parse_form
from burncloud.providers.audio_duration import audio_duration
from burncloud.providers.openai.audio_usage import (
    speech_reservation,
    transcription_reservation,
    upload_metering,
)
from burncloud.providers.openai.media_usage import MediaReservation, image_reservation
from burncloud.services.pricing import Usage

MAX_IMAGES = 10  # OpenAI's limit on ``n`` for images
IMAGE_FILES = ("image", "image[]")
IMAGE_MODEL = "dall-e-2"  # OpenAI's default image model, for a request that names none


async def read_upload(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """A multipart/form-data body, read within ``limit`` like any body (413 as soon as it
    is known to be larger); InvalidRequest for another Content-Type, or a body that does not
    begin with the boundary its Content-Type names."""
    boundary = form_boundary(headers.get(b"content-type"))
    body = await read_bounded(receive, headers, limit)
    if not body.startswith(b"--" + boundary + b"\r\n"):
        raise InvalidRequest(
            "the request body is not valid multipart/form-data: it does not begin with the "
            "boundary of its Content-Type"
        )
    return body


def parse_media(endpoint: Endpoint, body: bytes) -> InboundRequest:
    """The routing view of an image or audio request; InvalidRequest when it lacks what
    OpenAI requires of it (or what billing needs)."""
    if endpoint.form:
        return _upload(endpoint, _without_overrides(parse_form(body, _boundary(body))))
    data, body = without_overrides(parse_object(body), body)
    model = model_name(data.get("model") or endpoint.default_model)
    if endpoint is SPEECH:
        _require_text(data, "input")
        hold = speech_reservation(data)
        unanswered = _units_only(hold)
        return _request(endpoint, body, data, model, True, MediaBody(hold, unanswered))
    _require_text(data, "prompt")
    _check_images(data.get("n"))
    hold = image_reservation(data)
    stream = _flag(data.get("stream"))
    return _request(endpoint, body, data, model, stream, MediaBody(hold, _prompt_only(data)))


def _upload(endpoint: Endpoint, form: Form) -> InboundRequest:
    fields: dict[str, Any] = dict(form.fields())
    model = model_name(fields.get("model") or endpoint.default_model)
    stream = endpoint.streams and _flag(fields.get("stream"))
    if endpoint.listed_as in ("transcriptions", "translations"):
        return _transcription(endpoint, form, fields, model, stream)
    images = [part for part in form.files if part.name in IMAGE_FILES]
    if not images:
        raise InvalidRequest("you must provide an 'image' file")
    if endpoint is IMAGE_EDITS:
        _require_text(fields, "prompt")
    _check_images(fields.get("n"))
    hold = image_reservation(fields, len(images))
    media = MediaBody(hold, _prompt_only(fields), form)
    return _request(endpoint, form.body, fields, model, stream, media)


def _transcription(
    endpoint: Endpoint, form: Form, fields: dict[str, Any], model: str, stream: bool
) -> InboundRequest:
    if not fields.get("model"):
        raise InvalidRequest("you must provide a model parameter")
    audio = form.file("file")
    if audio is None:
        raise InvalidRequest("you must provide a 'file' to transcribe")
    seconds = audio_duration(audio.data, audio.filename, audio.content_type)
    size = len(audio.data)
    hold = transcription_reservation(fields, seconds, size)
    heard = upload_metering(seconds, size)
    media = MediaBody(hold, Usage(0, 0, units=heard.units), form, seconds)
    return _request(endpoint, form.body, fields, model, stream, media)


def _request(
    endpoint: Endpoint,
    body: bytes,
    data: dict[str, Any],
    model: str,
    stream: bool,
    media: MediaBody,
) -> InboundRequest:
    return InboundRequest(endpoint, body, data, model, stream, False, None, media=media)


def _boundary(body: bytes) -> bytes:
    """The boundary of a body ``read_upload`` accepted: its first line names it."""
    line_end = body.find(b"\r\n")
    if not body.startswith(b"--") or line_end < 3:
        raise InvalidRequest("the request body is not valid multipart/form-data")
    return body[2:line_end]


def _without_overrides(form: Form) -> Form:
    """The form without the fields no client may set (``inbound.CLIENT_OVERRIDES``), cut
    out only when one is there, as a JSON body's are."""
    if all(field.name not in CLIENT_OVERRIDES for field in form.texts):
        return form
    return parse_form(form.without(CLIENT_OVERRIDES), form.boundary)


def _require_text(fields: dict[str, Any], name: str) -> None:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"you must provide a non-empty '{name}' parameter")


def _check_images(n: object) -> None:
    """``n``, when given, must be a whole number of images OpenAI allows (JSON or form)."""
    if n is None:
        return
    value = int(n) if isinstance(n, str) and n.isdigit() else n
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_IMAGES:
        raise InvalidRequest(f"'n' must be an integer from 1 to {MAX_IMAGES}")


def _flag(value: object) -> bool:
    """``stream`` as JSON sends it (a boolean) or a form does ("true" / "false")."""
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise InvalidRequest("'stream' must be a boolean")


def _units_only(hold: MediaReservation) -> Usage:
    """Speech unanswered: the characters the upstream was given (its price per 1M)."""
    return Usage(0, 0, units=hold.units)


def _prompt_only(fields: dict[str, Any]) -> Usage:
    """An image request unanswered: its prompt, roughly (bytes / 4, as a chat's), and no
    image."""
    prompt = fields.get("prompt")
    return Usage(len(prompt.encode()) // 4 + 1 if isinstance(prompt, str) else 0, 0)


# Speech answers are always relayed as they come (audio chunk by chunk, or SSE): streams.
SPEECH = Endpoint(
    "audio.speech",
    "/audio/speech",
    "input",
    True,
    0,
    "speech",
    limit_fields=(),
    parser=parse_media,
)
IMAGE_GENERATIONS = Endpoint(
    "images.generations",
    "/images/generations",
    "prompt",
    True,
    0,
    "images",
    limit_fields=(),
    default_model=IMAGE_MODEL,
    parser=parse_media,
)
IMAGE_EDITS = Endpoint(
    "images.edits",
    "/images/edits",
    "prompt",
    True,
    0,
    "images",
    limit_fields=(),
    default_model=IMAGE_MODEL,
    parser=parse_media,
    form=True,
)
IMAGE_VARIATIONS = Endpoint(
    "images.variations",
    "/images/variations",
    "image",
    False,
    0,
    "image_variations",
    limit_fields=(),
    default_model=IMAGE_MODEL,
    parser=parse_media,
    form=True,
)
TRANSCRIPTIONS = Endpoint(
    "audio.transcriptions",
    "/audio/transcriptions",
    "file",
    True,
    0,
    "transcriptions",
    limit_fields=(),
    parser=parse_media,
    form=True,
)
TRANSLATIONS = Endpoint(
    "audio.translations",
    "/audio/translations",
    "file",
    False,
    0,
    "translations",
    limit_fields=(),
    parser=parse_media,
    form=True,
)
MEDIA_ENDPOINTS = (
    IMAGE_GENERATIONS,
    IMAGE_EDITS,
    IMAGE_VARIATIONS,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
