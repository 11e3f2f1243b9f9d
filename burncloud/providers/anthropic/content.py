"""One OpenAI content part -> one Anthropic content block: text, image or PDF document.

Data URLs become base64 sources (images only as JPEG, PNG, GIF or WebP: what Anthropic
accepts); http(s) image URLs become URL sources that Anthropic fetches itself, so the
gateway never downloads anything. A part's ``cache_control`` (prompt caching) is kept.
"""

from __future__ import annotations

from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_TYPE_ALIASES = {"image/jpg": "image/jpeg"}
PDF_TYPE = "application/pdf"


def text_block(text: str, cache_control: Any = None) -> JSON | None:
    """A text block, or None for empty or blank text (Anthropic rejects empty text blocks)."""
    if not text.strip():
        return None
    block: JSON = {"type": "text", "text": text}
    return _with_cache_control(block, cache_control)


def part_block(part: Any) -> JSON | None:
    """The block for one user content part (None when it holds no text)."""
    if not isinstance(part, dict):
        raise InvalidRequest("content parts must be objects")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequest("text parts need a string 'text'")
        return text_block(text, part.get("cache_control"))
    if kind == "image_url":
        return _with_cache_control(_image_block(part.get("image_url")), part.get("cache_control"))
    if kind == "file":
        return _with_cache_control(_document_block(part.get("file")), part.get("cache_control"))
    raise InvalidRequest(f"content part type {kind!r} is not supported for Anthropic models")


def _image_block(image: Any) -> JSON:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url parts need a 'url'")
    if url.startswith("data:"):
        media_type, data = _split_data_url(url)
        media_type = _TYPE_ALIASES.get(media_type, media_type)
        if media_type not in IMAGE_TYPES:
            raise InvalidRequest(
                f"image type {media_type!r} is not supported: use JPEG, PNG, GIF or WebP"
            )
        return {"type": "image", "source": _base64_source(media_type, data)}
    if url.lower().startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("image URLs must be https:// URLs or base64 data URLs")


def _document_block(file: Any) -> JSON:
    data_url = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data_url, str) or not data_url.startswith("data:"):
        raise InvalidRequest("file parts need 'file_data' as a base64 data URL, not a file_id")
    media_type, data = _split_data_url(data_url)
    if media_type != PDF_TYPE:
        raise InvalidRequest(f"file type {media_type!r} is not supported: only PDF documents")
    return {"type": "document", "source": _base64_source(media_type, data)}


def _split_data_url(url: str) -> tuple[str, str]:
    """``data:<mime>[;params];base64,<data>`` -> (lower-case mime, data)."""
    header, comma, data = url.partition(",")
    params = header[len("data:") :].split(";")
    if not comma or not data or params[-1].lower() != "base64":
        raise InvalidRequest("data URLs must be base64-encoded: data:<type>;base64,<data>")
    return params[0].strip().lower(), data


def _base64_source(media_type: str, data: str) -> JSON:
    return {"type": "base64", "media_type": media_type, "data": data}


def _with_cache_control(block: JSON, cache_control: Any) -> JSON:
    if isinstance(cache_control, dict):
        block["cache_control"] = cache_control
    return block
