"""Whole Anthropic answers and errors -> OpenAI (PROTOCOLS.md 3.3, 3.5, 8.2, 8.7, 9.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion

from burncloud.errors import (
    BurncloudError,
    InvalidRequest,
    ModelNotFound,
    NotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.base import TokenUsage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
PROVIDER = AnthropicProvider(clock=lambda: 1_735_689_600.7)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    completion = PROVIDER.chat_answer(orjson.dumps(body), "claude-alias").completion
    ChatCompletion.model_validate(completion)
    return completion


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": content,
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def test_recorded_text_and_tool_use_answer() -> None:
    raw = (FIXTURES / "anthropic_nonstream_tool_use.json").read_bytes()
    result = PROVIDER.chat_answer(raw, "claude-alias")
    completion = ChatCompletion.model_validate(result.completion)
    assert completion.id == "chatcmpl-msg_01QAHQ47smZ47jGdCgd1rjE1"
    assert (completion.model, completion.created) == ("claude-alias", 1_735_689_600)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == (
        "I'll check my memory to see if I have information about where you live."
    )
    (call,) = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == (
        "toolu_01YC8RhZeDTZRbb8n1gUFTmb",
        "function",
        "memory",
    )
    assert orjson.loads(call.function.arguments) == {"command": "view", "path": "/memories"}
    assert result.usage == TokenUsage(prompt_tokens=1577, completion_tokens=86)
    assert result.completion["usage"]["total_tokens"] == 1663


def test_cache_reads_and_writes_count_as_prompt_tokens() -> None:
    body = message([{"type": "text", "text": "hi"}])
    body["usage"] = {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1800,
        "output_tokens": 7,
    }
    result = PROVIDER.chat_answer(orjson.dumps(body), "m")
    assert result.usage == TokenUsage(
        prompt_tokens=1912, completion_tokens=7, cached_tokens=1800, cache_write_tokens=100
    )
    details = result.completion["usage"]["prompt_tokens_details"]
    assert details == {"cached_tokens": 1800, "cache_write_tokens": 100}
    assert result.completion["usage"]["total_tokens"] == 1919


def test_text_blocks_join_and_thinking_is_exposed() -> None:
    completion = answer(
        message(
            [
                {"type": "thinking", "thinking": "User wants weather.", "signature": "sig=="},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Let me "},
                {"type": "text", "text": "check."},
            ]
        )
    )
    msg = completion["choices"][0]["message"]
    assert msg["content"] == "Let me check."
    assert msg["reasoning_content"] == "User wants weather."
    assert msg["thinking_blocks"] == [
        {"type": "thinking", "thinking": "User wants weather.", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    assert "tool_calls" not in msg


def test_tool_only_answer_has_null_content() -> None:
    tool = {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}
    msg = answer(message([tool], "tool_use"))["choices"][0]["message"]
    assert msg["content"] is None
    assert msg["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}
    assert answer(message([]))["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons(stop_reason: str, finish: str) -> None:
    choice = answer(message([{"type": "text", "text": "x"}], stop_reason))["choices"][0]
    assert choice["finish_reason"] == finish


def test_a_body_that_is_not_a_message_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        PROVIDER.chat_answer(b"<html>bad gateway</html>", "m")
    with pytest.raises(UpstreamError):
        PROVIDER.chat_answer(b'{"type": "completion"}', "m")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(ServiceUnavailable):
        PROVIDER.chat_answer(orjson.dumps(overloaded), "m")


def error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def test_recorded_404_is_model_not_found() -> None:
    recorded = orjson.loads((FIXTURES / "anthropic_error_404_not_found.json").read_bytes())
    error = PROVIDER.error(recorded["status"], orjson.dumps(recorded["body"]), None)
    assert isinstance(error, ModelNotFound)
    assert (error.status, error.message) == (404, "model: claude-does-not-exist")


@pytest.mark.parametrize(
    ("status", "kind", "cls", "status_out"),
    [
        (400, "invalid_request_error", InvalidRequest, 400),
        (404, "not_found_error", NotFound, 404),
        (413, "request_too_large", RequestTooLarge, 413),
        (422, "invalid_request_error", InvalidRequest, 400),
        (500, "api_error", UpstreamError, 502),
        (504, "timeout_error", UpstreamError, 502),
        (529, "overloaded_error", ServiceUnavailable, 503),
        (503, "overloaded_error", ServiceUnavailable, 503),
    ],
)
def test_error_status_mapping(
    status: int, kind: str, cls: type[BurncloudError], status_out: int
) -> None:
    error = PROVIDER.error(status, error_body(kind, "details here"), None)
    assert type(error) is cls
    assert error.status == status_out
    assert "details here" in error.message


def test_bad_request_keeps_the_upstream_message() -> None:
    text = "messages.1.content.0: tool_result block(s) provided when previous message has none"
    error = PROVIDER.error(400, error_body("invalid_request_error", text), None)
    assert isinstance(error, InvalidRequest) and error.message == text


def test_rate_limit_carries_retry_after() -> None:
    error = PROVIDER.error(429, error_body("rate_limit_error", "Number of requests"), "17")
    assert isinstance(error, RateLimited)
    assert (error.status, error.headers) == (429, {"Retry-After": "17"})
    assert PROVIDER.error(429, b"", None).headers == {}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "authentication_error"), (403, "permission_error"), (402, "billing_error")],
)
def test_channel_account_problems_are_upstream_errors_that_hide_the_details(
    status: int, kind: str
) -> None:
    body = error_body(kind, "invalid x-api-key sk-ant-api03-SECRET for org 1234")
    error = PROVIDER.error(status, body, None)
    assert isinstance(error, UpstreamError) and error.status == 502
    assert "SECRET" not in error.message and "1234" not in error.message
    assert kind in error.message


def test_non_json_error_bodies() -> None:
    assert isinstance(PROVIDER.error(502, b"<html>Bad Gateway</html>", None), UpstreamError)
    assert (
        PROVIDER.error(502, b"<html>Bad Gateway</html>", None).message == "upstream error: HTTP 502"
    )
    assert isinstance(PROVIDER.error(401, b"", None), UpstreamError)
    assert isinstance(PROVIDER.error(418, b"teapot", None), InvalidRequest)
    long = PROVIDER.error(400, error_body("invalid_request_error", "x" * 5000), None)
    assert long.message == "x" * 5000  # the upstream seam masks the key, then cuts
    huge = PROVIDER.error(400, error_body("invalid_request_error", "x" * 100_000), None)
    assert len(huge.message) == 64 * 1024  # only memory is bounded here


def test_recorded_thinking_and_tool_use_answer_keeps_the_signed_block() -> None:
    raw = (FIXTURES / "anthropic_nonstream_thinking_tool_use.json").read_bytes()
    recorded = orjson.loads(raw)
    msg = answer(recorded)["choices"][0]["message"]
    thinking = recorded["content"][0]
    assert msg["thinking_blocks"] == [thinking]
    assert msg["reasoning_content"] == thinking["thinking"]
    assert msg["content"] == recorded["content"][1]["text"]
    (tool_call,) = msg["tool_calls"]
    assert tool_call["id"] == "toolu_01YGzqpRE16Vricda3Aqcejo"
    assert tool_call["function"] == {"name": "get_user_country", "arguments": "{}"}


def test_recorded_web_search_answer_keeps_its_text_and_cites_its_sources() -> None:
    result = PROVIDER.chat_answer(
        (FIXTURES / "anthropic_nonstream_web_search.json").read_bytes(), "claude-alias"
    )
    ChatCompletion.model_validate(result.completion)
    choice = result.completion["choices"][0]
    msg = choice["message"]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in msg  # Anthropic ran the search: not a call for the client
    assert msg["content"].startswith("Based on the search results, here's the weather")
    assert (
        "- Temperature: 66°F with clear skies\n- Winds W at 10 to 20 mph\n\nOverall"
        in (msg["content"])
    )
    assert msg["reasoning_content"].startswith("The user is asking about the weather")
    assert [b["type"] for b in msg["thinking_blocks"]] == ["thinking"]
    cited = [a["url_citation"] for a in msg["annotations"]]
    spans = [(c["url"], msg["content"][c["start_index"] : c["end_index"]]) for c in cited]
    assert spans == [
        (
            "https://www.accuweather.com/en/us/san-francisco/94103/weather-forecast/347629",
            "Temperature: 66°F with clear skies",
        ),
        ("https://www.wunderground.com/weather/us/ca/san-francisco", "Winds W at 10 to 20 mph"),
    ]
    assert msg["annotations"][0]["url_citation"]["title"] == (
        "San Francisco, CA Weather Forecast | AccuWeather"
    )
    assert result.usage is not None and result.usage.tool_calls == (("web_search", 1),)


def test_text_resuming_after_a_server_tool_starts_a_new_paragraph() -> None:
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    cited = {
        "type": "text",
        "text": "It is 18C.",
        "citations": [
            {"type": "web_search_result_location", "url": "https://w.example/", "title": None},
            {"type": "char_location", "cited_text": "x", "document_index": 0},
        ],
    }
    blocks = [{"type": "text", "text": "I'll look it up."}, search, result, cited]
    msg = answer(message(blocks))["choices"][0]["message"]
    assert msg["content"] == "I'll look it up.\n\nIt is 18C."
    (annotation,) = msg["annotations"]
    assert annotation["url_citation"] == {
        "start_index": len("I'll look it up.\n\n"),
        "end_index": len(msg["content"]),
        "url": "https://w.example/",
        "title": "",
    }
    lone = answer(message([search, result, {"type": "text", "text": "Found it."}]))
    assert lone["choices"][0]["message"]["content"] == "Found it."
