"""Anthropic front door: burncloud errors in Anthropic's shape (PROTOCOLS.md 3.5, 8.7).

``{"type": "error", "error": {"type": ..., "message": ...}}`` with Anthropic's status for the
kind: overloaded is 529, which the anthropic SDK retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import (
    BurncloudError,
    InsufficientQuota,
    InvalidRequest,
    InvalidToken,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.protocols.shapes import JSON
from burncloud.protocols.sse import encode_event

# Most specific first: RequestTooLarge is an InvalidRequest.
_KINDS: tuple[tuple[type[BurncloudError], int, str], ...] = (
    (RequestTooLarge, 413, "request_too_large"),
    (InvalidRequest, 400, "invalid_request_error"),
    (InvalidToken, 401, "authentication_error"),
    (InsufficientQuota, 402, "billing_error"),
    (PermissionDenied, 403, "permission_error"),
    (NotFound, 404, "not_found_error"),
    (RateLimited, 429, "rate_limit_error"),
    (ServiceUnavailable, 529, "overloaded_error"),
    (UpstreamError, 502, "api_error"),
)


def anthropic_error(error: BurncloudError) -> tuple[int, JSON]:
    """The HTTP status and Anthropic error body for ``error`` (send ``error.headers`` too)."""
    status, kind = 500, "api_error"
    for cls, cls_status, cls_kind in _KINDS:
        if isinstance(error, cls):
            status, kind = cls_status, cls_kind
            break
    return status, error_body(kind, error.message)


def error_body(kind: str, message: str) -> JSON:
    """An Anthropic error object."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_event(kind: str, message: str) -> bytes:
    """An in-band Anthropic ``event: error``."""
    return encode_event(orjson.dumps(error_body(kind, message)), "error")


def kind_of_openai_error(error: Mapping[str, Any]) -> str:
    """The Anthropic error type for an OpenAI-shaped ``error`` object (stream error events)."""
    kind, code = error.get("type"), error.get("code")
    if code == "service_unavailable":
        return "overloaded_error"
    if kind == "rate_limit_error" or code == "rate_limit_exceeded":
        return "rate_limit_error"
    if kind == "invalid_request_error":
        return "invalid_request_error"
    return "api_error"
