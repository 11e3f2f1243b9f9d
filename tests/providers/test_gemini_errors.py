"""Gemini error answers as burncloud errors (PROTOCOLS.md 4.5, 8.7, gotcha 7)."""

from __future__ import annotations

import orjson
import pytest

from burncloud.errors import (
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.providers.gemini import GeminiProvider

KEY = "AIzaSyA1234567890abcdefghijklmnopqrstuv"


def body(code: int, status: str, message: str, *details: dict) -> bytes:
    error = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return orjson.dumps({"error": error})


def error(status: int, raw: bytes, retry_after: str | None = None):
    return GeminiProvider().error(status, raw, retry_after)


def test_invalid_key_is_the_channels_fault_and_hides_the_key() -> None:
    raw = body(
        400,
        "INVALID_ARGUMENT",
        f"API key not valid. Please pass a valid API key. ({KEY})",
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"},
    )
    err = error(400, raw)
    assert type(err) is UpstreamError and err.status == 502
    assert KEY not in err.message and "API key" in err.message


@pytest.mark.parametrize("status", [401, 403])
def test_credential_statuses_are_upstream_errors(status: int) -> None:
    raw = body(
        status, "PERMISSION_DENIED", "Generative Language API has not been used in project 123456"
    )
    err = error(status, raw)
    assert type(err) is UpstreamError
    assert "123456" not in err.message


def test_bad_request_passes_the_upstream_message_on() -> None:
    raw = body(
        400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified"
    )
    err = error(400, raw)
    assert type(err) is InvalidRequest and err.status == 400
    assert err.message == "* GenerateContentRequest.contents: contents is not specified"


def test_failed_precondition_is_the_channels_fault() -> None:
    raw = body(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
    assert type(error(400, raw)) is UpstreamError


def test_array_wrapped_errors_are_read() -> None:
    raw = b"[" + body(404, "NOT_FOUND", "models/gemini-9 is not found") + b"]"
    err = error(404, raw)
    assert type(err) is ModelNotFound and err.message == "models/gemini-9 is not found"


def test_rate_limit_keeps_retry_after_or_reads_retry_info() -> None:
    raw = body(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37.2s"},
    )
    assert error(429, raw, "12").headers == {"Retry-After": "12"}
    err = error(429, raw)
    assert type(err) is RateLimited and err.headers == {"Retry-After": "38"}
    assert error(429, body(429, "RESOURCE_EXHAUSTED", "slow down")).headers == {}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(503, ServiceUnavailable), (500, UpstreamError), (504, UpstreamError), (413, RequestTooLarge)],
)
def test_server_side_statuses(status: int, kind: type) -> None:
    err = error(status, body(status, "X", "upstream says no"))
    assert type(err) is kind and err.message == "upstream says no"


def test_unreadable_error_body_gets_a_generic_message() -> None:
    err = error(502, b"<html>Bad Gateway</html>")
    assert type(err) is UpstreamError
    assert err.message == "the Gemini upstream answered HTTP 502"


def test_key_in_a_url_inside_a_message_is_masked() -> None:
    raw = body(
        400, "INVALID_ARGUMENT", "bad request to https://x/v1beta/models?key=secret123&alt=sse"
    )
    assert "secret123" not in error(400, raw).message
