"""Multi-turn conversations with Claude's thinking through the strict fake Bedrock Converse:
the chat answer's ``thinking_blocks``, sent back on the assistant message, reach Bedrock as
the assistant turn's leading ``reasoningContent`` blocks, signatures intact."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from yarl import URL

from burncloud.providers.bedrock import BedrockProvider
from tests.fakes.bedrock_upstream import FakeBedrock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
PROVIDER = BedrockProvider(clock=lambda: 1_700_000_000)
API_KEY = "bedrock-api-key-for-the-fake"
CLAUDE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
QUESTION = {"role": "user", "content": "What is the largest city in the user country?"}
COUNTRY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_user_country",
        "parameters": {"additionalProperties": False, "properties": {}, "type": "object"},
    },
}


@dataclass(frozen=True)
class Channel:
    base_url: str
    key: str = API_KEY
    config: Mapping[str, str] = field(default_factory=dict)


async def send(fake: FakeBedrock, body: dict[str, Any], stream: bool = False) -> bytes:
    """Build the Converse request for ``body``, post it to the fake, return the 200 answer."""
    request = PROVIDER.chat_request(Channel(fake.base_url), body, CLAUDE, stream)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            URL(request.url, encoded=True), data=request.body, headers=dict(request.headers)
        ) as answer,
    ):
        raw = await answer.read()
    assert answer.status == 200, raw
    return raw


def streamed_message(raw: bytes) -> dict[str, Any]:
    """The assistant message a client assembles from the chunks (the openai SDK's way)."""
    stream = PROVIDER.chat_stream(CLAUDE, include_usage=False)
    out = stream.feed(raw) + stream.finish()
    state = ChatCompletionStreamState()
    for event in out.strip().split(b"\n\n")[:-1]:
        chunk = ChatCompletionChunk.model_validate_json(event.removeprefix(b"data: "))
        list(state.handle_chunk(chunk))
    message = state.current_completion_snapshot.choices[0].message
    return message.model_dump(exclude_none=True) | dict(message.model_extra or {})


def echoed(message: dict[str, Any]) -> dict[str, Any]:
    """The message sent back: a streamed signature's block gets the reasoning text."""
    blocks = [{k: v for k, v in b.items() if k != "index"} for b in message["thinking_blocks"]]
    for block in blocks:
        if block["type"] == "thinking" and not block["thinking"]:
            block["thinking"] = message["reasoning_content"]
    return {"role": "assistant", "content": message["content"], "thinking_blocks": blocks}


def recorded_stream(name: str) -> bytes:
    return base64.b64decode((FIXTURES / f"{name}.eventstream.b64").read_text())


async def test_a_tool_loop_sends_the_signed_reasoning_back_as_bedrock_recorded_it() -> None:
    recorded = orjson.loads(
        (FIXTURES / "bedrock_converse_claude_thinking_tool_loop.request.json").read_bytes()
    )
    answers = "bedrock_converse_nonstream_claude_thinking_tool_loop.json"
    async with FakeBedrock(api_key=API_KEY, answer_fixture=answers) as fake:
        first = {"messages": [QUESTION], "tools": [COUNTRY_TOOL], "reasoning_effort": "low"}
        assistant = PROVIDER.chat_answer(await send(fake, first), CLAUDE).completion
        message = assistant["choices"][0]["message"]
        (call,) = message["tool_calls"]
        result = {"role": "tool", "tool_call_id": call["id"], "content": "Mexico"}
        second = {**first, "messages": [QUESTION, message, result]}
        final = PROVIDER.chat_answer(await send(fake, second), CLAUDE).completion
    assert final["choices"][0]["message"]["content"].startswith("Based on your location")
    assert fake.requests[1]["messages"] == recorded["messages"]
    thinking = fake.requests[1]["additionalModelRequestFields"]["thinking"]
    assert thinking == recorded["additionalModelRequestFields"]["thinking"]


async def test_streamed_reasoning_goes_back_with_the_text_its_signature_covers() -> None:
    name = "bedrock_converse_stream_claude_reasoning"
    async with FakeBedrock(api_key=API_KEY, stream_fixture=name) as fake:
        question = {"role": "user", "content": "Hello"}
        first = {"messages": [question], "reasoning_effort": "low"}
        message = streamed_message(await send(fake, first, stream=True))
        again = {"role": "user", "content": "Tell me more."}
        await send(fake, {**first, "messages": [question, echoed(message), again]})
    reasoning, text = fake.requests[1]["messages"][1]["content"]
    frames = [
        orjson.loads(line)["payload"].get("delta", {}).get("reasoningContent", {})
        for line in (FIXTURES / f"{name}.decoded.jsonl").read_text().splitlines()
    ]
    assert reasoning == {
        "reasoningContent": {
            "reasoningText": {
                "text": "".join(frame.get("text", "") for frame in frames),
                "signature": next(frame["signature"] for frame in frames if "signature" in frame),
            }
        }
    }
    assert text == {"text": message["content"]}


async def test_streamed_redacted_reasoning_goes_back_whole() -> None:
    name = "bedrock_converse_stream_claude_redacted"
    async with FakeBedrock(api_key=API_KEY, stream_fixture=name) as fake:
        question = {"role": "user", "content": "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING"}
        first = {"messages": [question], "reasoning_effort": "low"}
        message = streamed_message(await send(fake, first, stream=True))
        again = {"role": "user", "content": "Go on."}
        await send(fake, {**first, "messages": [question, echoed(message), again]})
    content = fake.requests[1]["messages"][1]["content"]
    assert [next(iter(block)) for block in content] == ["reasoningContent"] * 3 + ["text"]
    assert content[0]["reasoningContent"]["redactedContent"].startswith("RXR3Q0NrZ0lD")
    assert recorded_stream(name).count(content[2]["reasoningContent"]["redactedContent"].encode())
