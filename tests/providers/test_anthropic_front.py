"""Anthropic front door helpers: Messages request -> OpenAI, OpenAI answer -> Message, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.types import Message

from burncloud.errors import (
    BurncloudError,
    InsufficientQuota,
    InvalidRequest,
    InvalidToken,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.anthropic.front.answer import chat_to_message
from burncloud.providers.anthropic.front.errors import anthropic_error
from burncloud.providers.anthropic.front.request import messages_to_chat
from burncloud.providers.anthropic.request import build_body
from burncloud.providers.base import TokenUsage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
PNG = "iVBORw0KGgo"

# The request of PROTOCOLS.md 3.2.
MESSAGES_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-20250514",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image? Also get Paris weather."},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A",
                    "content": '{"temp_c":18}',
                    "is_error": False,
                }
            ],
        },
    ],
    "tools": [
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": False},
    "stop_sequences": ["\n\nHuman:"],
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 40,
    "stream": True,
    "metadata": {"user_id": "user-123"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
}


def test_protocols_example_request() -> None:
    chat = messages_to_chat(MESSAGES_REQUEST)
    assert chat["messages"] == [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image? Also get Paris weather."},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_01A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01A", "content": '{"temp_c":18}'},
    ]
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": MESSAGES_REQUEST["tools"][0]["input_schema"],
            },
        }
    ]
    assert chat["tool_choice"] == "auto" and "parallel_tool_calls" not in chat
    assert (chat["max_tokens"], chat["temperature"], chat["top_p"]) == (1024, 0.5, 0.9)
    assert chat["stop"] == ["\n\nHuman:"] and chat["user"] == "user-123"
    assert chat["reasoning_effort"] == "low" and "top_k" not in chat
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert "reasoning_effort" not in messages_to_chat(MESSAGES_REQUEST, map_thinking=False)


def test_round_trip_through_openai_format_keeps_the_conversation() -> None:
    chat = messages_to_chat(MESSAGES_REQUEST)
    back = build_body(chat, MESSAGES_REQUEST["model"], True, {})
    assert back["messages"] == [
        *MESSAGES_REQUEST["messages"][:2],
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": '{"temp_c":18}'}
            ],
        },
    ]
    assert back["system"] == "You are terse."
    assert back["tools"] == MESSAGES_REQUEST["tools"]
    for key in ("max_tokens", "temperature", "top_p", "stop_sequences", "metadata", "stream"):
        assert back[key] == MESSAGES_REQUEST[key], key


def test_tool_results_come_first_and_tool_images_follow_as_user_content() -> None:
    turn = {
        "role": "user",
        "content": [
            {"type": "text", "text": "here you go"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "is_error": True,
                "content": [
                    {"type": "text", "text": "failed"},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            },
            {"type": "tool_result", "tool_use_id": "toolu_2"},
        ],
    }
    chat = messages_to_chat({"model": "m", "max_tokens": 5, "messages": [turn]})
    assert chat["messages"] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: failed"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "here you go"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            ],
        },
    ]


def test_thinking_blocks_server_tools_and_forced_tools() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                ],
            },
        ],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"name": "f", "input_schema": {"type": "object"}},
        ],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 20000},
    }
    chat = messages_to_chat(body)
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    assert [t["function"]["name"] for t in chat["tools"]] == ["f"]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["parallel_tool_calls"] is False
    assert chat["reasoning_effort"] == "high"
    assert "stream" not in chat and "stream_options" not in chat


def test_a_system_turn_mid_conversation_stays_a_system_message_at_its_place() -> None:
    """Claude Code's ``per-turn-control`` / ``mid-conversation-system`` betas: a ``system``
    turn after the first user turn, as a string or as text blocks (with cache_control)."""
    chat = messages_to_chat(
        {
            "model": "m",
            "system": [{"type": "text", "text": "top", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "system",
                    "content": [
                        {"type": "text", "text": "# Environment", "cache_control": {"type": "x"}},
                        {"type": "text", "text": "cwd: /tmp"},
                    ],
                },
                {"role": "assistant", "content": "hello"},
                {"role": "system", "content": "later"},
                {"role": "system", "content": ""},
            ],
        }
    )
    assert chat["messages"] == [
        {"role": "system", "content": "top"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "# Environment\n\ncwd: /tmp"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": "later"},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
        {"model": "m", "messages": [{"role": "system", "content": [{"type": "image"}]}]},
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        {
            "model": "m",
            "system": [{"type": "image"}],
            "messages": [{"role": "user", "content": "x"}],
        },
    ],
)
def test_malformed_messages_requests_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        messages_to_chat(body)


def test_openai_answer_with_parallel_tool_calls_becomes_a_message() -> None:
    completion = orjson.loads(
        (FIXTURES / "openai_chat_nonstream_parallel_tool_calls.json").read_bytes()
    )
    message = Message.model_validate(chat_to_message(completion, "claude-alias"))
    assert message.id == "msg_chatcmpl-ABfvyvfNWKcl7Ohqos4UFrmMs1v4C"
    assert message.model == "claude-alias" and message.stop_reason == "tool_use"
    assert [(b.type, b.id, b.name, b.input) for b in message.content] == [
        (
            "tool_use",
            "call_fdNz3vOBKYgOIpMdWotB9MjY",
            "GetWeatherArgs",
            {"city": "Edinburgh", "country": "GB", "units": "c"},
        ),
        (
            "tool_use",
            "call_h1DWI1POMJLb0KwIyQHWXD4p",
            "get_stock_price",
            {"ticker": "AAPL", "exchange": "NASDAQ"},
        ),
    ]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (149, 60)


def test_anthropic_answer_round_trips_through_openai_format() -> None:
    raw = (FIXTURES / "anthropic_nonstream_tool_use.json").read_bytes()
    original = orjson.loads(raw)
    original["usage"]["cache_read_input_tokens"] = 300
    original["usage"]["cache_creation_input_tokens"] = 20
    original["usage"]["cache_creation"]["ephemeral_5m_input_tokens"] = 20
    original["content"].insert(0, {"type": "thinking", "thinking": "Recall.", "signature": ""})
    answer = AnthropicProvider(clock=lambda: 0).chat_answer(orjson.dumps(original), "alias")
    message = chat_to_message(answer.completion, "alias", answer.usage)
    Message.model_validate(message)
    assert message["content"] == original["content"]
    assert message["stop_reason"] == "tool_use"
    usage = original["usage"]
    assert message["usage"] == {k: usage[k] for k in message["usage"]}
    assert chat_to_message(answer.completion, "alias")["usage"]["cache_read_input_tokens"] == 300


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reason_to_stop_reason(finish: str | None, stop: str) -> None:
    completion = {"id": "x", "choices": [{"message": {"content": "hi"}, "finish_reason": finish}]}
    message = chat_to_message(completion, "m", TokenUsage(3, 1))
    assert message["stop_reason"] == stop
    assert message["content"] == [{"type": "text", "text": "hi"}]


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error"),
        (RequestTooLarge("big"), 413, "request_too_large"),
        (InvalidToken("who"), 401, "authentication_error"),
        (InsufficientQuota("broke"), 402, "billing_error"),
        (PermissionDenied("no"), 403, "permission_error"),
        (ModelNotFound("model: x"), 404, "not_found_error"),
        (RateLimited("slow down"), 429, "rate_limit_error"),
        (ServiceUnavailable("busy"), 529, "overloaded_error"),
        (UpstreamError("broken"), 502, "api_error"),
        (BurncloudError("oops"), 500, "api_error"),
    ],
)
def test_errors_in_anthropic_shape(error: BurncloudError, status: int, kind: str) -> None:
    assert anthropic_error(error) == (
        status,
        {"type": "error", "error": {"type": kind, "message": error.message}},
    )
