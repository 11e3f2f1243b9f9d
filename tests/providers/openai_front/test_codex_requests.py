"""The two Codex CLI 0.171.0 requests recorded in tests/fixtures/clients, converted whole,
and answers to them mapped back to the tools as Codex declared them."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from burncloud.providers.openai.front import chat_to_response

from .support import Sealer, client_body, convert, valid_response

WITH_TOOLS = "codex_0.171.0_responses_request.json"  # tools in ``tools``
DEFAULT_MODEL = "codex_0.171.0_responses_request_default_model.json"  # in additional_tools


def declared(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tool Codex declared: ``tools`` and the ``additional_tools`` items'."""
    tools = list(body.get("tools", ()))
    for item in body["input"]:
        if item.get("type") == "additional_tools":
            tools += item["tools"]
    return tools


def members(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (tool["name"], member)
        for tool in declared(body)
        if tool["type"] == "namespace"
        for member in tool["tools"]
    ]


def answer_calling(chat_name: str, arguments: str) -> dict[str, Any]:
    call = {
        "id": "call_9",
        "type": "function",
        "function": {"name": chat_name, "arguments": arguments},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    usage = {"prompt_tokens": 9000, "completion_tokens": 20, "total_tokens": 9020}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": usage,
    }


@pytest.mark.parametrize("name", [WITH_TOOLS, DEFAULT_MODEL])
def test_the_recorded_request_converts_whole(name: str) -> None:
    body = client_body(name)
    conversion = convert(body)
    chat = conversion.chat
    assert chat["model"] == body["model"] and chat["stream"] is True
    inputs = [i for i in body["input"] if i.get("type", "message") == "message"]
    assert [m["role"] for m in chat["messages"]] == [
        "system" if i["role"] == "developer" else i["role"] for i in inputs
    ]
    assert chat["messages"][-1]["content"] == inputs[-1]["content"][0]["text"]
    functions = [t for t in declared(body) if t["type"] in ("function", "custom")]
    names = [t["function"]["name"] for t in chat["tools"]]
    assert len(names) == len(functions) + len(members(body)) == len(set(names))
    assert chat["tool_choice"] == "auto"
    assert chat["parallel_tool_calls"] is body["parallel_tool_calls"]
    assert conversion.context.include_encrypted_reasoning
    assert conversion.context.store is False


@pytest.mark.parametrize("name", [WITH_TOOLS, DEFAULT_MODEL])
def test_every_namespace_member_is_flattened_and_mapped_back(name: str) -> None:
    body = client_body(name)
    conversion = convert(body)
    names = [t["function"]["name"] for t in conversion.chat["tools"]]
    for space, member in members(body):
        flat = f"{space}__{member['name']}"
        assert flat in names
        arguments = '{"input":"1+1"}' if member["type"] == "custom" else '{"a":1}'
        response = chat_to_response(
            answer_calling(flat, arguments), conversion.context, seal=Sealer().seal
        )
        valid_response(response)
        (item,) = response["output"]
        assert item["name"] == member["name"] and item["namespace"] == space
        if member["type"] == "custom":
            assert item["type"] == "custom_tool_call" and item["input"] == "1+1"
        else:
            assert item["type"] == "function_call" and item["arguments"] == '{"a":1}'
        assert item["call_id"] == "call_9"


def test_codex_web_search_with_external_access_becomes_web_search_options() -> None:
    body = client_body(WITH_TOOLS)
    assert {"type": "web_search", "external_web_access": True} in body["tools"]
    conversion = convert(body)
    assert conversion.chat["web_search_options"] == {}
    assert conversion.omitted == ()


def test_codex_web_search_without_external_access_is_left_out_and_reported() -> None:
    """Codex 0.169 sent ``external_web_access: false`` (issue 17); 0.171 sends true."""
    body = copy.deepcopy(client_body(WITH_TOOLS))
    for tool in body["tools"]:
        if tool["type"] == "web_search":
            tool["external_web_access"] = False
    conversion = convert(body)
    assert "web_search_options" not in conversion.chat
    assert conversion.omitted == ("web_search: external_web_access is false",)


def test_the_answer_echoes_the_request_as_openai_does() -> None:
    body = client_body(DEFAULT_MODEL)
    conversion = convert(body)
    response = chat_to_response(
        answer_calling("clock__sleep", '{"duration_ms":5}'), conversion.context, seal=Sealer().seal
    )
    parsed = valid_response(response)
    assert parsed.model == "gpt-6.2-sol" and response["store"] is False
    assert parsed.parallel_tool_calls is False and parsed.tool_choice == "auto"
    assert parsed.prompt_cache_key == body["prompt_cache_key"]
    assert parsed.reasoning is not None and parsed.reasoning.effort == "low"
    assert parsed.text is not None and parsed.text.verbosity == "low"
    assert parsed.usage is not None and parsed.usage.total_tokens == 9020
    assert orjson.loads(parsed.output[0].model_dump_json())["namespace"] == "clock"
