"""Whole Gemini answers as OpenAI chat.completion objects (PROTOCOLS.md 4.3, 8.4, 9.1)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openai.types.chat import ChatCompletion

from burncloud.errors import UpstreamError
from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini import GeminiProvider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"


def answer(data: dict | bytes, model: str = "my-gemini"):
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    result = GeminiProvider().chat_answer(raw, model)
    ChatCompletion.model_validate(result.completion)
    return result


def candidate(parts: list[dict], reason: str | None = "STOP", index: int = 0) -> dict:
    out = {"content": {"role": "model", "parts": parts}, "index": index}
    if reason:
        out["finishReason"] = reason
    return out


def test_recorded_text_answer_with_thinking_usage() -> None:
    result = answer((FIXTURES / "nonstream_text.json").read_bytes())
    completion = result.completion
    assert completion["id"] == "chatcmpl-FugfaZasF6ra2roP_9i9KQ"
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "my-gemini"
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert result.usage == TokenUsage(prompt_tokens=3, completion_tokens=19, reasoning_tokens=17)
    assert completion["usage"]["total_tokens"] == 22  # the recorded totalTokenCount


def test_function_calls_become_tool_calls_with_stable_ids() -> None:
    data = {
        "candidates": [
            candidate(
                [
                    {"text": "Checking."},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": "c2ln",
                    },
                    {"functionCall": {"name": "get_time", "args": {"tz": "CET"}, "id": "fc-7"}},
                ]
            )
        ],
        "responseId": "resp1",
    }
    first, second = answer(data).completion, answer(data).completion
    message = first["choices"][0]["message"]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] == "Checking."
    calls = message["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"name": "get_time", "arguments": '{"tz":"CET"}'},
    ]
    assert calls[0]["id"].startswith("call_") and calls[0]["id"].endswith("__thought__c2ln")
    assert calls[1]["id"] == "fc-7"
    assert calls == second["choices"][0]["message"]["tool_calls"]


def test_tool_calls_only_has_null_content_and_thoughts_are_reasoning() -> None:
    parts = [
        {"text": "Let me think.", "thought": True},
        {"functionCall": {"name": "f", "args": {}}},
    ]
    message = answer({"candidates": [candidate(parts)]}).completion["choices"][0]["message"]
    assert message["content"] is None
    assert message["reasoning_content"] == "Let me think."


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
    ],
)
def test_finish_reason_mapping(reason: str, expected: str) -> None:
    data = {"candidates": [candidate([{"text": "x"}], reason)]}
    assert answer(data).completion["choices"][0]["finish_reason"] == expected


def test_blocked_prompt_is_an_empty_content_filter_choice() -> None:
    data = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    result = answer(data)
    assert result.completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": "content_filter",
        }
    ]
    assert result.usage == TokenUsage(prompt_tokens=7, completion_tokens=0)


def test_usage_counts_cache_tool_prompt_and_thoughts() -> None:
    meta = {
        "promptTokenCount": 120,
        "cachedContentTokenCount": 100,
        "toolUsePromptTokenCount": 5,
        "candidatesTokenCount": 25,
        "thoughtsTokenCount": 310,
        "totalTokenCount": 460,
    }
    result = answer({"candidates": [candidate([{"text": "ok"}])], "usageMetadata": meta})
    assert result.usage == TokenUsage(
        prompt_tokens=125, completion_tokens=335, cached_tokens=100, reasoning_tokens=310
    )
    assert result.completion["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 335,
        "total_tokens": 460,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 310},
    }


def test_several_candidates_become_several_choices() -> None:
    data = {"candidates": [candidate([{"text": "a"}]), candidate([{"text": "b"}], "MAX_TOKENS", 1)]}
    choices = answer(data).completion["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]


def test_no_usage_metadata_means_no_usage() -> None:
    result = answer({"candidates": [candidate([{"text": "a"}])]})
    assert result.usage is None and "usage" not in result.completion
    assert result.completion["id"].startswith("chatcmpl-")


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"error": {"code": 500, "message": "boom"}}']
)
def test_unreadable_answers_are_upstream_errors(raw: bytes) -> None:
    with pytest.raises(UpstreamError):
        GeminiProvider().chat_answer(raw, "m")
