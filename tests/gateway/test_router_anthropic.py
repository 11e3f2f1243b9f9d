"""End to end: the openai SDK through the router to a strict fake Anthropic upstream."""

from __future__ import annotations

import json

import openai

from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


async def test_openai_stream_reaches_anthropic_and_is_billed_from_its_usage(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    sent = fake.requests[-1]
    assert sent["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert all(m["role"] != "system" for m in sent["messages"]) and sent["max_tokens"] > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there!"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 6)
    logs = await logged_rows(router.db_url)
    assert [(r["prompt_tokens"], r["completion_tokens"], r["estimated"]) for r in logs] == [
        (11, 6, 0)
    ]
    assert logs[0]["cost"] == (11 * 30 + 6 * 60) * 1000


async def test_openai_non_stream_tool_call_from_anthropic(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name) == ("toolu_01YC8RhZeDTZRbb8n1gUFTmb", "memory")
    assert json.loads(call.function.arguments) == {"command": "view", "path": "/memories"}
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1577, 86)


async def test_openai_stream_tool_call_from_anthropic_is_billed(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic(stream_fixture="anthropic_stream_tool_use.sse") as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, tools=[WEATHER_TOOL]
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    assert fake.requests[-1]["tools"][0]["name"] == "get_weather"
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert {(c.id, c.function.name) for c in calls if c.id} == {
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather")
    }
    arguments = "".join(c.function.arguments or "" for c in calls)
    assert json.loads(arguments) == {"location": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    logs = await logged_rows(router.db_url)
    assert [(r["prompt_tokens"], r["completion_tokens"], r["estimated"]) for r in logs] == [
        (377, 65, 0)
    ]
