"""OpenAI chat request -> Anthropic Messages request (PROTOCOLS.md 3.1, 3.2, 8.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.anthropic.request import check_config
from burncloud.providers.anthropic.tools import JSON_OBJECT_INSTRUCTION, JSON_SCHEMA_INSTRUCTION

PROVIDER = AnthropicProvider()
KEY = "sk-ant-test-key"
PNG = "iVBORw0KGgoAAAANSUhEUg"


@dataclass(frozen=True)
class Channel:
    base_url: str = "https://api.anthropic.com"
    key: str = KEY
    config: Mapping[str, str] = field(default_factory=dict)


def assert_valid(payload: dict[str, Any]) -> None:
    """The checks the Messages API makes that a converter can get wrong (PROTOCOLS.md 3.2)."""
    assert isinstance(payload["max_tokens"], int) and payload["max_tokens"] > 0
    assert 0 <= payload.get("temperature", 0) <= 1
    messages = payload["messages"]
    assert messages and messages[0]["role"] == "user"
    pending: set[str] = set()
    for turn, previous in zip(messages, [None, *messages], strict=False):
        assert turn["role"] in ("user", "assistant")
        assert previous is None or previous["role"] != turn["role"], "roles must alternate"
        blocks = turn["content"]
        assert blocks, "no empty turns"
        for block in blocks:
            assert block["type"] != "text" or block["text"].strip(), "no empty text blocks"
        results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
        assert blocks[: len(results)] == [b for b in blocks if b["type"] == "tool_result"]
        assert set(results) == pending, "tool results answer the previous turn's tool uses"
        pending = {b["id"] for b in blocks if b["type"] == "tool_use"}
    if "thinking" in payload:
        assert 1024 <= payload["thinking"]["budget_tokens"] < payload["max_tokens"]
        assert "temperature" not in payload and "top_k" not in payload


def convert(body: dict[str, Any], channel: Channel | None = None) -> dict[str, Any]:
    request = PROVIDER.chat_request(channel or Channel(), body, "claude-sonnet-4-5", False)
    payload = orjson.loads(request.body)
    assert_valid(payload)
    return payload


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages"),
        ("https://proxy.example/anthropic/v1/", "https://proxy.example/anthropic/v1/messages"),
    ],
)
def test_url(base_url: str, url: str) -> None:
    assert (
        PROVIDER.chat_request(Channel(base_url), {"messages": [user("hi")]}, "m", True).url == url
    )


def test_headers_and_stream_flag() -> None:
    body = {"messages": [user("hi")], "stream": True, "stream_options": {"include_usage": True}}
    request = PROVIDER.chat_request(Channel(), body, "claude-x", True)
    assert request.headers == {
        "x-api-key": KEY,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    payload = orjson.loads(request.body)
    assert payload["stream"] is True and "stream_options" not in payload
    assert payload["model"] == "claude-x"
    assert "stream" not in convert({"messages": [user("hi")], "stream": True})


def test_beta_header_from_channel_config() -> None:
    channel = Channel(config={"anthropic_beta": "context-1m-2025-08-07"})
    request = PROVIDER.chat_request(channel, {"messages": [user("hi")]}, "m", False)
    assert request.headers["anthropic-beta"] == "context-1m-2025-08-07"


def test_system_and_developer_messages_become_top_level_system() -> None:
    payload = convert(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                user("hi"),
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                user("again"),
            ]
        }
    )
    assert payload["system"] == "You are terse.\n\nAnswer in French."
    assert payload["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}],
        }
    ]


def test_cache_control_is_kept_and_system_becomes_blocks() -> None:
    cached = {"type": "text", "text": "Long rules.", "cache_control": {"type": "ephemeral"}}
    payload = convert({"messages": [{"role": "system", "content": [cached]}, user([cached])]})
    assert payload["system"] == [cached]
    assert payload["messages"][0]["content"] == [cached]


def test_multi_turn_tool_loop() -> None:
    payload = convert(
        {
            "messages": [
                user("Weather in Paris and the time?"),
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        call("call_1", "get_weather", '{"city":"Paris"}'),
                        call("call_2", "get_time", "not json"),
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c":18}'},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "9:00"}],
                },
                user("Thanks. And tomorrow?"),
            ],
            "tools": [WEATHER_TOOL],
        }
    )
    assistant, results = payload["messages"][1:]
    assert assistant["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp_c":18}'},
            {
                "type": "tool_result",
                "tool_use_id": "call_2",
                "content": [{"type": "text", "text": "9:00"}],
            },
            {"type": "text", "text": "Thanks. And tomorrow?"},
        ],
    }


def test_tool_results_go_before_user_text_that_came_first() -> None:
    payload = convert(
        {
            "messages": [
                user("go"),
                {"role": "assistant", "content": None, "tool_calls": [call("c1", "f", "{}")]},
                user("(the user typed while the tool ran)"),
                {"role": "tool", "tool_call_id": "c1", "content": ""},
            ]
        }
    )
    last = payload["messages"][-1]["content"]
    assert last == [
        {"type": "tool_result", "tool_use_id": "c1"},
        {"type": "text", "text": "(the user typed while the tool ran)"},
    ]


def test_tool_call_ids_are_sanitised_the_same_way_on_both_sides() -> None:
    payload = convert(
        {
            "messages": [
                user("go"),
                {"role": "assistant", "tool_calls": [call("call:abc.1", "f", "{}")]},
                {"role": "tool", "tool_call_id": "call:abc.1", "content": "ok"},
            ]
        }
    )
    assert payload["messages"][1]["content"][0]["id"] == "call_abc_1"
    assert payload["messages"][2]["content"][0]["tool_use_id"] == "call_abc_1"


def test_empty_text_is_dropped_and_same_roles_merge() -> None:
    payload = convert(
        {
            "messages": [
                user(""),
                user("a"),
                {"role": "assistant", "content": ""},
                {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
                {"role": "assistant", "content": "c"},
                user([{"type": "text", "text": " "}, {"type": "text", "text": "d"}]),
            ]
        }
    )
    assert payload["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "d"}]},
    ]


def test_conversation_opening_with_the_assistant_gets_a_user_turn() -> None:
    payload = convert({"messages": [{"role": "assistant", "content": "Hello!"}, user("hi")]})
    assert payload["messages"][0] == {
        "role": "user",
        "content": [{"type": "text", "text": "(continue)"}],
    }


def test_final_assistant_prefill_loses_trailing_whitespace() -> None:
    payload = convert({"messages": [user("JSON please"), {"role": "assistant", "content": "{\n "}]})
    assert payload["messages"][-1]["content"] == [{"type": "text", "text": "{"}]


def test_images() -> None:
    payload = convert(
        {
            "messages": [
                user(
                    [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        {"type": "image_url", "image_url": {"url": f"data:image/jpg;base64,{PNG}"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.webp"}},
                    ]
                )
            ]
        }
    )
    assert payload["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.webp"}},
    ]


@pytest.mark.parametrize(
    "url",
    [f"data:image/bmp;base64,{PNG}", "data:image/png,rawbytes", "ftp://example.com/a.png", ""],
)
def test_unsupported_images_are_rejected(url: str) -> None:
    body = {"messages": [user([{"type": "image_url", "image_url": {"url": url}}])]}
    with pytest.raises(InvalidRequest):
        convert(body)


def test_pdf_file_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"},
    }
    payload = convert({"messages": [user([part])]})
    assert payload["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        }
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [user("hi")], "n": 2},
        {
            "messages": [
                user([{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}])
            ]
        },
        {"messages": [{"role": "system", "content": "only a system prompt"}]},
        {"messages": []},
        {"messages": [{"role": "function", "name": "f", "content": "x"}]},
        {"messages": [user("hi")], "max_tokens": 0},
        {"messages": [user("hi")], "temperature": "hot"},
        {"messages": [user("hi")], "reasoning_effort": "extreme"},
        {"messages": [user("hi")], "tools": [{"type": "custom", "custom": {"name": "x"}}]},
        {"messages": [user("hi")], "tools": [WEATHER_TOOL], "tool_choice": "sometimes"},
        {"messages": [user("hi")], "response_format": {"type": "grammar"}},
        {"messages": [user("hi")], "stop": [1]},
        {"messages": [user("go"), {"role": "tool", "content": "no id"}]},
    ],
)
def test_what_anthropic_cannot_express_is_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        PROVIDER.chat_request(Channel(), body, "m", False)


def test_n_of_one_is_fine() -> None:
    assert "n" not in convert({"messages": [user("hi")], "n": 1})


@pytest.mark.parametrize(
    ("fields", "config", "expected"),
    [
        ({}, {}, 4096),
        ({"max_tokens": 300}, {}, 300),
        ({"max_tokens": 300, "max_completion_tokens": 500}, {}, 500),
        ({}, {"max_tokens_default": "64000"}, 64000),
        ({"max_tokens": 10}, {"max_tokens_default": "64000"}, 10),
    ],
)
def test_max_tokens(fields: dict[str, int], config: dict[str, str], expected: int) -> None:
    payload = convert({"messages": [user("hi")], **fields}, Channel(config=config))
    assert payload["max_tokens"] == expected


def test_a_broken_max_tokens_default_is_a_channel_error() -> None:
    with pytest.raises(UpstreamError):
        convert({"messages": [user("hi")]}, Channel(config={"max_tokens_default": "lots"}))
    with pytest.raises(InvalidRequest):
        check_config({"max_tokens_default": "-5"})
    check_config({"max_tokens_default": "8192"})
    check_config({})


def test_sampling_parameters() -> None:
    payload = convert(
        {
            "messages": [user("hi")],
            "temperature": 1.7,
            "top_p": 0.9,
            "stop": "END",
            "seed": 3,
            "frequency_penalty": 1,
            "logprobs": True,
            "store": True,
            "metadata": {"a": "b"},
            "user": "user-123",
        },
    )
    assert payload["temperature"] == 1
    assert payload["top_p"] == 0.9
    assert payload["stop_sequences"] == ["END"]
    assert payload["metadata"] == {"user_id": "user-123"}
    for dropped in ("seed", "frequency_penalty", "logprobs", "store", "n", "user"):
        assert dropped not in payload
    assert convert({"messages": [user("hi")], "temperature": 0.3})["temperature"] == 0.3
    stops = convert({"messages": [user("hi")], "stop": ["\n", "###", " "]})["stop_sequences"]
    assert stops == ["###"]


def test_tools_and_tool_choice() -> None:
    bare = {"type": "function", "function": {"name": "now"}}
    payload = convert({"messages": [user("hi")], "tools": [WEATHER_TOOL, bare]})
    assert payload["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in payload


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, None),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice_mapping(choice: Any, parallel: bool | None, expected: Any) -> None:
    body: dict[str, Any] = {"messages": [user("hi")], "tools": [WEATHER_TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert convert(body).get("tool_choice") == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    payload = convert(
        {"messages": [user("hi")], "tool_choice": "none", "parallel_tool_calls": False}
    )
    assert "tool_choice" not in payload and "tools" not in payload


def test_legacy_functions_become_tools() -> None:
    payload = convert(
        {
            "messages": [user("hi")],
            "functions": [WEATHER_TOOL["function"]],
            "function_call": {"name": "get_weather"},
        }
    )
    assert payload["tools"][0]["name"] == "get_weather"
    assert payload["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_json_modes_become_system_instructions() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    json_schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    system = {"role": "system", "content": "Be brief."}
    object_mode = convert(
        {"messages": [system, user("hi")], "response_format": {"type": "json_object"}}
    )
    assert object_mode["system"] == "Be brief.\n\n" + JSON_OBJECT_INSTRUCTION
    schema_mode = convert({"messages": [user("hi")], "response_format": json_schema})
    assert schema_mode["system"].startswith(JSON_SCHEMA_INSTRUCTION)
    assert orjson.loads(schema_mode["system"].split("\n", 1)[1]) == schema
    assert "system" not in convert({"messages": [user("hi")], "response_format": {"type": "text"}})


@pytest.mark.parametrize(
    ("effort", "fields", "budget", "max_tokens"),
    [
        ("low", {}, 1024, 4096 + 1024),
        ("medium", {}, 4096, 4096 + 4096),
        ("high", {}, 16384, 4096 + 16384),
        ("high", {"max_completion_tokens": 8000}, 7999, 8000),
        ("medium", {"max_tokens": 20000}, 4096, 20000),
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget(
    effort: str, fields: dict[str, int], budget: int, max_tokens: int
) -> None:
    body = {"messages": [user("hi")], "reasoning_effort": effort, "temperature": 0.2, "top_k": 5}
    payload = convert({**body, **fields})
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert payload["max_tokens"] == max_tokens
    assert "temperature" not in payload and "top_k" not in payload


def test_thinking_keeps_only_a_high_top_p() -> None:
    body = {"messages": [user("hi")], "reasoning_effort": "low"}
    assert "top_p" not in convert({**body, "top_p": 0.5})
    assert convert({**body, "top_p": 0.97})["top_p"] == 0.97


@pytest.mark.parametrize(
    "extra",
    [
        {"reasoning_effort": "none"},
        {"reasoning_effort": "low", "max_tokens": 1024},
        {"reasoning_effort": "low", "tools": [WEATHER_TOOL], "tool_choice": "required"},
    ],
)
def test_thinking_stays_off_when_it_cannot_be_honoured(extra: dict[str, Any]) -> None:
    assert "thinking" not in convert({"messages": [user("hi")], **extra})


def test_tool_loop_without_echoed_thinking_turns_thinking_off() -> None:
    messages = [
        user("weather?"),
        {"role": "assistant", "content": None, "tool_calls": [call("c1", "get_weather", "{}")]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    body = {"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "low"}
    assert "thinking" not in convert(body)
    signed = {"type": "thinking", "thinking": "Need weather.", "signature": "sig=="}
    messages[1] = {**messages[1], "thinking_blocks": [signed]}
    payload = convert(body)
    assert payload["thinking"]["budget_tokens"] == 1024
    assert payload["messages"][1]["content"][0] == signed


def test_an_answer_with_thinking_can_be_sent_back_for_the_next_turn() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "Need weather.", "signature": "sig=="},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    completion = PROVIDER.chat_answer(orjson.dumps(answer), "m").completion
    assistant = completion["choices"][0]["message"]
    messages = [
        user("weather in Oslo?"),
        assistant,
        {"role": "tool", "tool_call_id": "toolu_1", "content": "-3C"},
    ]
    body = {"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "low"}
    payload = convert(body)
    assert payload["messages"][1]["content"] == answer["content"]
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def convert_as(model: str, body: dict[str, Any], config: dict[str, str]) -> dict[str, Any]:
    request = PROVIDER.chat_request(Channel(config=config), body, model, False)
    payload = orjson.loads(request.body)
    assert_valid(payload)
    return payload


def test_minimal_effort_thinks_with_the_smallest_budget() -> None:
    payload = convert({"messages": [user("hi")], "reasoning_effort": "minimal"})
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_a_thinking_object_in_the_chat_body_is_honoured_and_can_turn_thinking_off() -> None:
    body = {"messages": [user("hi")], "thinking": {"type": "enabled", "budget_tokens": 2048}}
    payload = convert({**body, "reasoning_effort": "high"})
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert payload["max_tokens"] == 4096 + 2048
    off = {"messages": [user("hi")], "thinking": {"type": "disabled"}, "reasoning_effort": "high"}
    assert "thinking" not in convert(off)


@pytest.mark.parametrize("budget", [512, 0, "2048", None, True])
def test_a_thinking_budget_anthropic_refuses_is_an_invalid_request(budget: Any) -> None:
    body = {"messages": [user("hi")], "thinking": {"type": "enabled", "budget_tokens": budget}}
    with pytest.raises(InvalidRequest, match="budget_tokens"):
        PROVIDER.chat_request(Channel(), body, "claude-sonnet-4-5", False)


@pytest.mark.parametrize(
    ("model", "config", "effort", "budget", "max_tokens"),
    [
        # the channel's default answer room plus the budget, cut at the model's output limit
        ("claude-sonnet-4-5-20250929", {"max_tokens_default": "64000"}, "high", 16384, 64000),
        ("claude-opus-4-1-20250805", {"max_tokens_default": "30000"}, "high", 16384, 32000),
        ("claude-opus-4-1", {"max_tokens_default": "31000"}, "xhigh", 24576, 32000),
        # a channel's max_output_tokens names the limit of what it serves
        (
            "claude-next",
            {"max_tokens_default": "8000", "max_output_tokens": "9000"},
            "high",
            8999,
            9000,
        ),
        # a model in no table keeps the sum
        ("claude-next", {"max_tokens_default": "8000"}, "high", 16384, 24384),
    ],
)
def test_the_raised_max_tokens_stays_within_the_models_output_limit(
    model: str, config: dict[str, str], effort: str, budget: int, max_tokens: int
) -> None:
    payload = convert_as(model, {"messages": [user("hi")], "reasoning_effort": effort}, config)
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert payload["max_tokens"] == max_tokens


def test_an_explicit_limit_is_never_raised_for_thinking() -> None:
    """OpenAI counts reasoning inside the limit, and the relay caps it to the balance."""
    body = {"messages": [user("hi")], "reasoning_effort": "high", "max_completion_tokens": 3000}
    payload = convert(body)
    assert payload["max_tokens"] == 3000
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 2999}


def test_only_signed_thinking_goes_back_first_in_the_assistant_turn() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Unsigned, from a stream cut short."},
        {"type": "thinking", "thinking": "Signed.", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "EqkE"},
        {"type": "redacted_thinking", "data": ""},
        {"type": "tool_use", "id": "x"},
    ]
    messages = [
        user("weather?"),
        {"role": "assistant", "content": "Let me check.", "reasoning_content": "Hmm."},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Unsigned, from a stream cut short.Signed.",
            "thinking_blocks": blocks,
            "tool_calls": [call("c1", "get_weather", "{}")],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    payload = convert({"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "low"})
    assert [b["type"] for b in payload["messages"][1]["content"]] == [
        "thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert payload["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "Signed.", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "EqkE"},
    ]
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_reasoning_content_alone_is_not_sent_back_and_leaves_thinking_off_in_a_tool_loop() -> None:
    messages = [
        user("weather?"),
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "I should call the tool.",
            "tool_calls": [call("c1", "get_weather", "{}")],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    payload = convert({"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "high"})
    assert [b["type"] for b in payload["messages"][1]["content"]] == ["tool_use"]
    assert "thinking" not in payload


def test_web_search_options_add_the_server_web_search_tool() -> None:
    payload = convert({"messages": [user("news?")], "web_search_options": {}})
    assert payload["tools"] == [{"type": "web_search_20250305", "name": "web_search"}]
    body = {"messages": [user("news?")], "tools": [WEATHER_TOOL], "web_search_options": {}}
    names = [tool["name"] for tool in convert({**body, "tool_choice": "auto"})["tools"]]
    assert names == ["get_weather", "web_search"]
    assert "tools" not in convert({"messages": [user("news?")], "web_search_options": None})


def test_the_clients_approximate_location_goes_to_the_web_search_tool() -> None:
    location = {
        "type": "approximate",
        "approximate": {"city": "Oslo", "country": "NO", "region": "", "timezone": "Europe/Oslo"},
    }
    options = {"search_context_size": "high", "user_location": location}
    (tool,) = convert({"messages": [user("news?")], "web_search_options": options})["tools"]
    assert tool == {
        "type": "web_search_20250305",
        "name": "web_search",
        "user_location": {
            "type": "approximate",
            "city": "Oslo",
            "country": "NO",
            "timezone": "Europe/Oslo",
        },
    }


def test_web_search_and_thinking_go_together() -> None:
    body = {"messages": [user("news?")], "web_search_options": {}, "reasoning_effort": "medium"}
    payload = convert(body)
    assert payload["thinking"]["budget_tokens"] == 4096
    assert payload["tools"][0]["type"] == "web_search_20250305"
