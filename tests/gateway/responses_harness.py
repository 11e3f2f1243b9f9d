"""A router whose channels are strict fakes of the providers the Responses door converts for
(Anthropic, Gemini, Bedrock, Qwen), for the converted-path end-to-end tests.

The harness's price is gpt-4 at 30 / 60 USD per 1M tokens: 30,000 and 60,000 nano-USD a
token. Each channel serves ``gpt-4`` mapped to a real model name of its provider, so the
mapped name is what the fake sees.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import orjson
from aiohttp import web
from openai.types.responses import Response

from burncloud.crypto import SecretBox
from burncloud.db import Database, open_database
from burncloud.services.channels import add_channel
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.qwen_upstream import ROOT, FakeQwen
from tests.fakes.replay_server import ReplayServer
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    point_channel_at,
    running_router,
    wait_for_reload,
)

INPUT_PRICE, OUTPUT_PRICE = 30_000, 60_000  # nano-USD per gpt-4 token
CLAUDE = "claude-sonnet-4-20250514"
BEDROCK_CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
GEMINI = "gemini-2.5-flash"
QWEN = "qwen-plus"
UPSTREAM_MODELS = {"anthropic": CLAUDE, "gemini": GEMINI, "bedrock": BEDROCK_CLAUDE, "qwen": QWEN}
Fake = FakeAnthropic | FakeGemini | FakeBedrock | FakeQwen


def cost(prompt: int, completion: int) -> int:
    """The exact nano-USD cost of ``prompt`` input and ``completion`` output tokens."""
    return prompt * INPUT_PRICE + completion * OUTPUT_PRICE


def make_fake(kind: str, **options: Any) -> Fake:
    """A fake upstream of channel ``kind`` (not yet started)."""
    fakes: dict[str, Callable[..., Fake]] = {
        "anthropic": FakeAnthropic,
        "gemini": FakeGemini,
        "bedrock": FakeBedrock,
        "qwen": FakeQwen,
    }
    return fakes[kind](**options)


def channel_fields(kind: str, fake: Fake | FailingAnthropic) -> dict[str, Any]:
    """The channel fields that point a ``kind`` channel serving gpt-4 at ``fake``."""
    fields: dict[str, Any] = {
        "type": kind,
        "base_url": fake.base_url + (ROOT if kind == "qwen" else ""),
        "key": fake.key,
        "models": ["gpt-4"],
        "model_map": {"gpt-4": UPSTREAM_MODELS[kind]},
    }
    if isinstance(fake, FakeBedrock):
        fields["config"] = {"region": fake.region}
    return fields


async def use_channel(router: RunningRouter, kind: str, fake: Fake) -> None:
    """Turn the harness's channel 1 into a ``kind`` channel at ``fake``; wait for reload."""
    fields = channel_fields(kind, fake)
    del fields["models"]  # the harness's channel serves gpt-4 already
    await point_channel_at(router, fields.pop("type"), fields.pop("base_url"), **fields)


async def add_fake_channel(
    router: RunningRouter,
    kind: str,
    fake: Fake | FailingAnthropic | FakeOpenAI,
    name: str,
    **extra: Any,
) -> int:
    """Add a channel of ``kind`` at ``fake`` serving gpt-4 (``extra``: priority, weight...);
    its id, once the router serves it."""
    if isinstance(fake, FakeOpenAI):
        fields: dict[str, Any] = {
            "type": kind,
            "base_url": fake.base_url,
            "key": fake.key,
            "models": ["gpt-4"],
        }
    else:
        fields = channel_fields(kind, fake)
    db = await open_database(router.db_url)
    try:
        channel = await add_channel(
            db, SecretBox.from_passphrase(SECRET), name=name, **fields, **extra
        )
    finally:
        await db.close()
    await wait_for_reload(router)
    return channel.id


@asynccontextmanager
async def converted_router(
    tmp_path: Path, kind: str, quota: str = "-1", **fake_options: Any
) -> AsyncIterator[tuple[RunningRouter, Any]]:
    """A router whose one channel is a ``kind`` channel at a fresh fake, and whose key has
    ``quota`` USD (-1: unlimited): (router, fake)."""
    async with AsyncExitStack() as stack:
        unused = await stack.enter_async_context(FakeOpenAI("unused"))
        fake = await stack.enter_async_context(make_fake(kind, **fake_options))
        router = await stack.enter_async_context(running_router(tmp_path, unused, quota))
        await use_channel(router, kind, fake)
        yield router, fake


def sdk(router: RunningRouter, key: str | None = None) -> openai.AsyncOpenAI:
    """An async openai client of the router that never retries."""
    return openai.AsyncOpenAI(api_key=key or router.key, base_url=router.base_url, max_retries=0)


async def in_db(router: RunningRouter, work: Callable[[Database], Any]) -> Any:
    db = await open_database(router.db_url)
    try:
        return await work(db)
    finally:
        await db.close()


async def second_user_key(router: RunningRouter) -> str:
    """A relay key of another user (bob) of the router."""

    async def make(db: Database) -> str:
        await add_user(db, name="bob")
        return (await create_token(db, "bob-key", user_ref="bob"))[1]

    key: str = await in_db(router, make)
    await wait_for_reload(router)
    return key


@dataclass(frozen=True, slots=True)
class ThreadRouter:
    """A router served from another thread's event loop, for the sync openai client."""

    router: RunningRouter
    fake: Any


@contextmanager
def router_in_thread(tmp_path: Path, kind: str, **fake_options: Any) -> Iterator[ThreadRouter]:
    """``converted_router`` run in a thread of its own until the block ends."""
    ready, done = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        try:
            async with converted_router(tmp_path, kind, **fake_options) as (router, fake):
                box["running"] = ThreadRouter(router, fake)
                ready.set()
                await asyncio.to_thread(done.wait)
        finally:
            ready.set()

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()
    try:
        assert ready.wait(20) and "running" in box, "the router did not start"
        yield box["running"]
    finally:
        done.set()
        thread.join(20)


class FailingAnthropic(ReplayServer):
    """An Anthropic upstream that answers every message with ``status`` (529: overloaded)
    in Anthropic's error shape; ``hits`` counts the attempts."""

    def __init__(self, status: int = 529, key: str = "sk-canary-ant-failing") -> None:
        super().__init__(seed=0)
        self.status, self.key, self.hits = status, key, 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._fail)

    async def _fail(self, request: web.Request) -> web.Response:
        self.hits += 1
        kind = "overloaded_error" if self.status == 529 else "api_error"
        body = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
        return web.Response(
            status=self.status, body=orjson.dumps(body), content_type="application/json"
        )


def checked_response(response: Response) -> Response:
    """``response`` validated against the SDK's model (the SDK itself only constructs it)."""
    return Response.model_validate(_raw(response))


def checked_events(events: list[Any]) -> list[Any]:
    """Stream events validated against the SDK's model of each (the SDK picks the model by
    ``type`` and constructs it unvalidated), numbered 0, 1, 2... without a gap."""
    assert [event.sequence_number for event in events] == list(range(len(events)))
    return [type(event).model_validate(_raw(event)) for event in events]


def _raw(model: Any) -> dict[str, object]:
    """A model's fields as received (the stream helper's parsed output items are subclasses
    pydantic warns about when it dumps them)."""
    return model.to_dict(warnings=False)  # type: ignore[no-any-return]


def streamed_text(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")
