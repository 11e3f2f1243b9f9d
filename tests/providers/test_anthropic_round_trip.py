"""Multi-turn conversations with extended thinking through the strict fake Anthropic: the chat
answer's ``thinking_blocks``, sent back on the assistant message, reach Anthropic first in the
assistant turn with their signatures, so a tool loop keeps its reasoning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from burncloud.providers.anthropic import AnthropicProvider
from tests.fakes.anthropic_upstream import FakeAnthropic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
PROVIDER = AnthropicProvider(clock=lambda: 1_735_689_600)
MODEL = "claude-sonnet-4-0"
QUESTION = {"role": "user", "content": "What is the largest city in the user country?"}
COUNTRY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_user_country",
        "description": "",
        "parameters": {"additionalProperties": False, "properties": {}, "type": "object"},
    },
}


@dataclass(frozen=True)
class Channel:
    base_url: str
    key: str
    config: Mapping[str, str] = field(default_factory=dict)


async def send(fake: FakeAnthropic, body: dict[str, Any], stream: bool = False) -> bytes:
    """Build the request for ``body``, post it to the fake, return the 200 answer's bytes."""
    request = PROVIDER.chat_request(Channel(fake.base_url, fake.key), body, MODEL, stream)
    async with (
        aiohttp.ClientSession() as http,
        http.post(request.url, data=request.body, headers=dict(request.headers)) as answer,
    ):
        raw = await answer.read()
    assert answer.status == 200, raw
    return raw


def answered_message(raw: bytes) -> dict[str, Any]:
    return PROVIDER.chat_answer(raw, MODEL).completion["choices"][0]["message"]


def streamed_message(raw: bytes) -> dict[str, Any]:
    """The assistant message a client assembles from the chunks (the openai SDK's way)."""
    stream = PROVIDER.chat_stream(MODEL, include_usage=False)
    out = stream.feed(raw) + stream.finish()
    state = ChatCompletionStreamState()
    for event in out.strip().split(b"\n\n")[:-1]:
        chunk = ChatCompletionChunk.model_validate_json(event.removeprefix(b"data: "))
        list(state.handle_chunk(chunk))
    message = state.current_completion_snapshot.choices[0].message
    return message.model_dump(exclude_none=True) | dict(message.model_extra or {})


