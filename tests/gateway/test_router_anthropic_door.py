"""The Anthropic front door: the official anthropic SDK against /v1/messages, any channel."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes import FakeOpenAI
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


def _client(router) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=router.key, base_url=router.base_url[: -len("/v1")])


async def test_anthropic_sdk_gets_a_message_from_an_openai_channel(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = _client(router)
        message = await client.messages.create(
            model="gpt-4", max_tokens=300, system="Be brief.", messages=MESSAGES
        )
        await client.close()
    assert message.content[0].text == "Hello! You said: hello there"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (100, 200)
    sent = upstream.last_request.json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    logs = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["cost"]) for r in logs] == [("messages", 15_000_000)]


async def test_anthropic_sdk_streams_from_an_openai_channel(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = _client(router)
        async with client.messages.stream(
            model="gpt-4", max_tokens=300, messages=MESSAGES
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
    assert text == "Hello! You said: hello there"
    assert final.usage.output_tokens == 200 and final.stop_reason == "end_turn"


async def test_anthropic_sdk_streams_from_a_gemini_channel(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        client = _client(router)
        async with client.messages.stream(
            model="gpt-4", max_tokens=300, messages=MESSAGES
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
    assert text and final.usage.output_tokens == 8


async def test_front_door_errors_use_anthropics_shape(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        bad_key = anthropic.AsyncAnthropic(api_key="sk-wrong", base_url=router.base_url[:-3])
        with pytest.raises(anthropic.AuthenticationError) as denied:
            await bad_key.messages.create(model="gpt-4", max_tokens=10, messages=MESSAGES)
        await bad_key.close()
        client = _client(router)
        with pytest.raises(anthropic.NotFoundError) as unknown:
            await client.messages.create(model="gpt-9", max_tokens=10, messages=MESSAGES)
        await client.close()
    assert denied.value.body["type"] == "error"
    assert denied.value.body["error"]["type"] == "authentication_error"
    assert unknown.value.body["error"]["type"] == "not_found_error"


async def test_count_tokens_estimates_without_billing(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = _client(router)
        counted = await client.messages.count_tokens(model="gpt-4", messages=MESSAGES)
        await client.close()
    assert counted.input_tokens > 0
    assert upstream.request_count == 0
    assert await logged_rows(router.db_url) == []
