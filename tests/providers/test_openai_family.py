"""OpenAI, OpenAI-compatible, Azure and Qwen providers: the upstream requests they build."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson
import pytest

from burncloud.providers.azure import AzureProvider
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.qwen import QwenProvider

KEY = "sk-proj-SECRETkey0123456789abcdef"


@dataclass(frozen=True, slots=True)
class Channel:
    base_url: str
    key: str = KEY
    config: Mapping[str, str] = field(default_factory=dict)


def sent(request_body: bytes) -> dict:
    return orjson.loads(request_body)


RICH_BODY = {
    "model": "my-alias",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in JSON."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_object"},
    "stop": ["END"],
    "temperature": 0.2,
    "top_p": 0.9,
    "max_completion_tokens": 300,
    "reasoning_effort": "low",
    "seed": 7,
}


def test_openai_request_forwards_every_field_with_the_model_replaced() -> None:
    request = OpenAIProvider().chat_request(
        Channel("https://api.openai.com/v1"), RICH_BODY, "gpt-4o", stream=False
    )
    assert request.url == "https://api.openai.com/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert sent(request.body) == {**RICH_BODY, "model": "gpt-4o"}
    assert KEY.encode() not in request.body


def test_openai_stream_request_asks_for_usage_and_keeps_other_stream_options() -> None:
    body = {**RICH_BODY, "stream": True, "stream_options": {"include_obfuscation": False}}
    request = OpenAIProvider().chat_request(
        Channel("https://api.openai.com/v1"), body, "gpt-4o", stream=True
    )
    data = sent(request.body)
    assert data["stream"] is True
    assert data["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert body["stream_options"] == {"include_obfuscation": False}  # caller's dict untouched


def test_non_stream_request_never_carries_stream_options() -> None:
    body = {**RICH_BODY, "stream": False, "stream_options": {"include_usage": True}}
    data = sent(OpenAIProvider().chat_request(Channel("https://x/v1"), body, "m", False).body)
    assert "stream_options" not in data
    assert data["stream"] is False


def test_stream_usage_off_in_config_sends_no_stream_options() -> None:
    channel = Channel("https://vllm.local/v1", config={"stream_usage": "off"})
    body = {"model": "m", "messages": [], "stream": True}
    data = sent(OpenAIProvider("openai-compatible").chat_request(channel, body, "m", True).body)
    assert "stream_options" not in data


def test_openai_account_headers_come_from_config() -> None:
    channel = Channel("https://api.openai.com/v1", config={"organization": "org-1", "project": "p"})
    headers = OpenAIProvider().chat_request(channel, RICH_BODY, "gpt-4o", False).headers
    assert headers["OpenAI-Organization"] == "org-1"
    assert headers["OpenAI-Project"] == "p"


DASHSCOPE = "https://dashscope.aliyuncs.com/compatible-mode/v1"


def _qwen_body(model: str, stream: bool, **extra: object) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return sent(QwenProvider().chat_request(Channel(DASHSCOPE), body, model, stream).body)


def test_qwen_request_goes_to_compatible_mode_with_bearer_key_and_extras() -> None:
    body = {"model": "qwen-plus", "messages": [], "top_k": 20, "enable_search": True}
    request = QwenProvider().chat_request(Channel(DASHSCOPE), body, "qwen-plus", False)
    assert request.url == f"{DASHSCOPE}/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert sent(request.body) == body


@pytest.mark.parametrize(
    ("model", "extra", "expected"),
    [
        ("qwen3-32b", {}, False),  # hybrid open-weight model: thinks by default
        ("qwen-plus", {"enable_thinking": True}, False),  # asked to think without a stream
        ("qwen-plus", {}, None),  # commercial default is not to think: left alone
        ("qwen3-235b-a22b-thinking-2507", {}, None),  # thinking-only: cannot be turned off
        ("qwen3-235b-a22b-instruct-2507", {}, None),  # never thinks
        ("qwq-plus", {}, None),
    ],
)
def test_qwen_non_stream_requests_turn_thinking_off_where_required(
    model: str, extra: dict, expected: bool | None
) -> None:
    assert _qwen_body(model, False, **extra).get("enable_thinking") is expected


def test_qwen_stream_requests_keep_thinking_and_ask_for_usage() -> None:
    data = _qwen_body("qwen3-32b", True, enable_thinking=True, thinking_budget=512)
    assert data["enable_thinking"] is True
    assert data["thinking_budget"] == 512
    assert data["stream_options"] == {"include_usage": True}


RESOURCE = "https://contoso.openai.azure.com"


def _azure(config: dict[str, str], model: str = "gpt-4o", stream: bool = False, base=RESOURCE):
    body = {"model": "alias", "messages": [{"role": "user", "content": "hi"}]}
    return AzureProvider().chat_request(Channel(base, config=config), body, model, stream)


def test_azure_classic_scheme_puts_deployment_and_api_version_in_the_url() -> None:
    request = _azure({"api_version": "2024-10-21"})
    assert request.url == (
        f"{RESOURCE}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == KEY
    assert "Authorization" not in request.headers
    assert sent(request.body)["model"] == "gpt-4o"


@pytest.mark.parametrize(
    ("config", "model", "deployment"),
    [
        ({"deployments": "gpt-4o=prod-4o, gpt-4o-mini=prod-mini"}, "gpt-4o-mini", "prod-mini"),
        ({"deployments": "gpt-4o=prod-4o", "deployment": "fallback"}, "o3", "fallback"),
        ({"deployment": "everything"}, "gpt-4o", "everything"),
        ({}, "gpt-4o", "gpt-4o"),
        ({"deployment": "my dep/1"}, "gpt-4o", "my%20dep%2F1"),
    ],
)
def test_azure_deployment_comes_from_the_config_map(config, model, deployment) -> None:
    request = _azure({**config, "api-version": "2025-01-01-preview"}, model=model)
    assert f"/openai/deployments/{deployment}/chat/completions?" in request.url
    assert request.url.endswith("?api-version=2025-01-01-preview")


@pytest.mark.parametrize(
    ("config", "base", "url"),
    [
        ({}, RESOURCE, f"{RESOURCE}/openai/v1/chat/completions"),
        ({"api_version": "v1"}, RESOURCE + "/", f"{RESOURCE}/openai/v1/chat/completions"),
        (
            {"api_version": "preview"},
            RESOURCE,
            f"{RESOURCE}/openai/v1/chat/completions?api-version=preview",
        ),
        (
            {"api_version": "2024-10-21"},
            RESOURCE + "/openai/v1",
            f"{RESOURCE}/openai/v1/chat/completions",
        ),
    ],
)
def test_azure_v1_scheme_without_a_dated_api_version(config, base, url) -> None:
    request = _azure({**config, "deployment": "prod-4o"}, base=base)
    assert request.url == url
    assert sent(request.body)["model"] == "prod-4o"


def test_azure_streams_ask_for_usage_only_where_the_api_version_knows_it() -> None:
    new = sent(_azure({"api_version": "2024-10-21"}, stream=True).body)
    old = sent(_azure({"api_version": "2024-06-01"}, stream=True).body)
    assert new["stream_options"] == {"include_usage": True}
    assert "stream_options" not in old
    assert old["stream"] is True