def signed_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The thinking blocks to send back: a streamed signature gets the reasoning text."""
    blocks = [{k: v for k, v in b.items() if k != "index"} for b in message["thinking_blocks"]]
    for block in blocks:
        if block["type"] == "thinking" and not block["thinking"]:
            block["thinking"] = message["reasoning_content"]
    return blocks


async def test_a_tool_loop_sends_the_signed_thinking_back_as_anthropic_recorded_it() -> None:
    recorded = orjson.loads((FIXTURES / "anthropic_thinking_tool_loop.request.json").read_bytes())
    answers = (
        "anthropic_nonstream_thinking_tool_use.json",
        "anthropic_nonstream_after_tool_result.json",
    )
    async with FakeAnthropic(answer_fixture=answers) as fake:
        first = {"messages": [QUESTION], "tools": [COUNTRY_TOOL], "reasoning_effort": "medium"}
        assistant = answered_message(await send(fake, first))
        assert assistant["thinking_blocks"][0]["signature"].startswith("EqEECkYICxgC")
        (call,) = assistant["tool_calls"]
        result = {"role": "tool", "tool_call_id": call["id"], "content": "Mexico"}
        second = {**first, "messages": [QUESTION, assistant, result]}
        final = answered_message(await send(fake, second))
    assert final["content"].startswith("Based on the information that you're from Mexico")
    sent = fake.requests[1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert sent["messages"][:2] == recorded["messages"][:2]  # thinking first, signature intact
    (tool_result,) = recorded["messages"][2]["content"]
    del tool_result["is_error"]
    assert sent["messages"][2] == {"role": "user", "content": [tool_result]}


async def test_a_tool_loop_without_the_thinking_blocks_continues_without_thinking() -> None:
    answers = (
        "anthropic_nonstream_thinking_tool_use.json",
        "anthropic_nonstream_after_tool_result.json",
    )
    async with FakeAnthropic(answer_fixture=answers) as fake:
        first = {"messages": [QUESTION], "tools": [COUNTRY_TOOL], "reasoning_effort": "medium"}
        assistant = answered_message(await send(fake, first))
        del assistant["thinking_blocks"]  # a client that kept only the reasoning text
        result = {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "x"}
        await send(fake, {**first, "messages": [QUESTION, assistant, result]})
    assert "thinking" not in fake.requests[1]
    assert [b["type"] for b in fake.requests[1]["messages"][1]["content"]] == ["text", "tool_use"]


async def test_streamed_thinking_goes_back_with_the_exact_text_its_signature_covers() -> None:
    raw = (FIXTURES / "anthropic_stream_thinking.sse").read_bytes()
    async with FakeAnthropic(stream_fixture="anthropic_stream_thinking.sse") as fake:
        question = {"role": "user", "content": "How do I cross the street?"}
        first = {"messages": [question], "reasoning_effort": "low"}
        assistant = streamed_message(await send(fake, first, stream=True))
        assert assistant["content"].startswith("Here are the basic steps")
        echoed = {"role": "assistant", "content": assistant["content"]}
        echoed["thinking_blocks"] = signed_blocks(assistant)
        thanks = {"role": "user", "content": "Thanks!"}
        await send(fake, {**first, "messages": [question, echoed, thanks]})
    (thinking, text) = fake.requests[1]["messages"][1]["content"]
    recorded = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
    deltas = [e["delta"] for e in recorded if e["type"] == "content_block_delta"]
    assert thinking == {
        "type": "thinking",
        "thinking": "".join(d.get("thinking", "") for d in deltas),
        "signature": next(d["signature"] for d in deltas if d["type"] == "signature_delta"),
    }
    assert text == {"type": "text", "text": assistant["content"]}


async def test_streamed_redacted_thinking_goes_back_whole() -> None:
    async with FakeAnthropic(stream_fixture="anthropic_stream_redacted_thinking.sse") as fake:
        question = {"role": "user", "content": "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING"}
        first = {"messages": [question], "reasoning_effort": "low"}
        assistant = streamed_message(await send(fake, first, stream=True))
        echoed = {"role": "assistant", "content": assistant["content"]}
        echoed["thinking_blocks"] = signed_blocks(assistant)
        again = {"role": "user", "content": "Go on."}
        await send(fake, {**first, "messages": [question, echoed, again]})
    blocks = fake.requests[1]["messages"][1]["content"]
    assert [b["type"] for b in blocks] == ["redacted_thinking", "redacted_thinking", "text"]
    assert blocks[1]["data"].startswith("EtgBCkYIBxgC") and blocks[1]["data"].endswith("GAE=")


async def test_a_web_search_answer_and_its_thinking_carry_into_the_next_turn() -> None:
    async with FakeAnthropic(answer_fixture="anthropic_nonstream_web_search.json") as fake:
        question = {"role": "user", "content": "What is the weather in San Francisco today?"}
        location = {"type": "approximate", "approximate": {"city": "San Francisco"}}
        first = {
            "messages": [question],
            "web_search_options": {"user_location": location},
            "reasoning_effort": "medium",
        }
        assistant = answered_message(await send(fake, first))
        assert "tool_calls" not in assistant
        follow_up = {"role": "user", "content": "And in Mexico City?"}
        await send(fake, {**first, "messages": [question, assistant, follow_up]})
    (tool,) = fake.requests[0]["tools"]
    assert tool["user_location"] == {"type": "approximate", "city": "San Francisco"}
    thinking, text = fake.requests[1]["messages"][1]["content"]
    assert thinking["signature"].startswith("Et0ECkYIBxgC")
    assert text["text"].startswith("Based on the search results")
