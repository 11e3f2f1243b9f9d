"""A whole chat completion -> a Response, as the openai SDK reads it."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from burncloud.providers.openai.front import ResponsesContext, chat_to_response

from .support import FIXTURES, Sealer, convert, valid_response

CUSTOM = {"type": "custom", "name": "apply_patch", "description": "Edit files."}
FILES = {
    "type": "namespace",
    "name": "mcp__files",
    "description": "Files.",
    "tools": [{"type": "function", "name": "read", "parameters": None, "strict": None}],
}


def context(**body: Any) -> ResponsesContext:
    return convert({"model": "alias", "input": "hi", **body}).context


def completion(message: dict[str, Any], finish: str = "stop", **usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, **usage},
    }


def respond(
    message: dict[str, Any], ctx: ResponsesContext | None = None, **kw: Any
) -> dict[str, Any]:
    response = chat_to_response(completion(message, **kw), ctx or context(), seal=Sealer().seal)
    valid_response(response)
    return response


def test_a_text_answer_is_one_completed_message() -> None:
    ctx = context(instructions="Sys", metadata={"k": "v"}, temperature=0.5)
    before = int(time.time())
    response = respond({"content": "Hello."}, ctx)
    (item,) = response["output"]
    assert item["type"] == "message" and item["id"].startswith("msg_")
    assert item["status"] == "completed" and item["role"] == "assistant"
    assert item["content"] == [
        {"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []}
    ]
    assert response["id"] == ctx.response_id and response["id"].startswith("resp_")
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["model"] == "alias" and response["created_at"] == ctx.created_at
    assert response["completed_at"] >= before
    assert response["instructions"] == "Sys" and response["metadata"] == {"k": "v"}
    assert response["temperature"] == 0.5 and response["top_p"] == 1.0
    assert response["error"] is None and response["incomplete_details"] is None
    assert valid_response(response).output_text == "Hello."


def test_usage_is_in_the_responses_shape() -> None:
    response = respond(
        {"content": "x"},
        prompt_tokens_details={"cached_tokens": 4},
        completion_tokens_details={"reasoning_tokens": 3},
    )
    assert response["usage"] == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 17,
    }


def test_an_answer_cut_by_its_limit_is_incomplete() -> None:
    response = respond({"content": "Once upon"}, finish="length")
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["completed_at"] is None


def test_a_refusal_is_a_refusal_part() -> None:
    response = respond({"content": None, "refusal": "I can't help with that."})
    assert response["output"][0]["content"] == [
        {"type": "refusal", "refusal": "I can't help with that."}
    ]


def test_tool_calls_become_items_named_as_the_client_named_its_tools() -> None:
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "mcp__files__read", "arguments": '{"p":1}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'},
        },
        {"id": "call_c", "type": "function", "function": {"name": "other", "arguments": "{}"}},
    ]
    ctx = context(tools=[FILES, CUSTOM])
    response = respond({"content": "Reading.", "tool_calls": calls}, ctx, finish="tool_calls")
    message, read, patch, other = response["output"]
    assert message["content"][0]["text"] == "Reading."
    assert read == {
        "id": read["id"],
        "type": "function_call",
        "status": "completed",
        "call_id": "call_a",
        "name": "read",
        "namespace": "mcp__files",
        "arguments": '{"p":1}',
    }
    assert read["id"].startswith("fc_")
    assert patch["type"] == "custom_tool_call" and patch["id"].startswith("ctc_")
    assert (patch["name"], patch["input"], patch["call_id"]) == (
        "apply_patch",
        "*** Begin",
        "call_b",
    )
    assert "namespace" not in patch
    assert (other["name"], "namespace" in other) == ("other", False)
    assert response["tools"] == [FILES, CUSTOM]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"input":"a"}', "a"),
        ('{"patch":"b"}', "b"),
        ("not json", "not json"),
        ('{"x":1}', '{"x":1}'),
    ],
)
def test_a_custom_tool_input_is_read_leniently(arguments: str, expected: str) -> None:
    call = {
        "id": "c",
        "type": "function",
        "function": {"name": "apply_patch", "arguments": arguments},
    }
    response = respond({"tool_calls": [call]}, context(tools=[CUSTOM]))
    assert response["output"][0]["input"] == expected


def test_reasoning_is_a_first_item_with_its_summary_and_sealed_only_when_asked() -> None:
    blocks = [{"type": "thinking", "thinking": "Hmm.", "signature": "sig"}]
    message = {"content": "Yes.", "reasoning_content": "Hmm.", "thinking_blocks": blocks}
    plain = respond(message)
    reasoning = plain["output"][0]
    assert reasoning == {
        "id": reasoning["id"],
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Hmm."}],
    }
    assert reasoning["id"].startswith("rs_")
    asked = respond(message, context(include=["reasoning.encrypted_content"]))
    assert isinstance(asked["output"][0]["encrypted_content"], str)
    redacted = respond(
        {"content": "Ok.", "thinking_blocks": [{"type": "redacted_thinking", "data": "x"}]},
        context(include=["reasoning.encrypted_content"]),
    )
    assert redacted["output"][0]["summary"] == [] and redacted["output"][0]["encrypted_content"]


def test_a_recorded_openai_answer_converts() -> None:
    raw = (FIXTURES / "anthropic" / "openai_chat_nonstream_parallel_tool_calls.json").read_bytes()
    response = chat_to_response(orjson.loads(raw), context(), seal=Sealer().seal)
    parsed = valid_response(response)
    assert [item.type for item in parsed.output] == ["function_call", "function_call"]
    assert parsed.usage is not None and parsed.usage.input_tokens > 0


def test_an_answer_without_usage_or_choices_still_reads() -> None:
    response = chat_to_response({"id": "x", "choices": []}, context(), seal=Sealer().seal)
    valid_response(response)
    assert response["output"] == [] and response["usage"] is None
