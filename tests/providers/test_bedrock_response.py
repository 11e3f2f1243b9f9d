from __future__ import annotations

from pathlib import Path

import botocore.session
import orjson
import pytest
from openai.types.chat import ChatCompletion

from burncloud.errors import (
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.bedrock.response import finish_reason

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
PROVIDER = BedrockProvider(clock=lambda: 1_700_000_000.5, make_id=lambda: "chatcmpl-test")


def answer_of(data: dict):
    result = PROVIDER.chat_answer(orjson.dumps(data), "my-claude")
    ChatCompletion.model_validate(result.completion)
    return result


def test_recorded_claude_answer_converts() -> None:
    raw = (FIXTURES / "bedrock_converse_nonstream_claude.json").read_bytes()
    result = PROVIDER.chat_answer(raw, "my-claude")
    completion = ChatCompletion.model_validate(result.completion)
    assert completion.id == "chatcmpl-test"
    assert completion.created == 1_700_000_000
    assert completion.model == "my-claude"
    assert completion.choices[0].message.content.startswith("The capital of France is **Paris**.")
    assert completion.choices[0].finish_reason == "stop"
    assert result.usage == TokenUsage(prompt_tokens=21, completion_tokens=69)
    assert result.completion["usage"]["total_tokens"] == 90


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, TokenUsage(prompt_tokens=1324, completion_tokens=5, cache_write_tokens=1322)),
        (1, TokenUsage(prompt_tokens=1324, completion_tokens=5, cached_tokens=1322)),
    ],
)
def test_recorded_cache_write_and_read_usage(index: int, expected: TokenUsage) -> None:
    recorded = orjson.loads(
        (FIXTURES / "bedrock_converse_nonstream_cache_write_then_read.json").read_bytes()
    )[index]["body"]
    result = answer_of(recorded)
    assert result.usage == expected
    usage = result.completion["usage"]
    assert usage["total_tokens"] == recorded["usage"]["totalTokens"] == 1329
    assert usage["prompt_tokens_details"]["cached_tokens"] == expected.cached_tokens


def test_legacy_cache_count_names_are_read_when_the_new_ones_are_absent() -> None:
    usage = {"inputTokens": 2, "outputTokens": 1, "cacheReadInputTokenCount": 7}
    body = {"output": {"message": {"content": [{"text": "x"}]}}, "usage": usage}
    assert answer_of(body).usage == TokenUsage(
        prompt_tokens=9, completion_tokens=1, cached_tokens=7
    )


