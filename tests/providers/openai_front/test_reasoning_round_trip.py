"""Reasoning sealed in an answer's ``encrypted_content`` comes back, on the client's next
turn, as the assistant message's ``thinking_blocks``; anything else sealed there is left out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet

from burncloud.protocols.openai_chunks import DONE, ChunkWriter
from burncloud.providers.openai.front import ResponsesFromChat, chat_to_response, convert_request

from .support import Sealer, convert, sse_events, valid_response

WEATHER = {"type": "function", "name": "get_weather", "parameters": None, "strict": None}
ASSISTANT_TEXT = {"type": "message", "role": "assistant", "content": "Checking."}
BLOCKS = [
    {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCkgIAhABGAIi"},
    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
]
FIRST_TURN: dict[str, Any] = {
    "model": "claude-alias",
    "input": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [WEATHER],
    "include": ["reasoning.encrypted_content"],
    "store": False,
}


def tool_answer() -> dict[str, Any]:
    call = {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    message = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "The user wants weather.",
        "thinking_blocks": BLOCKS,
        "tool_calls": [call],
    }
    return {"id": "c", "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}


def next_turn(output: list[dict[str, Any]]) -> dict[str, Any]:
    """What Codex sends next (``store: false``): the whole conversation, the answer's items
    as they came, then the tool's output."""
    items = [*FIRST_TURN["input"], *output]
    items.append({"type": "function_call_output", "call_id": "toolu_1", "output": "18C"})
    return {**FIRST_TURN, "input": items}


def test_sealed_reasoning_returns_as_the_assistant_turns_thinking_blocks() -> None:
    sealer = Sealer()
    first = convert(FIRST_TURN, sealer)
    response = chat_to_response(tool_answer(), first.context, seal=sealer.seal)
    valid_response(response)
    assert [item["type"] for item in response["output"]] == ["reasoning", "function_call"]
    assert "The user wants weather." not in response["output"][0]["encrypted_content"]
    chat = convert(next_turn(response["output"]), sealer).chat
    user, assistant, tool = chat["messages"]
    assert user == {"role": "user", "content": "Weather in Paris?"}
    assert assistant == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "The user wants weather.",
        "thinking_blocks": BLOCKS,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert tool == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}


def test_a_streamed_answer_seals_the_blocks_the_same_way() -> None:
    sealer = Sealer()
    first = convert({**FIRST_TURN, "stream": True}, sealer)
    writer = ChunkWriter("c", "m", 1)
    sse = b"".join(
        [
            writer.role(),
            writer.reasoning("The user "),
            writer.reasoning("wants weather."),
            writer.delta(
                {
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "", "signature": BLOCKS[0]["signature"]}
                    ]
                }
            ),
            writer.delta({"thinking_blocks": [BLOCKS[1]]}),
            writer.tool_call_start(0, "toolu_1", "get_weather"),
            writer.tool_call_arguments(0, '{"city":"Paris"}'),
            writer.finish("tool_calls"),
            DONE,
        ]
    )
    stream = ResponsesFromChat(first.context, sealer.seal)
    sse_events(stream.feed(sse) + stream.finish())
    assert stream.final is not None
    chat = convert(next_turn(stream.final["output"]), sealer).chat
    assert chat["messages"][1]["thinking_blocks"] == BLOCKS
    assert chat["messages"][1]["reasoning_content"] == "The user wants weather."


def sealed_item(token: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": token}


@pytest.mark.parametrize(
    "token",
    [
        "gAAAAABforged-by-the-client",
        Fernet(Fernet.generate_key()).encrypt(orjson.dumps({"thinking_blocks": BLOCKS})).decode(),
        "",
    ],
    ids=["garbage", "another-key", "empty"],
)
def test_a_forged_or_foreign_seal_is_left_out_not_refused(token: str) -> None:
    """OpenAI's own encrypted reasoning (a turn an OpenAI channel answered, continued on
    another kind) cannot be told from a forgery: neither reaches the provider as blocks."""
    summary = [{"type": "summary_text", "text": "Weather, then."}]
    item = {**sealed_item(token), "summary": summary}
    chat = convert({**FIRST_TURN, "input": [*FIRST_TURN["input"], item, ASSISTANT_TEXT]}).chat
    assistant = chat["messages"][-1]
    assert "thinking_blocks" not in assistant or assistant["thinking_blocks"] == []
    assert assistant.get("reasoning_content") == "Weather, then."


def test_a_tampered_seal_gives_no_blocks() -> None:
    sealer = Sealer()
    response = chat_to_response(
        tool_answer(), convert(FIRST_TURN, sealer).context, seal=sealer.seal
    )
    token = response["output"][0]["encrypted_content"]
    tampered = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    chat = convert(next_turn([sealed_item(tampered), *response["output"][1:]]), sealer).chat
    assert not any(message.get("thinking_blocks") for message in chat["messages"])


def test_an_unseal_that_answers_none_or_no_object_gives_no_blocks() -> None:
    body = {**FIRST_TURN, "input": [*FIRST_TURN["input"], sealed_item("tok"), ASSISTANT_TEXT]}
    chat = convert_request(body, unseal=lambda token: None).chat
    assert not any(message.get("thinking_blocks") for message in chat["messages"])
    sealed_other = Sealer()
    not_json = sealed_other.seal(b"[1, 2]")
    body = {**FIRST_TURN, "input": [*FIRST_TURN["input"], sealed_item(not_json), ASSISTANT_TEXT]}
    chat = convert(body, sealed_other).chat
    assert not any(message.get("thinking_blocks") for message in chat["messages"])
