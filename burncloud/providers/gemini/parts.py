"""OpenAI message content (text, images, audio, files) as Gemini ``parts``.

A data URL becomes ``inlineData`` (base64 as sent). Gemini fetches only File API and
``gs://`` URIs itself, so the relay turns ``http(s)://`` image URLs into data URLs first,
through its SSRF-safe fetcher (``gateway.inline_images``); a URL that still arrives here
becomes ``fileData`` with the URL as ``fileUri``.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}
_FETCHED_SCHEMES = ("http", "https", "gs")


def content_parts(content: object) -> list[JSON]:
    """The Gemini parts for one user message's ``content`` (empty text is left out)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest("message content must be a string or a list of content parts")
    return [part for item in content if (part := _part(item)) is not None]


def content_text(content: object) -> str:
    """The text of a message whose content may only hold text (assistant, tool, system)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("message content must be a string or a list of content parts")
    texts = []
    for item in content:
        if not isinstance(item, dict) or item.get("type") not in ("text", "refusal"):
            raise InvalidRequest("only text content parts are allowed in this message")
        texts.append(str(item.get("text") or item.get("refusal") or ""))
    return "".join(texts)


def _part(item: object) -> JSON | None:
    if not isinstance(item, dict):
        raise InvalidRequest("each content part must be an object with a 'type'")
    kind = item.get("type")
    if kind == "text":
        text = item.get("text")
        return {"text": text} if isinstance(text, str) and text else None
    if kind == "image_url":
        return _image(item.get("image_url"))
    if kind == "input_audio":
        return _audio(item.get("input_audio"))
    if kind == "file":
        return _file(item.get("file"))
    raise InvalidRequest(f"content part type {kind!r} is not supported by Gemini channels")


def _image(image: object) -> JSON:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url.url must be a non-empty string")
    if url.startswith("data:"):
        return _data_url(url)
    if urlsplit(url).scheme.lower() not in _FETCHED_SCHEMES:
        raise InvalidRequest("image_url.url must be a data: URL or an http(s):// URL")
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return {"fileData": {"mimeType": guessed or "image/jpeg", "fileUri": url}}


def _audio(audio: object) -> JSON:
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
        raise InvalidRequest("input_audio must have base64 'data' and a 'format'")
    mime = _AUDIO_TYPES.get(str(audio.get("format", "")).lower())
    if mime is None:
        raise InvalidRequest("input_audio.format must be 'wav' or 'mp3'")
    return {"inlineData": {"mimeType": mime, "data": audio["data"]}}


def _file(file: object) -> JSON:
    if not isinstance(file, dict):
        raise InvalidRequest("a file content part needs a 'file' object")
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise InvalidRequest("Gemini channels accept files only as inline 'file_data'")
    if data.startswith("data:"):
        return _data_url(data)
    guessed, _ = mimetypes.guess_type(str(file.get("filename") or ""))
    return {"inlineData": {"mimeType": guessed or "application/pdf", "data": data}}


def _data_url(url: str) -> JSON:
    header, comma, payload = url[5:].partition(",")
    mime, *params = header.split(";")
    if not comma or not params or params[-1].lower() != "base64" or not payload:
        raise InvalidRequest("data URLs must be base64: data:<mime type>;base64,<data>")
    return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": payload}}
