"""The image and audio endpoints in the router's OpenAPI document (``openapi``): their
request schemas (JSON, or multipart uploads with binary file fields) and operations."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
Security = list[dict[str, list[str]]]

STRING: JSON = {"type": "string"}
MODEL: JSON = {"type": "string", "minLength": 1, "maxLength": 256}
FILE: JSON = {"type": "string", "contentMediaType": "application/octet-stream"}
IMAGES: JSON = {"type": "integer", "minimum": 1, "maximum": 10}
IMAGE_FORMAT: JSON = {"enum": ["url", "b64_json"]}
TEXT_FORMAT: JSON = {"enum": ["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]}


def _schema(required: tuple[str, ...], **properties: JSON) -> JSON:
    return {"type": "object", "properties": properties, "required": list(required)}


MEDIA_SCHEMAS: JSON = {
    "ImageRequest": _schema(
        ("prompt",),
        model=MODEL,  # default: dall-e-2
        prompt={"type": "string", "minLength": 1},
        n=IMAGES,
        size=STRING,
        quality=STRING,
        response_format=IMAGE_FORMAT,
        style=STRING,
        stream={"type": "boolean"},
        user=STRING,
    ),
    "ImageEditRequest": _schema(
        ("image", "prompt"),
        image=FILE,
        mask=FILE,
        prompt={"type": "string", "minLength": 1},
        model=MODEL,
        n=IMAGES,
        size=STRING,
        response_format=IMAGE_FORMAT,
    ),
    "ImageVariationRequest": _schema(
        ("image",), image=FILE, model=MODEL, n=IMAGES, size=STRING, response_format=IMAGE_FORMAT
    ),
    "SpeechRequest": _schema(
        ("model", "input", "voice"),
        model=MODEL,
        input={"type": "string", "minLength": 1, "maxLength": 4096},
        voice={"type": ["string", "object"]},
        instructions=STRING,
        response_format={"enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
        speed={"type": "number", "minimum": 0.25, "maximum": 4},
        stream_format={"enum": ["audio", "sse"]},
    ),
    "TranscriptionRequest": _schema(
        ("file", "model"),
        file=FILE,
        model=MODEL,
        language=STRING,
        prompt=STRING,
        response_format=TEXT_FORMAT,
        temperature={"type": "number", "minimum": 0, "maximum": 1},
        stream={"type": "boolean"},
    ),
    "TranslationRequest": _schema(
        ("file", "model"),
        file=FILE,
        model=MODEL,
        prompt=STRING,
        response_format=TEXT_FORMAT,
        temperature={"type": "number", "minimum": 0, "maximum": 1},
    ),
}


def media_paths(security: Security) -> JSON:
    """The operations of /v1/images/* and /v1/audio/*, for callers with ``security``."""
    return {
        "/v1/images/generations": _post("Image generation", security, "ImageRequest"),
        "/v1/images/edits": _post("Image edit (upload)", security, "ImageEditRequest", True),
        "/v1/images/variations": _post(
            "Image variations (upload)", security, "ImageVariationRequest", True
        ),
        "/v1/audio/speech": _post(
            "Speech: audio streamed back", security, "SpeechRequest", answer="audio/mpeg"
        ),
        "/v1/audio/transcriptions": _post(
            "Transcription (upload)", security, "TranscriptionRequest", True
        ),
        "/v1/audio/translations": _post(
            "Translation to English (upload)", security, "TranslationRequest", True
        ),
    }


def _post(
    summary: str,
    security: Security,
    body: str,
    upload: bool = False,
    answer: str = "application/json",
) -> JSON:
    kind = "multipart/form-data" if upload else "application/json"
    error = {"schema": {"$ref": "#/components/schemas/Error"}}
    operation: JSON = {
        "summary": summary,
        "security": security,
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        },
        "responses": {
            "200": {"description": "OK", "content": {answer: {"schema": {}}}},
            "4XX": {"description": "refused", "content": {"application/json": error}},
            "5XX": {"description": "failed", "content": {"application/json": error}},
        },
    }
    return {"post": operation}
