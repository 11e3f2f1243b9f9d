"""Gemini front door: generateContent request -> OpenAI chat, OpenAI answer -> Gemini, errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from pydantic import TypeAdapter

from burncloud.errors import InvalidRequest, RateLimited, ServiceUnavailable
from burncloud.providers.gemini import call_ids
from burncloud.providers.gemini.front.answer import chat_to_gemini
from burncloud.providers.gemini.front.errors import gemini_error, gemini_rejection
from burncloud.providers.gemini.front.request import contents_to_chat
from burncloud.providers.gemini.messages import SKIP_SIGNATURE
from burncloud.providers.gemini.request import build_body
from burncloud.providers.gemini.response import convert_answer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REQUESTS = sorted(p.name for p in (FIXTURES / "gemini").glob("*.request.json"))
STREAM_BODY = TypeAdapter(CompletionCreateParamsStreaming)
WHOLE_BODY = TypeAdapter(CompletionCreateParamsNonStreaming)
PNG = "iVBORw0KGgo"

# The request of PROTOCOLS.md 4.2.
PROTOCOLS_REQUEST: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "Describe this image and get Paris weather."},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
            ],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING"}},
                        "required": ["city"],
                    },
                }
            ]
        },
        {"googleSearch": {}},
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 0.7,
        "topP": 0.95,
        "topK": 40,
        "maxOutputTokens": 1024,
        "stopSequences": ["END"],
        "candidateCount": 1,
        "seed": 42,
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}},
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": False},
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
}


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def genai_types() -> Any:
    return pytest.importorskip("google.genai.types", reason="google-genai is not installed")


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def model(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "model", "parts": list(parts)}


def chat_of(*contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return contents_to_chat({"contents": list(contents), **extra}, "alias", False)


# --- request --------------------------------------------------------------------------


def test_protocols_request_converts_field_by_field() -> None:
    chat = contents_to_chat(PROTOCOLS_REQUEST, "gpt-4o", True)
    call_id = chat["messages"][2]["tool_calls"][0]["id"]
    assert chat == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this image and get Paris weather."},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c":18}'},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            }
        ],
        "tool_choice": "auto",
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 1024,
        "n": 1,
        "seed": 42,
        "stop": ["END"],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "response",
                "schema": {"type": "object", "properties": {"answer": {"type": "string"}}},
            },
        },
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert call_id.startswith("call_") and call_ids.decode(call_id).wire_id is None
    STREAM_BODY.validate_python(chat)


@pytest.mark.parametrize("name", REQUESTS)
@pytest.mark.parametrize("stream", [True, False])
def test_recorded_requests_make_valid_openai_bodies(name: str, stream: bool) -> None:
    chat = contents_to_chat(load(f"gemini/{name}"), "alias", stream)
    (STREAM_BODY if stream else WHOLE_BODY).validate_python(chat)
    assert chat["model"] == "alias"
    assert ("stream" in chat) is stream
    calls = {c["id"] for m in chat["messages"] for c in m.get("tool_calls") or []}
    answered = {m["tool_call_id"] for m in chat["messages"] if m["role"] == "tool"}
    assert answered <= calls


@pytest.mark.parametrize("name", REQUESTS)
def test_recorded_requests_round_trip_through_the_forward_provider(name: str) -> None:
    original = load(f"gemini/{name}")
    chat = contents_to_chat(original, "gemini-3-flash", True)
    again = build_body(chat, "gemini-3-flash", True)
    assert [_turn(t) for t in again["contents"]] == [_turn(t) for t in original["contents"]]
    names = [d["name"] for d in again["tools"][0]["functionDeclarations"]]
    assert names == [d["name"] for t in original["tools"] for d in _get(t, "functionDeclarations")]


def _get(obj: dict[str, Any], camel: str) -> Any:
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj.get(camel, obj.get(snake))


def _turn(content: dict[str, Any]) -> tuple[str, list[Any]]:
    """Role (Gemini's old 'tool' role is a user turn) and the parts that matter."""
    role = "model" if content["role"] == "model" else "user"
    return role, [_part(p) for p in content["parts"]]


def _part(part: dict[str, Any]) -> Any:
    call, response = _get(part, "functionCall"), _get(part, "functionResponse")
    signature = _get(part, "thoughtSignature")
    if call is not None:
        bytes_ = None if signature in (None, SKIP_SIGNATURE) else _b64(signature)
        return ("call", call["name"], call.get("args"), call.get("id"), bytes_)
    if response is not None:
        return ("response", response["name"], response["response"], response.get("id"))
    return ("text", part["text"])


def _b64(text: str) -> bytes:
    """Signature bytes, whichever base64 alphabet carried them."""
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_"))


def test_thought_signature_survives_the_round_trip_byte_for_byte() -> None:
    original = load("gemini/stream_after_tool_result.request.json")
    part = original["contents"][1]["parts"][0]
    chat = contents_to_chat(original, "alias", False)
    call = chat["messages"][1]["tool_calls"][0]
    assert call["id"].startswith("pyd_ai_29bf73b69e02448588e15893d47a3e7e__thought__")
    assert chat["messages"][2]["tool_call_id"] == call["id"]
    sent = build_body(chat, "gemini-3-flash", False)["contents"][1]["parts"][0]
    assert sent["functionCall"]["id"] == part["functionCall"]["id"]
    assert _b64(sent["thoughtSignature"]) == _b64(part["thoughtSignature"])


def test_parallel_calls_of_one_function_are_answered_in_order() -> None:
    call = {"functionCall": {"name": "f", "args": {"q": 1}}}
    other = {"functionCall": {"name": "f", "args": {"q": 2}}}
    chat = chat_of(
        user({"text": "go"}),
        model({"text": "Calling."}, call, other),
        user(
            {"functionResponse": {"name": "f", "response": {"r": 1}}},
            {"functionResponse": {"name": "f", "response": {"r": 2}}},
            {"text": "and then?"},
        ),
    )
    assistant = chat["messages"][1]
    assert assistant["content"] == "Calling."
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert len(set(ids)) == 2
    assert [(m["role"], m.get("tool_call_id")) for m in chat["messages"][2:]] == [
        ("tool", ids[0]),
        ("tool", ids[1]),
        ("user", None),
    ]
    assert (
        chat_of(user({"text": "go"}), model(call))["messages"][1]["tool_calls"][0]["id"] == ids[0]
    )


def test_responses_match_calls_by_id_first() -> None:
    calls = [{"functionCall": {"name": "f", "args": {}, "id": i}} for i in ("a", "b")]
    answers = [{"functionResponse": {"name": "f", "response": {}, "id": i}} for i in ("b", "a")]
    chat = chat_of(user({"text": "go"}), model(*calls), user(*answers))
    assert [m["tool_call_id"] for m in chat["messages"][2:]] == ["b", "a"]


def test_model_thoughts_are_dropped() -> None:
    chat = chat_of(
        user({"text": "hi"}),
        model({"text": "pondering", "thought": True}),
        model(
            {"text": "pondering", "thought": True}, {"text": "Hello"}, {"thoughtSignature": "AAAA"}
        ),
        user({"text": "bye"}),
    )
    assert chat["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "bye"},
    ]


def test_media_parts() -> None:
    chat = chat_of(
        user(
            {"inline_data": {"mime_type": "audio/wav", "data": "UklG"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}},
        )
    )
    assert chat["messages"][0]["content"] == [
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "file.pdf"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
    ]


@pytest.mark.parametrize(
    ("config", "choice"),
    [
        ({"mode": "AUTO"}, "auto"),
        ({"mode": "ANY"}, "required"),
        ({"mode": "NONE"}, "none"),
        (
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
            {"type": "function", "function": {"name": "f"}},
        ),
        (
            {"mode": "ANY", "allowed_function_names": ["f", "g"]},
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [
                        {"type": "function", "function": {"name": "f"}},
                        {"type": "function", "function": {"name": "g"}},
                    ],
                },
            },
        ),
        ({}, None),
    ],
)
def test_function_calling_modes(config: dict[str, Any], choice: Any) -> None:
    tools = [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}]
    chat = chat_of(user({"text": "x"}), tools=tools, toolConfig={"functionCallingConfig": config})
    assert chat.get("tool_choice") == choice
    assert chat["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    WHOLE_BODY.validate_python(chat)


def test_tool_config_without_function_tools_is_dropped() -> None:
    chat = chat_of(
        user({"text": "x"}),
        tools=[{"codeExecution": {}}],
        toolConfig={"functionCallingConfig": {"mode": "ANY"}},
    )
    assert "tools" not in chat and "tool_choice" not in chat


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"thinkingBudget": 0}, "none"),
        ({"thinkingBudget": 512}, "minimal"),
        ({"thinkingBudget": 1024}, "low"),
        ({"thinkingBudget": 8192}, "medium"),
        ({"thinkingBudget": 24576}, "high"),
        ({"thinkingBudget": -1}, None),
        ({"thinking_level": "HIGH"}, "high"),
        ({"thinkingLevel": "low"}, "low"),
        ({"includeThoughts": True}, None),
    ],
)
def test_thinking_config_to_reasoning_effort(thinking: dict[str, Any], effort: str | None) -> None:
    chat = chat_of(user({"text": "x"}), generationConfig={"thinkingConfig": thinking})
    assert chat.get("reasoning_effort") == effort
    body = {"contents": [user({"text": "x"})], "generationConfig": {"thinkingConfig": thinking}}
    assert "reasoning_effort" not in contents_to_chat(body, "m", False, map_thinking=False)


