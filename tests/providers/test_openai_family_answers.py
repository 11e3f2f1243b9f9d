"""OpenAI, OpenAI-compatible, Azure and Qwen providers: whole answers, errors, embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion

from burncloud.errors import (
    InvalidRequest,
    ModelNotFound,
    NotFound,
    RateLimited,
    RequestTooLarge,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.providers.azure import AzureProvider
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.qwen import QwenProvider

FIXTURES = Path(__file__).parent.parent / "fixtures"
KEY = "sk-proj-SECRETkey0123456789abcdef"
DASHSCOPE = "https://dashscope.aliyuncs.com/compatible-mode/v1"
RESOURCE = "https://contoso.openai.azure.com"


@dataclass(frozen=True, slots=True)
class Channel:
    base_url: str
    key: str = KEY
    config: Mapping[str, str] = field(default_factory=dict)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sent(request_body: bytes) -> dict:
    return orjson.loads(request_body)


def test_openai_answer_is_returned_unchanged_with_its_usage() -> None:
    raw = fixture("openai/chat_nonstream_parallel_tool_calls.json")
    answer = OpenAIProvider().chat_answer(raw, "gpt-4o")
    assert answer.completion == orjson.loads(raw)
    calls = ChatCompletion.model_validate(answer.completion).choices[0].message.tool_calls
    assert [call.function.name for call in calls or ()] == ["GetWeatherArgs", "get_stock_price"]
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (149, 60)


def test_usage_reads_cached_and_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 40,
        "total_tokens": 160,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 25},
    }
    raw = orjson.dumps({"id": "x", "object": "chat.completion", "choices": [], "usage": usage})
    answer = OpenAIProvider().chat_answer(raw, "o3")
    assert answer.usage is not None
    assert answer.usage.cached_tokens == 100
    assert answer.usage.reasoning_tokens == 25
    assert answer.usage.to_openai()["total_tokens"] == 160


def test_azure_answer_loses_filter_annotations_but_keeps_the_answer() -> None:
    answer = AzureProvider().chat_answer(fixture("azure/chat_nonstream.json"), "gpt-4o")
    assert "prompt_filter_results" not in answer.completion
    choice = answer.completion["choices"][0]
    assert "content_filter_results" not in choice
    assert choice["message"]["content"] == "The capital of France is **Paris**."
    assert ChatCompletion.model_validate(answer.completion).choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (14, 9)


def test_qwen_answer_keeps_its_text_and_reads_cached_tokens() -> None:
    answer = QwenProvider().chat_answer(fixture("qwen/compat_nonstream.json"), "qwen-plus")
    assert answer.completion["choices"][0]["message"]["content"].startswith("你好！我是通义千问")
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 65)
    assert answer.usage.cached_tokens == 0
    ChatCompletion.model_validate(answer.completion)


@pytest.mark.parametrize(
    "raw", [b"<html>bad gateway</html>", b"[1, 2]", b'{"error": {"message": "quota"}}']
)
def test_a_200_that_is_not_a_completion_is_an_upstream_error(raw: bytes) -> None:
    with pytest.raises(UpstreamError):
        OpenAIProvider().chat_answer(raw, "gpt-4o")


def _error(status: int, body: object, retry_after: str | None = None, provider=None):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return (provider or OpenAIProvider()).error(status, raw, retry_after)


def test_openai_400_keeps_the_upstream_message() -> None:
    recorded = orjson.loads(fixture("openai/error_400_invalid_request.json"))
    error = _error(recorded["status"], recorded["body"])
    assert isinstance(error, InvalidRequest)
    assert error.status == 400
    assert "does not support 'system' with this model" in error.message


@pytest.mark.parametrize("status", [401, 403])
def test_credential_failures_are_502_without_the_key(status: int) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "invalid_api_key"}}
    error = _error(status, body)
    assert isinstance(error, UpstreamError)
    assert error.status == 502
    assert KEY not in error.message
    assert "sk-" not in error.message


def test_rate_limit_keeps_retry_after() -> None:
    body = {"error": {"message": "Rate limit reached", "type": "requests"}}
    error = _error(429, body, retry_after="7")
    assert isinstance(error, RateLimited)
    assert error.status == 429
    assert error.headers == {"Retry-After": "7"}


@pytest.mark.parametrize(
    ("status", "body", "kind", "http"),
    [
        (
            404,
            {"error": {"message": "no such model", "code": "model_not_found"}},
            ModelNotFound,
            404,
        ),
        (404, {"error": {"code": "DeploymentNotFound", "message": "gone"}}, ModelNotFound, 404),
        (404, {"error": {"message": "Resource not found"}}, NotFound, 404),
        (413, {"error": {"message": "too big"}}, RequestTooLarge, 413),
        (500, {"error": {"message": "boom", "type": "server_error"}}, UpstreamError, 502),
        (503, {"error": {"message": "busy"}}, ServiceUnavailable, 503),
        (529, b"overloaded", ServiceUnavailable, 503),
        (502, b"<html>Bad Gateway</html>", UpstreamError, 502),
    ],
)
def test_status_mapping(status, body, kind, http) -> None:
    error = _error(status, body)
    assert type(error) is kind
    assert error.status == http


def test_azure_prompt_filter_is_a_400_naming_the_filter() -> None:
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering a filter.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
    }
    error = _error(400, body, provider=AzureProvider())
    assert isinstance(error, InvalidRequest)
    assert error.status == 400
    assert "content filter" in error.message


def test_qwen_errors_in_openai_and_native_shapes() -> None:
    compat = {
        "error": {
            "code": "data_inspection_failed",
            "message": "Input data may contain inappropriate content.",
            "param": None,
            "type": "data_inspection_failed",
        },
        "request_id": "8c5ee3b8",
    }
    native = {
        "code": "InvalidParameter",
        "message": "Range of top_p should be (0.0, 1.0]",
        "request_id": "d3",
    }
    filtered = _error(400, compat, provider=QwenProvider())
    assert isinstance(filtered, InvalidRequest)
    assert "inappropriate content" in filtered.message
    assert "top_p" in _error(400, native, provider=QwenProvider()).message


def test_key_like_text_in_passed_on_messages_is_masked() -> None:
    body = {"error": {"message": f"bad header for {KEY} and 0123456789abcdef0123456789abcdef"}}
    error = _error(400, body)
    assert KEY not in error.message
    assert "0123456789abcdef0123456789abcdef" not in error.message
    assert "bad header for" in error.message


EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}


@pytest.mark.parametrize(
    ("provider", "channel", "url"),
    [
        (
            OpenAIProvider(),
            Channel("https://api.openai.com/v1"),
            "https://api.openai.com/v1/embeddings",
        ),
        (QwenProvider(), Channel(DASHSCOPE), f"{DASHSCOPE}/embeddings"),
        (
            AzureProvider(),
            Channel(RESOURCE, config={"api_version": "2024-10-21"}),
            f"{RESOURCE}/openai/deployments/emb/embeddings?api-version=2024-10-21",
        ),
        (AzureProvider(), Channel(RESOURCE), f"{RESOURCE}/openai/v1/embeddings"),
    ],
)
def test_embeddings_request_and_answer(provider, channel, url) -> None:
    body = {"model": "alias", "input": ["hello"], "encoding_format": "float", "dimensions": 2}
    request = provider.embeddings_request(channel, body, "emb")
    assert request.url == url
    assert sent(request.body) == {**body, "model": "emb"}
    answer = provider.embeddings_answer(orjson.dumps(EMBEDDINGS), "alias", body)
    assert CreateEmbeddingResponse.model_validate(answer.result).data[0].embedding[0] == 0.0023
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (8, 0)
