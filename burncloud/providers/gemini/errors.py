"""Gemini error answers as burncloud errors (PROTOCOLS.md 4.5 and 8.7).

Gemini reports a bad key as HTTP 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``:
that is the channel's fault, not the client's, so it becomes a 502 like a 401/403 would.
``FAILED_PRECONDITION`` (region or billing) is the channel's fault too. Credential errors
get a fixed message; other upstream messages are passed on with anything that looks like a
key or a project number masked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import orjson

from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.protocols.shapes import JSON

_SECRETS = re.compile(r"AIza[0-9A-Za-z_\-]{20,}|([?&]key=)[^&\s\"']+")
_PROJECTS = re.compile(r"\b(projects?[/ ])\d+")
_CHANNEL_STATUSES = ("UNAUTHENTICATED", "PERMISSION_DENIED")


@dataclass(frozen=True, slots=True)
class _Details:
    message: str
    status: str
    reasons: tuple[str, ...]
    retry_delay: str | None


def upstream_error(status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
    """The burncloud error for a non-200 Gemini answer."""
    return _classify(status, _details(_error_object(raw)), retry_after)


def stream_error(error: JSON) -> BurncloudError:
    """The burncloud error for an ``{"error": {...}}`` event inside a stream."""
    code = error.get("code")
    return _classify(code if isinstance(code, int) else 500, _details(error), None)


def _classify(status: int, details: _Details, retry_after: str | None) -> BurncloudError:
    """Pick the error class for an upstream ``status`` and its error details."""
    if _bad_credentials(status, details):
        return UpstreamError("the Gemini upstream rejected this channel's API key")
    message = details.message or f"the Gemini upstream answered HTTP {status}"
    if details.status == "FAILED_PRECONDITION":
        return UpstreamError(f"the Gemini channel cannot serve this request: {message}")
    if status == 404:
        return ModelNotFound(message)
    if status == 413:
        return RequestTooLarge(message)
    if status == 429:
        wait = retry_after or _seconds(details.retry_delay)
        return RateLimited(message, headers={"Retry-After": wait} if wait else None)
    if status == 503:
        return ServiceUnavailable(message)
    if status >= 500:
        return UpstreamError(message)
    return InvalidRequest(message)


def _bad_credentials(status: int, details: _Details) -> bool:
    if status in (401, 403) or details.status in _CHANNEL_STATUSES:
        return True
    return any(reason.startswith("API_KEY") for reason in details.reasons)


def _error_object(raw: bytes) -> JSON:
    """The ``error`` object of a body, which is an object or an array of one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: JSON) -> _Details:
    reasons, delay = [], None
    for detail in error.get("details") or ():
        if isinstance(detail, dict):
            if isinstance(detail.get("reason"), str):
                reasons.append(detail["reason"])
            if isinstance(detail.get("retryDelay"), str):
                delay = detail["retryDelay"]
    message = error.get("message")
    return _Details(
        message=_scrub(message) if isinstance(message, str) else "",
        status=str(error.get("status") or ""),
        reasons=tuple(reasons),
        retry_delay=delay,
    )


def _scrub(message: str) -> str:
    message = _SECRETS.sub(lambda m: (m.group(1) or "") + "<redacted>", message)
    return _PROJECTS.sub(r"\1<redacted>", message)


def _seconds(delay: str | None) -> str | None:
    """``"37.5s"`` (a protobuf Duration) as whole seconds for a Retry-After header."""
    if not delay or not delay.endswith("s"):
        return None
    try:
        return str(math.ceil(float(delay[:-1])))
    except ValueError:
        return None
