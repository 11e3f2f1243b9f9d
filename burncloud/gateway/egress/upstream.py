"""Calling an upstream: the one seam every relayed request leaves through.

``send_upstream`` posts through the worker's ``Transport`` within the channel's timeouts
and returns the answer once its status is 200; anything else leaves as ``UpstreamFailure``
carrying the error the client would get. Failures become BurncloudErrors here and nowhere
else, and never carry the channel's key or URL: an upstream's error text enters our code
here, where the channel's key is known, and is masked whole before it is cut
(``crypto.public_error_text``); the providers' error mappers pass messages on uncut.
A channel's overrides (extra headers, body parameters) are applied here, to every request
of every mode, after the provider built it (``providers.overrides``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import orjson

from burncloud.crypto import public_error_text
from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.gateway.egress.transport import Answer, Transport, Unreachable
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.overrides import overridden
from burncloud.services.channel_overrides import EMPTY_OVERRIDES

ERROR_BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 600  # characters of an upstream's error a client or a log row gets


class UpstreamFailure(Exception):
    """The upstream failed before any byte reached the client: unreachable, too slow to
    answer, or a non-200 status. ``error`` is what the client would get; ``status`` the
    upstream's HTTP status (None when it never answered); ``retryable`` whether another
    channel may do better (unreachable, timeout, 429, 5xx)."""

    def __init__(
        self,
        error: BurncloudError,
        status: int | None,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


async def open_upstream(
    transport: Transport,
    upstream: Upstream,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> Answer:
    """POST ``body`` to an OpenAI-style channel with its auth ``headers``; return the answer
    once its status is 200."""
    headers["Content-Type"] = "application/json"
    return await send_upstream(
        transport, upstream, upstream.base_url + path, headers, body, map_upstream_error
    )


async def send_upstream(
    transport: Transport,
    upstream: Upstream,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    map_error: Callable[[int, bytes, str | None], BurncloudError],
) -> Answer:
    """POST to the upstream within its timeouts; the 200 answer, or UpstreamFailure with
    the mapped error, which never holds the URL or key."""
    if upstream.overrides is not EMPTY_OVERRIDES:
        headers, body = overridden(upstream.overrides, upstream.key, "POST", url, headers, body)
    timeouts = upstream.timeouts
    try:
        async with asyncio.timeout(timeouts.first_byte):
            answer = await transport.post(url, headers, body, timeouts)
    except (TimeoutError, Unreachable) as exc:
        raise _unanswered(upstream, exc) from exc
    if answer.status == 200:
        return answer
    raise await _refused(answer, upstream, map_error)


async def request_upstream(
    transport: Transport, upstream: Upstream, method: str, url: str, headers: Mapping[str, str]
) -> Answer:
    """``method`` (a GET or DELETE, without a body) at ``url`` on an OpenAI-style channel,
    within its timeouts: the 200 answer, or UpstreamFailure as ``send_upstream`` raises it."""
    if upstream.overrides is not EMPTY_OVERRIDES:
        headers, _ = overridden(upstream.overrides, upstream.key, method, url, headers, b"")
    timeouts = upstream.timeouts
    try:
        async with asyncio.timeout(timeouts.first_byte):
            answer = await transport.request(method, url, headers, timeouts)
    except (TimeoutError, Unreachable) as exc:
        raise _unanswered(upstream, exc) from exc
    if answer.status == 200:
        return answer
    raise await _refused(answer, upstream, map_upstream_error)


def _unanswered(upstream: Upstream, exc: Exception) -> UpstreamFailure:
    """The failure for an upstream that timed out or could not be reached."""
    failed = "did not answer in time" if isinstance(exc, TimeoutError) else "is unreachable"
    message = f"upstream channel {upstream.name!r} {failed}"
    return UpstreamFailure(ServiceUnavailable(message), None, True)


async def _refused(
    answer: Answer,
    upstream: Upstream,
    map_error: Callable[[int, bytes, str | None], BurncloudError],
) -> UpstreamFailure:
    """The failure for a non-200 ``answer`` (read, up to a limit, and released)."""
    try:
        raw = await answer.read(ERROR_BODY_LIMIT)
    except UpstreamError:
        raw = b""
    finally:
        answer.release()
    retry_after = answer.header("Retry-After")
    error = public_error(map_error(answer.status, raw, retry_after), upstream.key)
    retryable = answer.status == 429 or answer.status >= 500
    return UpstreamFailure(error, answer.status, retryable, _seconds(retry_after))


def public_error(error: BurncloudError, secret: str) -> BurncloudError:
    """``error`` with its message masked of ``secret`` (some upstreams quote the key they
    were sent), then cut to ``MESSAGE_LIMIT``; changed in place and returned."""
    message = public_error_text(error.message, secret, MESSAGE_LIMIT)
    error.message, error.args = message, (message,)
    return error


def _seconds(retry_after: str | None) -> float | None:
    """``Retry-After`` in seconds when given as a number (the HTTP-date form is ignored)."""
    if not retry_after:
        return None
    try:
        value = float(retry_after)
    except ValueError:
        return None
    return value if 0 <= value <= 86_400 else None


def map_upstream_error(status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
    """The error the client gets for an upstream's non-200 answer."""
    message = _upstream_message(raw) or f"upstream returned HTTP {status}"
    if status in (401, 403):
        return UpstreamError("the upstream refused this channel's credentials")
    if status == 404:
        return NotFound(f"upstream: {message}")
    if status == 429:
        headers = {"Retry-After": retry_after} if retry_after else None
        return RateLimited(f"upstream rate limit: {message}", headers=headers)
    if 400 <= status < 500:
        return InvalidRequest(f"upstream: {message}")
    if status == 503:
        return ServiceUnavailable(f"upstream overloaded: {message}")
    return UpstreamError(f"upstream error (HTTP {status}): {message}")


def _upstream_message(raw: bytes) -> str:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message  # uncut: masked whole, then cut, by ``public_error``
    if isinstance(error, str):
        return error
    return ""
