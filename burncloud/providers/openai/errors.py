"""OpenAI-style upstream errors (OpenAI, Azure, DashScope) as burncloud errors (PROTOCOLS 8.7).

The upstream's HTTP status keeps its meaning; its message is passed on for what the client
can fix (400, 404, 429) and never for credential failures, whose messages can quote part of
the channel's key. Anything that still looks like a key is masked. Messages are not cut for
the client here: the upstream seam masks the channel's key in the whole message first, then
cuts it (``crypto.public_error_text``); ``MESSAGE_CAP`` only bounds memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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

MESSAGE_CAP = 64 * 1024  # memory bound only; the public cut comes after masking
# OpenAI and DashScope keys start "sk-"; Azure keys are long alphanumeric runs.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9*_\-]{4,}|\b[A-Za-z0-9]{32,}\b")
_MODEL_MISSING = frozenset({"model_not_found", "DeploymentNotFound"})
_FILTERED = frozenset({"content_filter", "data_inspection_failed"})


@dataclass(frozen=True, slots=True)
class UpstreamFault:
    """The parts of an upstream error body burncloud uses."""

    message: str
    code: str | None = None


def read_fault(raw: bytes) -> UpstreamFault:
    """The message and code of an OpenAI-shaped (or DashScope-native) error body."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UpstreamFault("")
    if not isinstance(data, dict):
        return UpstreamFault("")
    error = data.get("error")
    if isinstance(error, str):
        return UpstreamFault(_clean(error))
    source = error if isinstance(error, dict) else data
    code = source.get("code")
    return UpstreamFault(
        _clean(source.get("message")), str(code) if code not in (None, "") else None
    )


def map_error(status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
    """The burncloud error for an OpenAI-style upstream's non-200 answer."""
    fault = read_fault(raw)
    message = fault.message or f"upstream returned HTTP {status}"
    if status in (401, 403):
        return UpstreamError(f"the upstream refused this channel's credentials (HTTP {status})")
    if status == 429:
        return RateLimited(f"upstream rate limit: {message}", headers=_retry(retry_after))
    if status in (503, 529):
        return ServiceUnavailable(f"upstream overloaded: {message}", headers=_retry(retry_after))
    if status >= 500 or status in (408, 409):
        return UpstreamError(f"upstream error (HTTP {status}): {message}")
    return _client_error(status, fault.code, message)


def _client_error(status: int, code: str | None, message: str) -> BurncloudError:
    if status == 404:
        if code in _MODEL_MISSING:
            return ModelNotFound(f"upstream: {message}")
        return NotFound(f"upstream: {message}")
    if status == 413:
        return RequestTooLarge(f"upstream: {message}")
    if code in _FILTERED:
        return InvalidRequest(f"upstream content filter ({code}): {message}")
    return InvalidRequest(f"upstream: {message}")


def in_band_error(error: Any) -> tuple[str, str, str]:
    """Message, type and code for re-emitting an error event found inside a stream."""
    if not isinstance(error, dict):
        return (_clean(error) or "upstream error", "server_error", "upstream_error")
    kind, code = error.get("type"), error.get("code")
    return (
        _clean(error.get("message")) or "upstream error",
        kind if isinstance(kind, str) and kind else "server_error",
        str(code) if code not in (None, "") else "upstream_error",
    )


def _clean(message: Any) -> str:
    if not isinstance(message, str):
        return ""
    return _KEY_LIKE.sub("***", message[:MESSAGE_CAP])


def _retry(retry_after: str | None) -> dict[str, str] | None:
    return {"Retry-After": retry_after} if retry_after else None
