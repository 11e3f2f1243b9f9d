"""Gemini front door: errors in Google's shape (PROTOCOLS.md 4.5, 8.7).

``{"error": {"code": <HTTP status>, "message": ..., "status": <google.rpc code name>}}``, the
body google-genai's ``errors.APIError`` reads. In a stream the same object is one
``data:`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import BurncloudError
from burncloud.protocols.shapes import JSON

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",  # burncloud's insufficient quota
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def grpc_status(status: int) -> str:
    """Google's status name for an HTTP status (other 4xx: INVALID_ARGUMENT, 5xx: INTERNAL)."""
    if status in _STATUSES:
        return _STATUSES[status]
    return "INVALID_ARGUMENT" if 400 <= status < 500 else "INTERNAL"


def gemini_error(status: int, openai_error: Mapping[str, Any]) -> JSON:
    """The Gemini error body for an OpenAI-shaped ``error`` object answered with ``status``."""
    message = openai_error.get("message") if isinstance(openai_error, Mapping) else None
    text = message if isinstance(message, str) and message else f"upstream error ({status})"
    return {"error": {"code": status, "message": text, "status": grpc_status(status)}}


def gemini_rejection(error: BurncloudError) -> tuple[int, JSON]:
    """The HTTP status and Gemini error body for burncloud's own ``error``."""
    return error.status, gemini_error(error.status, {"message": error.message})


def stream_status(openai_error: Mapping[str, Any]) -> int:
    """The HTTP status an in-band OpenAI stream error stands for (it carries none)."""
    kind, code = openai_error.get("type"), openai_error.get("code")
    if code == "service_unavailable":
        return 503
    if kind == "rate_limit_error" or code == "rate_limit_exceeded":
        return 429
    if kind == "invalid_request_error":
        return 400
    return 500


def error_event(status: int, message: str) -> bytes:
    """An in-band Gemini error event."""
    return sse_event(gemini_error(status, {"message": message}))


def sse_event(payload: JSON) -> bytes:
    """One Gemini SSE event: ``data:`` line and CRLF CRLF, as Google sends them."""
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"