def test_response_formats() -> None:
    def fmt(**config: Any) -> Any:
        return chat_of(user({"text": "x"}), generationConfig=config).get("response_format")

    assert fmt(responseMimeType="text/plain") is None
    assert fmt(responseMimeType="application/json") == {"type": "json_object"}
    raw = {"type": "object", "additionalProperties": False, "properties": {}}
    assert fmt(response_mime_type="application/json", response_json_schema=raw)["json_schema"] == {
        "name": "response",
        "schema": raw,
    }
    gemini = {
        "type": "OBJECT",
        "properties": {"tags": {"type": "ARRAY", "items": {"type": "STRING", "nullable": True}}},
        "propertyOrdering": ["tags"],
    }
    assert fmt(responseMimeType="application/json", responseSchema=gemini)["json_schema"][
        "schema"
    ] == {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": ["string", "null"]}}},
    }
    with pytest.raises(InvalidRequest, match="responseMimeType"):
        fmt(responseMimeType="text/x.enum")


def test_stop_sequences_are_cut_to_openais_four() -> None:
    chat = chat_of(user({"text": "x"}), generationConfig={"stopSequences": list("abcde")})
    assert chat["stop"] == list("abcd")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": [{"role": "user"}]}, "parts"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "role"),
        ({"contents": [user({"text": ""})]}, "no part"),
        ({"contents": [user({"executableCode": {}})]}, "user parts"),
        ({"contents": [user({"inlineData": {"mimeType": "image/png"}})]}, "inlineData"),
        (
            {"contents": [user({"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v"}})]},
            "fileData",
        ),
        ({"contents": [model({"functionCall": {"args": {}}})]}, "name"),
        ({"contents": [model({"functionCall": {"name": "f", "args": [1]}})]}, "args"),
        ({"contents": [user({"functionResponse": {"name": "f", "response": {}}})]}, "no earlier"),
        ({"contents": [user({"text": "x"})], "cachedContent": "cachedContents/1"}, "cachedContent"),
        (
            {
                "contents": [user({"text": "x"})],
                "systemInstruction": {"parts": [{"inlineData": {}}]},
            },
            "system",
        ),
        ({"contents": [user({"text": "x"})], "tools": {"functionDeclarations": []}}, "tools"),
        ({"contents": [user({"text": "x"})], "tools": [{"functionDeclarations": [{}]}]}, "name"),
        ({"contents": [user({"text": "x"})], "generationConfig": {"stopSequences": "END"}}, "stop"),
        ({"contents": [user({"text": "x"})], "generationConfig": 3}, "generationConfig"),
    ],
)
def test_malformed_requests_are_rejected(body: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        contents_to_chat(body, "m", False)


def test_unknown_calling_mode_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="mode"):
        chat_of(
            user({"text": "x"}),
            tools=[{"functionDeclarations": [{"name": "f"}]}],
            toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}},
        )


