"""Channel tests: one real, minimal chat request through a channel's own provider.

A test answers "does this channel work right now?" for an operator: it sends
``{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}`` with the channel's
key, exactly as the relay would translate it, and records the latency and the outcome on the
channel row. It never changes a channel's status: a disabled channel can be tested and stays
disabled, and re-enabling channels after failures is the health checker's job.

httpx is the client here (the relay's aiohttp pool is for the data plane). Errors are turned
into one line that never holds the channel's key or URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from burncloud.crypto import SecretBox, public_error_text
from burncloud.db.base import Database
from burncloud.errors import BurncloudError, InvalidRequest, NotFound
from burncloud.providers.base import ChatProvider
from burncloud.providers.overrides import overridden
from burncloud.providers.registry import kind_of
from burncloud.services.channel_keys import key_secret, usable_key
from burncloud.services.channel_overrides import overrides_from
from burncloud.services.channels import Channel
from burncloud.services.clock import now

TEST_PROMPT = "hi"
ERROR_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ChannelTestResult:
    """The outcome of one channel test; ``status`` is None when no HTTP answer came."""

    channel_id: int
    name: str
    type: str
    model: str
    upstream_model: str
    ok: bool
    status: int | None
    latency_ms: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Access:
    """What a provider needs to build the request (``ChannelAccess``)."""

    base_url: str
    key: str
    config: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None
    error: str


async def test_channel(
    db: Database,
    box: SecretBox,
    channel_id: int,
    model: str | None = None,
    *,
    client: httpx.AsyncClient,
    request_timeout: float = 30.0,
    key_id: int | None = None,
) -> ChannelTestResult:
    """Send one minimal chat request through the channel and record the outcome on its row.

    ``model`` defaults to the channel's first model; the channel's model map applies. The
    row gets ``latency_ms`` and ``tested_at`` and one more success or failure. Its status
    never changes: an operator-disabled channel stays disabled whatever the result, and
    auto-enabling a channel that recovered is the health checker's job, not this one's.
    ``key_id`` tests that key of the channel; by default its first enabled one.
    """
    row = await db.fetch_one("SELECT * FROM channels WHERE id = :id", {"id": channel_id})
    if row is None:
        raise NotFound(f"no channel with id {channel_id}")
    channel = Channel.from_row(row)
    asked = model or channel.models[0]
    upstream_model = channel.model_map.get(asked, asked)
    if key_id is None:
        try:
            key_id = (await usable_key(db, box, channel_id)).id
        except InvalidRequest as exc:  # every key disabled: nothing to send, a failed test
            return ChannelTestResult(
                channel.id, channel.name, channel.type, asked, upstream_model, False, None, 0,
                exc.message,
            )  # fmt: skip
    key = await key_secret(db, box, channel_id, key_id)
    access = _Access(channel.base_url, key, channel.config)
    started = time.perf_counter()
    outcome = await _exchange(client, channel, access, upstream_model, request_timeout)
    latency_ms = round((time.perf_counter() - started) * 1000)
    await _record(db, channel.id, latency_ms, ok=outcome.error == "")
    return ChannelTestResult(
        channel_id=channel.id,
        name=channel.name,
        type=channel.type,
        model=asked,
        upstream_model=upstream_model,
        ok=outcome.error == "",
        status=outcome.status,
        latency_ms=latency_ms,
        error=_scrub(outcome.error, access),
    )


async def test_all_channels(
    db: Database, box: SecretBox, client: httpx.AsyncClient, concurrency: int = 8
) -> list[ChannelTestResult]:
    """Test every channel (at most ``concurrency`` at once); results in channel id order."""
    ids = [row["id"] for row in await db.fetch_all("SELECT id FROM channels ORDER BY id")]
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one(channel_id: int) -> ChannelTestResult:
        async with gate:
            return await test_channel(db, box, channel_id, client=client)

    return list(await asyncio.gather(*(one(channel_id) for channel_id in ids)))


async def _exchange(
    client: httpx.AsyncClient, channel: Channel, access: _Access, model: str, seconds: float
) -> _Outcome:
    """Build, send and read the test request; an empty error means the channel answered."""
    body = {"model": model, "messages": [{"role": "user", "content": TEST_PROMPT}], "max_tokens": 1}
    try:
        provider = kind_of(channel.type).provider
        built = provider.chat_request(access, body, model, False)
        overrides = overrides_from(channel.overrides)  # as the relay sends it
        headers, content = overridden(
            overrides, access.key, "POST", built.url, built.headers, built.body
        )
    except BurncloudError as exc:
        return _Outcome(None, exc.message)
    try:
        response = await client.post(built.url, content=content, headers=headers, timeout=seconds)
    except httpx.HTTPError as exc:
        return _Outcome(None, _transport_error(exc, seconds))
    return _judge(provider, response, model)


def _judge(provider: ChatProvider, response: httpx.Response, model: str) -> _Outcome:
    """A 200 the provider can read is a success; anything else fails with the mapped error."""
    status = response.status_code
    if status != 200:
        retry_after = response.headers.get("Retry-After")
        return _Outcome(status, provider.error(status, response.content, retry_after).message)
    try:
        provider.chat_answer(response.content, model)
    except BurncloudError as exc:
        return _Outcome(status, exc.message)
    return _Outcome(status, "")


def _transport_error(exc: httpx.HTTPError, seconds: float) -> str:
    """One line for a request that got no HTTP answer (no URL: it may hold secrets)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "the upstream is unreachable (could not connect)"
    if isinstance(exc, httpx.TimeoutException):
        return f"the upstream did not answer within {seconds:g} s"
    return f"the upstream connection failed ({type(exc).__name__})"


def _scrub(message: str, access: _Access) -> str:
    """``message`` on one line with the base URL and the key (whole or any 12+ characters
    of it) masked in the whole text, then shortened."""
    text = " ".join(message.split())
    if access.base_url:
        text = text.replace(access.base_url, "***")
    return public_error_text(text, access.key, ERROR_LIMIT)


async def _record(db: Database, channel_id: int, latency_ms: int, *, ok: bool) -> None:
    """Store the test on the channel row; status and config version are left alone."""
    await db.execute(
        "UPDATE channels SET latency_ms = :latency, tested_at = :t,"
        " success_count = success_count + :ok, failure_count = failure_count + :failed"
        " WHERE id = :id",
        {
            "latency": latency_ms,
            "t": now(),
            "ok": 1 if ok else 0,
            "failed": 0 if ok else 1,
            "id": channel_id,
        },
    )


# Named for what they do; not pytest tests (a test module importing them must not collect them).
vars(test_channel)["__test__"] = False
vars(test_all_channels)["__test__"] = False
