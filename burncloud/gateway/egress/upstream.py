"""Calling an upstream with aiohttp, and translating its failures once.

aiohttp's pooled ClientSession is the relay's upstream client (one per worker, owned by
the runtime): its per-request cost is a fraction of httpx's pool (DESIGN.md). Errors from
aiohttp or the upstream become BurncloudErrors here and nowhere else, and never carry the
channel's key or URL: an upstream's error text enters our code here, where the channel's key
is known, and is masked whole before it is cut (``crypto.public_error_text``); the
providers' error mappers pass messages on uncut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp
import orjson
from yarl import URL

from burncloud.crypto import public_error_text
from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.gateway.snapshot import Upstream
from burncloud.services.timeouts import Timeouts

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
    session: aiohttp.ClientSession,
    upstream: Upstream,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> aiohttp.ClientResponse:
    """POST ``body`` to an OpenAI-style channel with its auth ``headers``; return the response
    once its status is 200."""
    headers["Content-Type"] = "application/json"
    return await send_upstream(
        session, upstream, upstream.base_url + path, headers, body, map_upstream_error
    )


async def send_upstream(
    session: aiohttp.ClientSession,
    upstream: Upstream,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    map_error: Callable[[int, bytes, str | None], BurncloudError],
) -> aiohttp.ClientResponse:
    """POST to the upstream within its timeouts; the 200 response, or UpstreamFailure with
    the mapped error, which never holds the URL or key."""
    timeouts = upstream.timeouts
    try:
        async with asyncio.timeout(timeouts.first_byte):
            # encoded=True: the URL goes out exactly as built; aiohttp would otherwise
            # decode %3A in a Bedrock model id to ':' after SigV4 signed the encoded path.
            response = await session.post(
                URL(url, encoded=True),
                data=body,
                headers=dict(headers),
                timeout=_client_timeout(timeouts),
                allow_redirects=False,  # a redirect's target would skip the address guard
            )
    except TimeoutError as exc:
        message = f"upstream channel {upstream.name!r} did not answer in time"
        raise UpstreamFailure(ServiceUnavailable(message), None, True) from exc
    except (aiohttp.ClientConnectionError, OSError) as exc:
        message = f"upstream channel {upstream.name!r} is unreachable"
        raise UpstreamFailure(ServiceUnavailable(message), None, True) from exc
    if response.status == 200:
        return response
    try:
        raw = await response.content.read(ERROR_BODY_LIMIT)
    except (aiohttp.ClientError, TimeoutError):
        raw = b""
    finally:
        response.release()
    retry_after = response.headers.get("Retry-After")
    error = public_error(map_error(response.status, raw, retry_after), upstream.key)
    retryable = response.status == 429 or response.status >= 500
    raise UpstreamFailure(error, response.status, retryable, _seconds(retry_after))


def public_error(error: BurncloudError, secret: str) -> BurncloudError:
    """``error`` with its message masked of ``secret`` (some upstreams quote the key they
    were sent), then cut to ``MESSAGE_LIMIT``; changed in place and returned."""
    message = public_error_text(error.message, secret, MESSAGE_LIMIT)
    error.message, error.args = message, (message,)
    return error


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """Connect and idle limits for aiohttp (the first-byte limit wraps the whole call)."""
    cached = _CLIENT_TIMEOUTS.get(timeouts)
    if cached is None:
        cached = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.idle
        )
        _CLIENT_TIMEOUTS[timeouts] = cached
    return cached


_CLIENT_TIMEOUTS: dict[Timeouts, aiohttp.ClientTimeout] = {}


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
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]  # uncut: masked whole, then cut, by ``public_error``
    if isinstance(error, str):
        return error
    return ""
