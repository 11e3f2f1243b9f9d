"""OpenAI-style usage: every kind read from chat, Responses, image and transcription usage,
and ``TokenUsage.to_openai`` writing every kind back where that parser finds it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openai.types import CompletionUsage
from openai.types.audio.transcription import UsageTokens
from openai.types.images_response import Usage as ImagesUsage
from openai.types.responses import ResponseUsage

from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.usage import token_usage, tool_calls

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVERY_KIND = TokenUsage(
    prompt_tokens=5000,
    completion_tokens=900,
    cached_tokens=1200,
    cache_write_tokens=800,
    reasoning_tokens=300,
    cache_write_1h_tokens=500,
    audio_input_tokens=40,
    audio_output_tokens=60,
    image_input_tokens=258,
    image_output_tokens=100,
    tool_calls=(("web_fetch", 1), ("web_search", 3)),
)


def test_chat_usage_reads_every_detail() -> None:
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "prompt_tokens_details": {
            "cached_tokens": 1024,
            "cache_write_tokens": 512,
            "audio_tokens": 30,
            "image_tokens": 85,
        },
        "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": 50},
    }
    assert token_usage(usage) == TokenUsage(
        prompt_tokens=2006,
        completion_tokens=300,
        cached_tokens=1024,
        cache_write_tokens=512,
        reasoning_tokens=120,
        audio_input_tokens=30,
        image_input_tokens=85,
        audio_output_tokens=50,
    )


def test_dashscope_cache_creation_gives_the_write_and_its_lifetimes() -> None:
    details = {
        "cached_tokens": 0,
        "cache_creation_input_tokens": 1605,
        "cache_type": "ephemeral",
        "cache_creation": {"ephemeral_5m_input_tokens": 1605},
    }
    usage = token_usage({"prompt_tokens": 1618, "prompt_tokens_details": details})
    assert usage is not None
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (1605, 0)
    details["cache_creation"] = {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 1600}
    usage = token_usage({"prompt_tokens": 1618, "prompt_tokens_details": details})
    assert usage is not None and usage.cache_write_1h_tokens == 1600


def test_deepseeks_cache_hit_field_counts_as_cached() -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "prompt_cache_hit_tokens": 100}
    assert token_usage(usage) == TokenUsage(120, 30, cached_tokens=100)


def test_server_tool_use_counts_calls_by_kind_without_zeros() -> None:
    assert tool_calls({"web_search_requests": 2, "web_fetch_requests": 0}) == (("web_search", 2),)
    assert tool_calls({"b_requests": 1, "a_requests": 4, "requests": 9, "other": 3}) == (
        ("a", 4),
        ("b", 1),
    )
    assert tool_calls(None) == () and tool_calls([1]) == ()


def test_responses_usage_reads_cache_and_reasoning() -> None:
    usage = ResponseUsage.model_validate(
        {
            "input_tokens": 1500,
            "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 64},
            "output_tokens": 400,
            "output_tokens_details": {"reasoning_tokens": 256},
            "total_tokens": 1900,
        }
    )
    assert token_usage(usage.model_dump()) == TokenUsage(
        1500, 400, cached_tokens=1024, cache_write_tokens=64, reasoning_tokens=256
    )


def test_a_recorded_responses_stream_completes_with_its_usage() -> None:
    raw = (FIXTURES / "openai" / "responses_stream_text.sse").read_bytes()
    framer = SSEFramer()
    events = [parse_event(e) for e in [*framer.feed(raw), framer.flush()] if e]
    completed = [e for e in events if e is not None and e.event == "response.completed"]
    (last,) = completed
    usage = orjson.loads(last.data)["response"]["usage"]
    assert token_usage(usage) == TokenUsage(278, 9)


def test_image_generation_output_is_image_tokens() -> None:
    given = {"text_tokens": 40, "image_tokens": 10}
    usage = ImagesUsage.model_validate(
        {
            "input_tokens": 50,
            "input_tokens_details": given,
            "output_tokens": 4160,
            "total_tokens": 4210,
        }
    )
    assert token_usage(usage.model_dump(exclude_none=True)) == TokenUsage(
        50, 4160, image_input_tokens=10, image_output_tokens=4160
    )
    split = usage.model_dump() | {
        "output_tokens_details": {"image_tokens": 4096, "text_tokens": 64}
    }
    parsed = token_usage(split)
    assert parsed is not None and parsed.image_output_tokens == 4096


def test_transcription_usage_reads_its_audio_input() -> None:
    usage = UsageTokens.model_validate(
        {
            "type": "tokens",
            "input_tokens": 120,
            "input_token_details": {"audio_tokens": 110, "text_tokens": 10},
            "output_tokens": 30,
            "total_tokens": 150,
        }
    )
    assert token_usage(usage.model_dump()) == TokenUsage(120, 30, audio_input_tokens=110)


@pytest.mark.parametrize(
    "usage", [None, [], "12", {}, {"total_tokens": 5}, {"type": "duration", "seconds": 3}]
)
def test_no_token_count_is_no_usage(usage: object) -> None:
    assert token_usage(usage) is None


@pytest.mark.parametrize(
    ("value", "tokens"), [(-3, 0), (True, 0), ("7", 0), (None, 0), (1e3, 1000)]
)
def test_odd_counts_are_read_as_whole_non_negative_numbers(value: object, tokens: int) -> None:
    usage = token_usage({"prompt_tokens": value, "completion_tokens": 2})
    assert usage == TokenUsage(tokens, 2)


def test_an_ordinary_usage_reads_as_openai_writes_it() -> None:
    out = TokenUsage(14, 30, cached_tokens=2, reasoning_tokens=5).to_openai()
    assert out == {
        "prompt_tokens": 14,
        "completion_tokens": 30,
        "total_tokens": 44,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    CompletionUsage.model_validate(out)


def test_every_kind_survives_openai_format() -> None:
    out = EVERY_KIND.to_openai()
    CompletionUsage.model_validate(out)  # still what the OpenAI SDK reads
    assert out["prompt_tokens_details"]["audio_tokens"] == 40
    assert out["completion_tokens_details"]["image_tokens"] == 100
    assert out["prompt_tokens_details"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 300,
        "ephemeral_1h_input_tokens": 500,
    }
    assert out["server_tool_use"] == {"web_fetch_requests": 1, "web_search_requests": 3}
    assert token_usage(orjson.loads(orjson.dumps(out))) == EVERY_KIND
