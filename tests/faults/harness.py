"""Plumbing the fault tests share: a handle on the in-process router's upstream pool, the
channel's config, and the raw SSE events a client received."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
import orjson

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.asgi import ASGIApp
from burncloud.gateway.egress.transport import AiohttpTransport
from burncloud.server import BurncloudApp
from burncloud.services.channels import update_channel
from tests.gateway.router_harness import SECRET, RunningRouter, wait_for_reload

MODEL = "gpt-4"
CLIENT_TIMEOUT = 10.0  # a fault the router fails to end fails the test rather than hang it


@dataclass(slots=True)
class AppHandle:
    """Captures the router's app (pass ``handle.wrap`` to ``running_router``)."""

    apps: list[BurncloudApp] = field(default_factory=list)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        assert isinstance(app, BurncloudApp)
        self.apps.append(app)
        return app

    @property
    def upstream_connections_in_use(self) -> int:
        """Upstream connections the router's aiohttp pool has handed out and not got back.

        aiohttp has no public count of these; ``_acquired`` is the set its connector keeps.
        """
        (app,) = self.apps
        transport = app.runtime.transport
        assert isinstance(transport, AiohttpTransport)
        return len(transport.session.connector._acquired)  # type: ignore[union-attr]


async def set_channel_config(router: RunningRouter, config: Mapping[str, str]) -> None:
    """Give the seeded channel this provider config (e.g. timeouts); wait for the reload."""
    db = await open_database(router.db_url)
    try:
        await update_channel(db, SecretBox.from_passphrase(SECRET), 1, config=config)
    finally:
        await db.close()
    await wait_for_reload(router)


def sdk(router: RunningRouter) -> openai.AsyncOpenAI:
    """The official client pointed at the router, without retries (a retry hides a fault)."""
    return openai.AsyncOpenAI(
        api_key=router.key, base_url=router.base_url, max_retries=0, timeout=CLIENT_TIMEOUT
    )


async def raw_stream(
    client: openai.AsyncOpenAI, request_id: str, messages: list[dict[str, str]]
) -> list[Any]:
    """Every event of one chat stream as the router sent it: parsed JSON, or the raw data
    (``b"[DONE]"``). Raises if the connection ends without a clean end of body."""
    async with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=messages, stream=True, extra_headers={"x-request-id": request_id}
    ) as response:
        raw = b"".join([part async for part in response.iter_bytes()])
    assert raw.endswith(b"\n\n"), raw[-200:]
    datas = [event.removeprefix(b"data: ") for event in raw.split(b"\n\n")[:-1]]
    return [data if data == b"[DONE]" else orjson.loads(data) for data in datas]


def content_of(events: list[Any]) -> list[str]:
    """The content pieces of a chat stream's events, in order (empty ones left out)."""
    return [
        choice["delta"]["content"]
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices", ())
        if choice["delta"].get("content")
    ]


def errors_of(events: list[Any]) -> list[dict[str, Any]]:
    """The in-band error objects among a stream's events."""
    return [event["error"] for event in events if isinstance(event, dict) and "error" in event]
