"""Calling an upstream with aiohttp, and translating its failures once.

aiohttp's pooled ClientSession is the relay's upstream client (one per worker, owned by
the runtime): its per-request cost is a fraction of httpx's pool (DESIGN.md). Errors from
aiohttp or the upstream become BurncloudErrors here and nowhere else, and never carry the
channel's key or URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp
import orjson
from yarl import URL

from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.gateway.snapshot import Upstream

ERROR_BODY_LIMIT = 64 * 1024


class RetryableUpstreamError(Exception):
    """A failure before any byte reached the client that another channel may not have."""

    def __init__(self, error: BurncloudError) -> None:
        super().__init__(error.message)
        self.error = error


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
        session, upstream.name, upstream.base_url + path, headers, body, map_upstream_error
    )


async def send_upstream(
    session: aiohttp.ClientSession,
    channel_name: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    map_error: Callable[[int, bytes, str | None], BurncloudError],
) -> aiohttp.ClientResponse:
    """POST to the upstream; the 200 response, or the mapped error (retryable: 429, 5xx,
    unreachable) without the URL or key in its message."""
    try:
        # encoded=True: the URL goes out exactly as built; aiohttp would otherwise decode
        # %3A in a Bedrock model id to ':' after SigV4 signed the encoded path.
        response = await session.post(URL(url, encoded=True), data=body, headers=dict(headers))
    except (aiohttp.ClientConnectionError, TimeoutError, OSError) as exc:
        raise RetryableUpstreamError(
            ServiceUnavailable(f"upstream channel {channel_name!r} is unreachable")
        ) from exc
    if response.status == 200:
        return response
    try:
        raw = await response.content.read(ERROR_BODY_LIMIT)
    except (aiohttp.ClientError, TimeoutError):
        raw = b""
    finally:
        response.release()
    error = map_error(response.status, raw, response.headers.get("Retry-After"))
    if response.status == 429 or response.status >= 500:
        raise RetryableUpstreamError(error)
    raise error


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
        return error["message"][:500]
    if isinstance(error, str):
        return error[:500]
    return ""