def test_cache_details_give_the_one_hour_part_of_the_writes() -> None:
    """botocore's TokenUsage.cacheDetails: writes by TTL, "1h" listed before "5m"."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    assert set(model.shape_for("CacheDetail").members) == {"ttl", "inputTokens"}
    assert "cacheDetails" in model.shape_for("TokenUsage").members
    details = [{"ttl": "1h", "inputTokens": 1800}, {"ttl": "5m", "inputTokens": 200}, "x"]
    usage = {"inputTokens": 4, "outputTokens": 9, "cacheWriteInputTokens": 2000}
    body = {"output": {"message": {"content": [{"text": "x"}]}}, "usage": usage}
    body["usage"] |= {"cacheDetails": details}
    assert answer_of(body).usage == TokenUsage(
        prompt_tokens=2004, completion_tokens=9, cache_write_tokens=2000, cache_write_1h_tokens=1800
    )


def test_text_reasoning_and_tool_use_blocks_convert() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "reasoningContent": {
                            "reasoningText": {"text": "Need weather.", "signature": "E"}
                        }
                    },
                    {"text": "Checking."},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_02",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    },
                    {"toolUse": {"toolUseId": "tooluse_03", "name": "get_time", "input": {}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 3, "outputTokens": 45, "totalTokens": 48},
    }
    choice = answer_of(body).completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Checking."
    assert message["reasoning_content"] == "Need weather."
    assert message["tool_calls"] == [
        {
            "id": "tooluse_02",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {
            "id": "tooluse_03",
            "type": "function",
            "function": {"name": "get_time", "arguments": "{}"},
        },
    ]


def test_a_tool_only_answer_has_null_content() -> None:
    block = {"toolUse": {"toolUseId": "t", "name": "f", "input": {"a": 1}}}
    body = {"output": {"message": {"content": [block]}}, "stopReason": "tool_use"}
    result = answer_of(body)
    assert result.completion["choices"][0]["message"]["content"] is None
    assert result.usage is None
    assert "usage" not in result.completion


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "stop"),
        ("malformed_tool_use", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason, expected: str) -> None:
    assert finish_reason(stop_reason) == expected


@pytest.mark.parametrize("raw", [b"not json", b"{}", b'{"output": {"message": null}}'])
def test_an_unreadable_answer_is_an_upstream_error(raw: bytes) -> None:
    with pytest.raises(UpstreamError):
        PROVIDER.chat_answer(raw, "m")


def test_recorded_400_maps_to_invalid_request_with_its_message() -> None:
    recorded = orjson.loads((FIXTURES / "bedrock_converse_stream_error_400.json").read_bytes())
    error = PROVIDER.error(400, orjson.dumps(recorded["body"]), None)
    assert type(error) is InvalidRequest
    assert error.status == 400
    assert error.message == "The provided model identifier is invalid."


@pytest.mark.parametrize("status", [401, 403])
def test_credential_failures_are_upstream_errors_that_leak_nothing(status: int) -> None:
    body = {
        "message": "User: arn:aws:iam::123456789012:user/gw is not authorized (AKIDEXAMPLE)",
        "__type": "AccessDeniedException",
    }
    error = PROVIDER.error(status, orjson.dumps(body), None)
    assert type(error) is UpstreamError
    assert error.status == 502
    assert "AccessDeniedException" in error.message
    assert "123456789012" not in error.message
    assert "AKIDEXAMPLE" not in error.message


def test_throttling_is_rate_limited_with_retry_after() -> None:
    body = {"message": "Too many requests, please wait before trying again."}
    error = PROVIDER.error(429, orjson.dumps(body), "7")
    assert type(error) is RateLimited
    assert error.headers == {"Retry-After": "7"}
    assert error.message == body["message"]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"message": "quota", "__type": "ServiceQuotaExceededException"}, RateLimited),
        (404, {"message": "no such model"}, ModelNotFound),
        (408, {"message": "timed out"}, ServiceUnavailable),
        (413, {"message": "too big"}, RequestTooLarge),
        (424, {"message": "model failed", "originalStatusCode": 500}, UpstreamError),
        (500, {"message": "internal"}, UpstreamError),
        (503, {"message": "unavailable"}, ServiceUnavailable),
        (418, {"message": "teapot"}, InvalidRequest),
        (502, {}, UpstreamError),
    ],
)
def test_error_statuses_and_exceptions_map(status: int, body: dict, kind: type) -> None:
    error = PROVIDER.error(status, orjson.dumps(body), None)
    assert type(error) is kind
    assert error.message


def test_exception_type_with_namespace_is_read() -> None:
    body = {"message": "slow down", "__type": "com.amazon.coral#ThrottlingException"}
    assert type(PROVIDER.error(400, orjson.dumps(body), None)) is RateLimited


def test_arns_and_account_ids_are_scrubbed_from_messages() -> None:
    body = {
        "message": "Model arn:aws:bedrock:us-east-1:123456789012:foo/bar not found in 123456789012"
    }
    error = PROVIDER.error(404, orjson.dumps(body), None)
    assert "123456789012" not in error.message
    assert "arn:aws" not in error.message


def test_a_non_json_error_body_is_not_echoed() -> None:
    error = PROVIDER.error(502, b"<html>proxy at 10.0.0.1 failed</html>", None)
    assert type(error) is UpstreamError
    assert error.message == "Bedrock returned HTTP 502"


def converse_answer(*blocks: dict) -> dict:
    message = {"role": "assistant", "content": list(blocks)}
    return {"output": {"message": message}, "stopReason": "end_turn", "usage": {}}


def test_the_recorded_claude_answer_keeps_its_signed_reasoning_for_the_next_turn() -> None:
    raw = (FIXTURES / "bedrock_converse_nonstream_claude_thinking_tool_loop.json").read_bytes()
    recorded = orjson.loads(raw)[0]["body"]
    reasoning = recorded["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    message = answer_of(recorded).completion["choices"][0]["message"]
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": reasoning["text"], "signature": reasoning["signature"]}
    ]
    assert message["reasoning_content"] == reasoning["text"]
    assert message["content"].startswith("I'll need to check which country")
    assert message["tool_calls"][0]["id"] == "tooluse_4Lo0VS-FT5yev_-skOCQdw"


def test_redacted_reasoning_is_kept_as_bedrock_sent_it() -> None:
    body = converse_answer(
        {"reasoningContent": {"redactedContent": "RXR3Q0Nr"}},
        {"reasoningContent": {"reasoningText": {"text": "Then this.", "signature": "Sig"}}},
        {"text": "Done."},
    )
    message = answer_of(body).completion["choices"][0]["message"]
    assert message["thinking_blocks"] == [
        {"type": "redacted_thinking", "data": "RXR3Q0Nr"},
        {"type": "thinking", "thinking": "Then this.", "signature": "Sig"},
    ]
    assert message["reasoning_content"] == "Then this."


def test_unsigned_reasoning_of_other_models_is_reasoning_content_only() -> None:
    body = converse_answer(
        {"reasoningContent": {"reasoningText": {"text": "DeepSeek thinks."}}}, {"text": "Hi."}
    )
    message = answer_of(body).completion["choices"][0]["message"]
    assert message["reasoning_content"] == "DeepSeek thinks."
    assert "thinking_blocks" not in message
