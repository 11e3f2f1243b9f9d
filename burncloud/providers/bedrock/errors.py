"""Bedrock errors -> burncloud errors (PROTOCOLS.md 7.7, 8.7), for HTTP answers and stream frames.

Bedrock bodies are ``{"message": ...}`` (sometimes with ``__type``). Messages are passed on
with ARNs and account ids removed; credential and access failures (401/403) are the
channel's fault, not the client's, and become a fixed 502 message.
"""

from __future__ import annotations

import re

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

_BY_EXCEPTION: dict[str, type[BurncloudError]] = {
    "validationexception": InvalidRequest,
    "servicequotaexceededexception": RateLimited,
    "resourcenotfoundexception": ModelNotFound,
    "throttlingexception": RateLimited,
    "modelnotreadyexception": RateLimited,
    "modeltimeoutexception": ServiceUnavailable,
    "serviceunavailableexception": ServiceUnavailable,
    "internalserverexception": UpstreamError,
    "modelerrorexception": UpstreamError,
    "modelstreamerrorexception": UpstreamError,
}
_BY_STATUS: dict[int, type[BurncloudError]] = {
    400: InvalidRequest,
    404: ModelNotFound,
    408: ServiceUnavailable,
    413: RequestTooLarge,
    424: UpstreamError,
    429: RateLimited,
    503: ServiceUnavailable,
}
_RETRYABLE = (RateLimited, ServiceUnavailable)
_ARN = re.compile(r"arn:aws[\w-]*:\S*")
_ACCOUNT_ID = re.compile(r"\b\d{12}\b")


def http_error(status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
    """The burncloud error for a non-200 Bedrock answer with body ``raw``."""
    message, exception = _read_body(raw)
    if status in (401, 403):
        return UpstreamError(
            f"Bedrock refused the channel's credentials or model access ({status}"
            f"{' ' + exception if exception else ''}); check the channel's key and region"
        )
    kind = _BY_EXCEPTION.get(exception.lower()) or _BY_STATUS.get(status)
    if kind is None:
        kind = InvalidRequest if 400 <= status < 500 else UpstreamError
    text = scrub(message) or f"Bedrock returned HTTP {status}"
    headers = {"Retry-After": retry_after} if retry_after and issubclass(kind, _RETRYABLE) else None
    return kind(text, headers=headers)


def stream_error_kind(exception: str) -> type[BurncloudError]:
    """The burncloud error class for a mid-stream exception frame's ``:exception-type``."""
    return _BY_EXCEPTION.get(exception.lower(), UpstreamError)


def exception_message(payload: bytes) -> str:
    """The ``message`` of a mid-stream exception frame's payload; empty when absent."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def scrub(message: str) -> str:
    """``message`` without ARNs and AWS account ids."""
    return _ACCOUNT_ID.sub("<account>", _ARN.sub("<arn>", message)).strip()


def _read_body(raw: bytes) -> tuple[str, str]:
    """The message and exception name of an error body; empty strings when absent."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", ""  # a proxy's page, say: nothing worth showing
    if not isinstance(data, dict):
        return "", ""
    message = data.get("message") or data.get("Message") or ""
    exception = str(data.get("__type") or "").rsplit("#", 1)[-1].split(":", 1)[0]
    return str(message), exception
