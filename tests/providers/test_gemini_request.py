"""OpenAI chat requests as Gemini generateContent requests (PROTOCOLS.md 4.1, 4.2, 8.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.gemini import GeminiProvider

USER = {"role": "user", "content": "hi"}


@dataclass(frozen=True)
class Channel:
    base_url: str = ""
    key: str = "AIzaSyTEST-key"
    config: dict[str, str] = field(default_factory=dict)


def build(body: dict[str, Any], model: str = "gemini-2.5-flash", stream: bool = False) -> dict:
    request = GeminiProvider().chat_request(Channel(), body, model, stream)
    return orjson.loads(request.body)


def test_url_and_key_header_never_put_the_key_in_the_url() -> None:
    request = GeminiProvider().chat_request(
        Channel(), {"messages": [USER]}, "gemini-2.5-flash", False
    )
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers["x-goog-api-key"] == "AIzaSyTEST-key"
    assert "key" not in request.url.split("?")[-1]
    assert "Authorization" not in request.headers


def test_stream_url_asks_for_sse_and_model_is_url_encoded() -> None:
    channel = Channel(base_url="http://127.0.0.1:9/v1beta/")
    request = GeminiProvider().chat_request(channel, {"messages": [USER]}, "models/my model", True)
    assert (
        request.url == "http://127.0.0.1:9/v1beta/models/my%20model:streamGenerateContent?alt=sse"
    )


def test_api_version_comes_from_channel_config() -> None:
    channel = Channel(base_url="http://127.0.0.1:9", config={"api_version": "v1"})
    request = GeminiProvider().chat_request(
        channel, {"messages": [USER]}, "gemini-2.5-flash", False
    )
    assert request.url == "http://127.0.0.1:9/v1/models/gemini-2.5-flash:generateContent"


def test_system_and_developer_messages_become_system_instruction() -> None:
    body = build(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                USER,
            ]
        }
    )
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse.\n\nAnswer in French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_multi_turn_uses_only_user_and_model_roles_and_merges_neighbours() -> None:
    messages = [
        USER,
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    contents = build({"messages": messages})["contents"]
    assert contents == [
        {"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]},
        {"role": "model", "parts": [{"text": "hello"}]},
        {"role": "user", "parts": [{"text": "bye"}]},
    ]


def test_images_data_url_inlines_and_http_url_is_passed_as_file_uri() -> None:
    content = [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
        },
    ]
    parts = build({"messages": [{"role": "user", "content": content}]})["contents"][0]["parts"]
    assert parts == [
        {"text": "compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
        {"type": "file", "file": {"file_id": "file-123"}},
        {"type": "video", "video": {}},
    ],
)
def test_unsupported_content_is_a_clear_invalid_request(part: dict) -> None:
    with pytest.raises(InvalidRequest):
        build({"messages": [{"role": "user", "content": [part]}]})


def test_tools_become_function_declarations_with_cleaned_schemas() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "strict": True,
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {"city": {"type": "string", "default": "Paris"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    body = build({"messages": [USER], "tools": tools})
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
                {"name": "now"},
            ]
        }
    ]
    assert "toolConfig" not in body


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "b"}},
            {"mode": "ANY", "allowedFunctionNames": ["b"]},
        ),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "a"}}],
                },
            },
            {"mode": "ANY", "allowedFunctionNames": ["a"]},
        ),
    ],
)
def test_tool_choice_maps_to_function_calling_mode(choice: object, config: dict) -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    body = build({"messages": [USER], "tools": tools, "tool_choice": choice})
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_allowed_tools_in_auto_mode_declares_only_the_allowed_functions() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "auto",
            "tools": [{"type": "function", "function": {"name": "b"}}],
        },
    }
    body = build({"messages": [USER], "tools": tools, "tool_choice": choice})
    assert body["tools"] == [{"functionDeclarations": [{"name": "b"}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


@pytest.mark.parametrize("spec", [["a"], "a", 1])
def test_allowed_tools_that_is_not_an_object_is_an_invalid_request(spec: object) -> None:
    tools = [{"type": "function", "function": {"name": "a"}}]
    choice = {"type": "allowed_tools", "allowed_tools": spec}
    with pytest.raises(InvalidRequest, match=r"allowed_tools must be an object"):
        build({"messages": [USER], "tools": tools, "tool_choice": choice})


def test_sampling_limits_and_stop_map_to_generation_config() -> None:
    body = build(
        {
            "messages": [USER],
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.25,
            "max_completion_tokens": 300,
            "max_tokens": 100,
            "stop": ["a", "b", "c", "d", "e", "f"],
            "n": 2,
        }
    )
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 300,
        "stopSequences": ["a", "b", "c", "d", "e"],
        "candidateCount": 2,
    }


def test_no_options_means_no_generation_config_and_no_default_max_tokens() -> None:
    body = build({"messages": [USER], "max_tokens": 64, "stop": "END"})
    assert body["generationConfig"] == {"maxOutputTokens": 64, "stopSequences": ["END"]}
    assert "generationConfig" not in build({"messages": [USER]})


def test_n_above_one_cannot_be_streamed() -> None:
    with pytest.raises(InvalidRequest, match="n > 1"):
        build({"messages": [USER], "n": 3}, stream=True)


def test_json_object_and_json_schema_response_formats() -> None:
    body = build({"messages": [USER], "response_format": {"type": "json_object"}})
    assert body["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {
        "type": "object",
        "properties": {"b": {"type": "integer"}, "a": {"type": ["string", "null"]}},
        "required": ["b", "a"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}
    config = build({"messages": [USER], "response_format": fmt})["generationConfig"]
    assert config == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {"b": {"type": "integer"}, "a": {"type": "string", "nullable": True}},
            "required": ["b", "a"],
            "propertyOrdering": ["b", "a"],
        },
    }


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-3-flash-preview", "medium", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-pro-preview", "medium", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "LOW", "includeThoughts": True}),
    ],
)
def test_reasoning_effort_becomes_thinking_config(model: str, effort: str, thinking: dict) -> None:
    body = build({"messages": [USER], "reasoning_effort": effort}, model=model)
    assert body["generationConfig"] == {"thinkingConfig": thinking}


def test_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="reasoning_effort"):
        build({"messages": [USER], "reasoning_effort": "max"})


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "system", "content": "only a system prompt"}],
        [{"role": "critic", "content": "?"}],
        [USER, {"role": "tool", "tool_call_id": "call_unknown", "content": "x"}],
    ],
)
def test_malformed_conversations_are_invalid_requests(messages: list) -> None:
    with pytest.raises(InvalidRequest):
        build({"messages": messages})


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


def test_web_search_options_become_google_search_grounding() -> None:
    body = build({"messages": [USER], "web_search_options": {"search_context_size": "low"}})
    assert body["tools"] == [{"googleSearch": {}}]
    assert "toolConfig" not in body
    assert "tools" not in build({"messages": [USER], "web_search_options": None})


def test_google_search_stays_out_where_function_calling_is_in_play() -> None:
    body = build({"messages": [USER], "tools": [WEATHER], "web_search_options": {}})
    assert body["tools"] == [{"functionDeclarations": [{"name": "get_weather"}]}]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    history = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    assert "tools" not in build({"messages": history, "web_search_options": {}})


def test_claudes_thinking_blocks_are_not_sent_to_gemini() -> None:
    assistant = {
        "role": "assistant",
        "content": "Hello!",
        "reasoning_content": "The user greets me.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "The user greets me.", "signature": "s"}
        ],
    }
    body = build({"messages": [USER, assistant, USER], "reasoning_effort": "low"})
    assert body["contents"][1] == {"role": "model", "parts": [{"text": "Hello!"}]}
    thinking = body["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingBudget": 1024, "includeThoughts": True}
