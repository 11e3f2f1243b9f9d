"""Front doors in front of a channel of their own format: the request and answer pass
through untouched (bytes compared), and are still billed from the upstream's usage."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx
import orjson

from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Key order and spacing no serializer of ours would produce: a re-serialised body shows.
MESSAGES_BODY = (
    b'{"model":"gpt-4", "max_tokens": 300,"stream":true,'
    b' "messages":[{"role":"user","content":"hello there"}],'
    b'"metadata":{"user_id":"u-1"},"temperature":0.25}'
)
GEMINI_BODY = (
    b'{"contents": [{"role":"user","parts":[{"text":"hello there"}]}],'
    b'  "generationConfig":{"maxOutputTokens":300, "temperature":0.5}}'
)


def _root(router) -> str:
    return router.base_url[: -len("/v1")]


async def test_anthropic_stream_to_an_anthropic_channel_is_byte_for_byte(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{_root(router)}/v1/messages",
                content=MESSAGES_BODY,
                headers={
                    "x-api-key": router.key,
                    "anthropic-version": "2023-06-01",
                    "anthropic-beta": "interleaved-thinking-2025-05-14",
                    "content-type": "application/json",
                },
            )
    assert response.status_code == 200
    assert response.content == (FIXTURES / "anthropic" / fake.stream_fixture).read_bytes()
    assert fake.raw_requests == [MESSAGES_BODY]
    sent_headers = fake.headers[-1]
    assert sent_headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent_headers["x-api-key"] == fake.key  # the channel's key, never the client's
    assert router.key not in str(sent_headers)
    logs = await logged_rows(router.db_url)
    assert [
        (r["endpoint"], r["prompt_tokens"], r["completion_tokens"], r["estimated"]) for r in logs
    ] == [("messages", 11, 6, 0)]
    assert logs[0]["cost"] == (11 * 30 + 6 * 60) * 1000


async def test_anthropic_sdk_message_from_an_anthropic_channel_is_the_upstreams(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(
            router, "anthropic", fake.base_url, fake.key, model_map={"gpt-4": "claude-opus-4-1"}
        )
        client = anthropic.AsyncAnthropic(api_key=router.key, base_url=_root(router))
        message = await client.messages.create(
            model="gpt-4",
            max_tokens=300,
            messages=[{"role": "user", "content": "hello there"}],
            tools=[{"name": "memory", "input_schema": {"type": "object"}}],
        )
        await client.close()
    recorded = orjson.loads((FIXTURES / "anthropic" / fake.answer_fixture).read_bytes())
    assert message.model_dump(exclude_none=True) == {
        k: v for k, v in recorded.items() if v is not None
    } | {"usage": message.usage.model_dump(exclude_none=True)}
    assert fake.requests[-1]["model"] == "claude-opus-4-1"  # the channel's model map
    assert fake.requests[-1]["tools"] == [{"name": "memory", "input_schema": {"type": "object"}}]
    logs = await logged_rows(router.db_url)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in logs] == [(1577, 86)]


async def test_gemini_stream_to_a_gemini_channel_is_byte_for_byte(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{_root(router)}/v1beta/models/gpt-4:streamGenerateContent?alt=sse&key={router.key}",
                content=GEMINI_BODY,
                headers={"content-type": "application/json"},
            )
    assert response.status_code == 200
    assert response.content == (FIXTURES / "gemini" / fake.stream_fixture).read_bytes()
    assert fake.raw_requests == [GEMINI_BODY]
    logs = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["prompt_tokens"], r["completion_tokens"]) for r in logs] == [
        ("generateContent", 13, 8)
    ]


async def test_a_balance_cap_rewrites_only_the_limit(tmp_path) -> None:
    # $0.01 affords at most ~166 output tokens at $60 per 1M: the 300 asked for are capped.
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused, quota="0.01") as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{_root(router)}/v1beta/models/gpt-4:generateContent",
                content=GEMINI_BODY,
                headers={"content-type": "application/json", "x-goog-api-key": router.key},
            )
    assert response.status_code == 200
    sent = fake.requests[-1]
    original = orjson.loads(GEMINI_BODY)
    assert 0 < sent["generationConfig"]["maxOutputTokens"] < 300
    assert sent["generationConfig"]["temperature"] == 0.5
    assert sent["contents"] == original["contents"]