# --- answer ---------------------------------------------------------------------------


def test_parallel_tool_call_answer() -> None:
    completion = load("openai/chat_nonstream_parallel_tool_calls.json")
    answer = chat_to_gemini(completion, "alias")
    assert answer == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {
                                "name": "GetWeatherArgs",
                                "args": {"city": "Edinburgh", "country": "GB", "units": "c"},
                                "id": "call_fdNz3vOBKYgOIpMdWotB9MjY",
                            }
                        },
                        {
                            "functionCall": {
                                "name": "get_stock_price",
                                "args": {"ticker": "AAPL", "exchange": "NASDAQ"},
                                "id": "call_h1DWI1POMJLb0KwIyQHWXD4p",
                            }
                        },
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 149,
            "candidatesTokenCount": 60,
            "totalTokenCount": 209,
        },
        "modelVersion": "alias",
        "responseId": "ABfvyvfNWKcl7Ohqos4UFrmMs1v4C",
    }
    genai_types().GenerateContentResponse.model_validate(answer)


def test_the_answers_call_ids_come_back_as_the_same_openai_ids() -> None:
    completion = load("openai/chat_nonstream_parallel_tool_calls.json")
    parts = chat_to_gemini(completion, "alias")["candidates"][0]["content"]["parts"]
    chat = chat_of(user({"text": "x"}), model(*parts))

    def calls(message: dict[str, Any]) -> list[Any]:
        return [
            (c["id"], c["function"]["name"], orjson.loads(c["function"]["arguments"]))
            for c in message["tool_calls"]
        ]

    assert calls(chat["messages"][1]) == calls(completion["choices"][0]["message"])


