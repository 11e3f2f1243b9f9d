"""Converted conversations through the strict fake Gemini: reasoning asks for thought
summaries, a tool loop keeps Gemini's thought signature, Claude's ``thinking_blocks`` are not
sent, and a web search becomes Google Search grounding only where Gemini accepts it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from burncloud.providers.gemini import GeminiProvider
from tests.fakes.gemini_upstream import FakeGemini

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"
PROVIDER = GeminiProvider()
GEMINI_3 = "gemini-3-pro-preview"
QUESTION = {"role": "user", "content": "What is the capital of the user country? Call the tool"}
COUNTRY_TOOL = {"type": "function", "function": {"name": "get_country", "parameters": {}}}


@dataclass(frozen=True)
class Channel:
    base_url: str
    key: str
    config: Mapping[str, str] = field(default_factory=dict)


async def send(fake: FakeGemini, body: dict[str, Any], model: str, stream: bool = False) -> bytes:
    request = PROVIDER.chat_request(
        Channel(fake.base_url + "/v1beta", fake.key), body, model, stream
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(request.url, data=request.body, headers=dict(request.headers)) as answer,
    ):
        raw = await answer.read()
    assert answer.status == 200, raw
    return raw


def streamed_message(raw: bytes) -> dict[str, Any]:
    stream = PROVIDER.chat_stream(GEMINI_3, include_usage=False)
    out = stream.feed(raw) + stream.finish()
    state = ChatCompletionStreamState()
    for event in out.strip().split(b"\n\n")[:-1]:
        chunk = ChatCompletionChunk.model_validate_json(event.removeprefix(b"data: "))
        list(state.handle_chunk(chunk))
    return state.current_completion_snapshot.choices[0].message.model_dump(exclude_none=True)


async def test_a_tool_loop_keeps_the_thought_signature_and_leaves_claudes_blocks_out() -> None:
    recorded = (FIXTURES / "stream_tool_call_thought_signature.sse").read_text()
    async with FakeGemini(stream_fixture="stream_tool_call_thought_signature.sse") as fake:
        first = {
            "messages": [QUESTION],
            "tools": [COUNTRY_TOOL],
            "reasoning_effort": "low",
            "web_search_options": {},  # Gemini refuses grounding beside function calling
        }
        assistant = streamed_message(await send(fake, first, GEMINI_3, stream=True))
        assistant["thinking_blocks"] = [{"type": "thinking", "thinking": "x", "signature": "y"}]
        (call,) = assistant["tool_calls"]
        result = {"role": "tool", "tool_call_id": call["id"], "content": '{"country": "Mexico"}'}
        await send(fake, {**first, "messages": [QUESTION, assistant, result]}, GEMINI_3)
    first_sent, second_sent = fake.requests
    assert first_sent["tools"] == [{"functionDeclarations": [{"name": "get_country"}]}]
    thinking = first_sent["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingLevel": "LOW", "includeThoughts": True}
    (part,) = second_sent["contents"][1]["parts"]  # the call only: no thinking text
    assert part["functionCall"] == {"name": "get_country", "args": {}}
    assert part["thoughtSignature"].startswith("EpwICpkIAXLI2nxl")
    assert part["thoughtSignature"] in recorded


async def test_a_web_search_without_function_tools_is_google_search_grounding() -> None:
    async with FakeGemini() as fake:
        body = {"messages": [{"role": "user", "content": "News today?"}], "web_search_options": {}}
        answer = PROVIDER.chat_answer(await send(fake, body, "gemini-2.5-flash"), "m")
    assert fake.requests[0]["tools"] == [{"googleSearch": {}}]
    assert answer.completion["choices"][0]["message"]["content"]


async def test_thought_parts_come_back_as_reasoning_content_whole_and_streamed() -> None:
    parts = [
        {"text": "**Weighing it**\n\nThe user wants weather.", "thought": True},
        {"text": "It is sunny."},
    ]
    answer = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "responseId": "r1",
    }
    whole = PROVIDER.chat_answer(orjson.dumps(answer), "m").completion["choices"][0]["message"]
    events = (
        b"".join(
            b"data: "
            + orjson.dumps({**answer, "candidates": [{"content": {"parts": [p]}}]})
            + b"\r\n\r\n"
            for p in parts
        )
        + b"data: "
        + orjson.dumps({"candidates": [{"finishReason": "STOP"}]})
        + b"\r\n\r\n"
    )
    streamed = streamed_message(events)
    for message in (whole, streamed):
        assert message["reasoning_content"] == "**Weighing it**\n\nThe user wants weather."
        assert message["content"] == "It is sunny."
