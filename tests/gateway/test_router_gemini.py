"""End to end: the openai SDK through the router to a strict fake Gemini upstream."""

from __future__ import annotations

import json

import openai

from tests.fakes import FakeOpenAI
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "tell me something"},
]


async def test_openai_stream_reaches_gemini_and_bills_the_last_usage(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
        await client.close()
    sent = fake.requests[-1]
    assert "systemInstruction" in sent and {c["role"] for c in sent["contents"]} == {"user"}
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    assert all(c.usage is None for c in chunks)  # the client did not ask for usage
    logs = await logged_rows(router.db_url)
    # The recording's usage changes mid-stream; the last one (13 prompt, 8 output) is billed.
    assert [(r["prompt_tokens"], r["completion_tokens"], r["estimated"]) for r in logs] == [
        (13, 8, 0)
    ]


async def test_openai_non_stream_from_gemini_counts_thoughts_as_output(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
    assert reply.choices[0].message.content == "Hello!"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 19)
    logs = await logged_rows(router.db_url)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in logs] == [(3, 19)]


async def test_openai_embeddings_from_gemini_are_billed_from_an_estimate(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        # The SDK asks for base64 vectors and decodes them itself.
        reply = await client.embeddings.create(model="gpt-4", input=["hello", "world!"])
        await client.close()
    assert fake.requests[-1]["requests"][1]["content"] == {"parts": [{"text": "world!"}]}
    assert [item.embedding for item in reply.data] == [[5.0, 0.5], [6.0, 0.5]]
    logs = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["completion_tokens"], r["estimated"]) for r in logs] == [
        ("embeddings", 0, 1)
    ]
    assert logs[0]["prompt_tokens"] == 3  # "hello", "world", "!" by the tokenizer
    assert logs[0]["cost"] == 3 * 30 * 1000


async def test_openai_stream_tool_call_from_gemini_is_billed(tmp_path) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "getWeather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini(stream_fixture="stream_function_call.sse") as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, tools=[tool]
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    declared = fake.requests[-1]["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "getWeather"
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert [c.function.name for c in calls if c.function.name] == ["getWeather"]
    arguments = "".join(c.function.arguments or "" for c in calls)
    assert json.loads(arguments) == {"location": "Tokyo"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    logs = await logged_rows(router.db_url)
    # Gemini's thoughts (104) are output the client pays for, beside the 14 candidates.
    assert [(r["prompt_tokens"], r["completion_tokens"], r["estimated"]) for r in logs] == [
        (83, 118, 0)
    ]