def test_a_gemini_channels_answer_round_trips() -> None:
    """Gemini upstream -> forward provider -> front door: the client sees Gemini's answer."""
    original = load("gemini/nonstream_text.json")
    completion = convert_answer(orjson.dumps(original), "gemini-2.5-flash").completion
    answer = chat_to_gemini(completion, "gemini-2.5-flash")
    assert answer["candidates"] == original["candidates"]
    assert answer["responseId"] == original["responseId"]
    meta = {k: v for k, v in original["usageMetadata"].items() if k != "promptTokensDetails"}
    assert answer["usageMetadata"] == meta
    genai_types().GenerateContentResponse.model_validate(answer)


def test_signed_call_from_a_gemini_channel_keeps_its_signature() -> None:
    call_id = call_ids.encode(call_ids.synthesize("r", 0, 0), "c2ln+/8=")
    message = {
        "role": "assistant",
        "content": "Let me check.",
        "reasoning_content": "User wants weather.",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "prompt_tokens_details": {"cached_tokens": 40},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    completion = {
        "id": "x",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }
    answer = chat_to_gemini({**completion, "usage": usage}, "alias")
    assert answer["candidates"][0]["content"]["parts"] == [
        {"text": "User wants weather.", "thought": True},
        {"text": "Let me check."},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln+/8="},
    ]
    assert answer["usageMetadata"] == {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "totalTokenCount": 150,
        "cachedContentTokenCount": 40,
        "thoughtsTokenCount": 30,
    }
    genai_types().GenerateContentResponse.model_validate(answer)
    parts = answer["candidates"][0]["content"]["parts"]
    chat = chat_of(user({"text": "x"}), model(*parts))
    sent = build_body(chat, "gemini-3-flash", False)["contents"][1]["parts"]
    assert sent[-1] == {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln+/8="}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "STOP"),
        ("length", "MAX_TOKENS"),
        ("tool_calls", "STOP"),
        ("function_call", "STOP"),
        ("content_filter", "SAFETY"),
        ("weird", "OTHER"),
        (None, "STOP"),
    ],
)
def test_finish_reasons(reason: str | None, expected: str) -> None:
    choice = {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": reason}
    answer = chat_to_gemini({"id": "c", "choices": [choice]}, "alias")
    assert answer["candidates"][0]["finishReason"] == expected


def test_several_choices_refusal_and_broken_arguments() -> None:
    broken = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":'}}
    choices = [
        {"index": 0, "message": {"role": "assistant", "content": None, "refusal": "No."}},
        {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [broken]}},
    ]
    answer = chat_to_gemini({"id": "c", "choices": choices}, "alias")
    assert [c["content"]["parts"] for c in answer["candidates"]] == [
        [{"text": "No."}],
        [{"functionCall": {"name": "f", "args": {}, "id": "call_1"}}],
    ]
    assert [c["index"] for c in answer["candidates"]] == [0, 1]
    assert "usageMetadata" not in answer
    genai_types().GenerateContentResponse.model_validate(answer)


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (418, "INVALID_ARGUMENT"),
        (599, "INTERNAL"),
    ],
)
def test_gemini_error_status_names(status: int, name: str) -> None:
    body = gemini_error(status, {"message": "boom", "type": "x"})
    assert body == {"error": {"code": status, "message": "boom", "status": name}}


def test_upstream_error_fixture_in_gemini_shape() -> None:
    fixture = load("openai/error_400_invalid_request.json")
    body = gemini_error(fixture["status"], fixture["body"]["error"])
    assert body["error"]["message"] == fixture["body"]["error"]["message"]
    errors = pytest.importorskip("google.genai.errors", reason="google-genai is not installed")
    parsed = errors.APIError(400, body)
    assert (parsed.code, parsed.status) == (400, "INVALID_ARGUMENT")
    assert gemini_error(502, {})["error"]["message"] == "upstream error (502)"


def test_burncloud_rejections() -> None:
    assert gemini_rejection(RateLimited("slow down")) == (
        429,
        {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}},
    )
    assert gemini_rejection(ServiceUnavailable("busy"))[1]["error"]["status"] == "UNAVAILABLE"
    assert gemini_rejection(InvalidRequest("bad"))[0] == 400
