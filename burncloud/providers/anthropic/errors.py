"""Anthropic errors -> burncloud errors (PROTOCOLS.md 3.5, 8.7), for HTTP answers and stream events.

The upstream status decides where it is clear; the error ``type`` decides otherwise (and for
in-band stream errors, which have no status). Problems with the channel's own account (bad
key, no permission, billing) are the gateway's fault, not the client's: they become 502
upstream errors whose message names the problem but never repeats anything upstream said
about the key or account. Client mistakes keep Anthropic's message, uncut: the upstream seam
(or, in a stream, the pump) masks the channel's key in it and only then cuts it
(``crypto.public_error_text``); ``MESSAGE_CAP`` only bounds memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    ModelNotFound,
    NotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.protocols.openai_chunks import error_event
from burncloud.protocols.shapes import object_field

MESSAGE_CAP = 64 * 1024  # memory bound only; the public cut comes after masking

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ACCOUNT_PROBLEMS = {
    "authentication_error": "upstream rejected the channel's API key",
    "permission_error": "upstream denied the channel's key permission for this request",
    "billing_error": "upstream reports a billing problem on the channel's account",
}


def error_from_response(status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
    """The burncloud error for a non-200 Messages API answer."""
    error = _error_object(raw)
    kind = _STATUS_TYPES.get(status) or _type_of(error) or _fallback_type(status)
    return map_error(kind, _message_of(error, status), retry_after)


def error_from_event(payload: Mapping[str, Any]) -> BurncloudError:
    """The burncloud error for an in-band ``event: error`` payload."""
    error = object_field(payload, "error")
    return map_error(_type_of(error) or "api_error", _message_of(error, None), None)


def stream_error_event(payload: Mapping[str, Any]) -> bytes:
    """The OpenAI in-band error event for an Anthropic stream ``error`` event."""
    return error_bytes(error_from_event(payload))


def error_bytes(error: BurncloudError) -> bytes:
    """``error`` as an OpenAI in-band SSE error event."""
    return error_event(error.message, error.type, error.code)


def map_error(kind: str, message: str, retry_after: str | None) -> BurncloudError:
    """The burncloud error for Anthropic error ``kind`` with upstream ``message``."""
    if kind in _ACCOUNT_PROBLEMS:
        return UpstreamError(f"{_ACCOUNT_PROBLEMS[kind]} ({kind})")
    if kind == "overloaded_error":
        return ServiceUnavailable(f"upstream overloaded: {message}")
    if kind == "rate_limit_error":
        headers = {"Retry-After": retry_after} if retry_after else None
        return RateLimited(f"upstream rate limit: {message}", headers=headers)
    if kind == "not_found_error":
        cls = ModelNotFound if message.startswith("model:") else NotFound
        return cls(message)
    if kind == "request_too_large":
        return RequestTooLarge(message)
    if kind == "invalid_request_error":
        return InvalidRequest(message)
    if kind == "timeout_error":
        return UpstreamError(f"upstream timed out: {message}")
    return UpstreamError(f"upstream error: {message}")


def _error_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _type_of(error: Mapping[str, Any]) -> str | None:
    kind = error.get("type")
    return kind if isinstance(kind, str) and kind else None


def _message_of(error: Mapping[str, Any], status: int | None) -> str:
    message = error.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()[:MESSAGE_CAP]
    return f"HTTP {status}" if status is not None else "stream failed"


def _fallback_type(status: int) -> str:
    return "invalid_request_error" if 400 <= status < 500 else "api_error"
