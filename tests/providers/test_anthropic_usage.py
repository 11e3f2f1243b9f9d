"""Anthropic usage: the cache write's lifetimes, thinking tokens and server tool calls, read
from a message, merged across a stream's events, and written back by the front door."""

from __future__ import annotations

from typing import Any

from anthropic.types import Usage

from burncloud.providers.anthropic.front.answer import anthropic_usage
from burncloud.providers.anthropic.response import merge_usage, token_usage
from burncloud.providers.base import TokenUsage

FULL = {
    "input_tokens": 13,
    "cache_creation_input_tokens": 3000,
    "cache_read_input_tokens": 1111,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    "output_tokens": 637,
    "output_tokens_details": {"thinking_tokens": 400},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
}


def test_every_kind_of_a_message_usage_is_read() -> None:
    Usage.model_validate(FULL)  # the SDK's own shape
    assert token_usage(FULL) == TokenUsage(
        prompt_tokens=13 + 3000 + 1111,
        completion_tokens=637,
        cached_tokens=1111,
        cache_write_tokens=3000,
        cache_write_1h_tokens=2000,
        reasoning_tokens=400,
        tool_calls=(("web_fetch", 1), ("web_search", 2)),
    )


def test_a_split_without_its_total_still_counts_as_written() -> None:
    usage = {"input_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": 50}}
    assert token_usage(usage) == TokenUsage(51, 0, cache_write_tokens=50, cache_write_1h_tokens=50)


def test_the_latest_value_of_each_field_wins_and_splits_are_kept() -> None:
    merged: dict[str, Any] = {}
    start = {key: value for key, value in FULL.items() if key != "server_tool_use"}
    merge_usage(merged, start | {"output_tokens": 1}, skip_output=True)
    assert "output_tokens" not in merged and "output_tokens_details" not in merged
    delta = {
        "input_tokens": 22397,
        "cache_creation_input_tokens": 3000,
        "output_tokens": 637,
        "server_tool_use": {"web_search_requests": 2},
    }
    merge_usage(merged, delta, skip_output=False)
    merge_usage(merged, {"server_tool_use": {"web_fetch_requests": 1}}, skip_output=False)
    assert token_usage(merged) == TokenUsage(
        prompt_tokens=22397 + 3000 + 1111,
        completion_tokens=637,
        cached_tokens=1111,
        cache_write_tokens=3000,
        cache_write_1h_tokens=2000,
        tool_calls=(("web_fetch", 1), ("web_search", 2)),
    )


def test_merging_ignores_what_is_not_usage() -> None:
    merged: dict[str, Any] = {"input_tokens": 5}
    merge_usage(merged, None, skip_output=False)
    merge_usage(merged, {"input_tokens": True, "service_tier": "standard", "speed": 3}, False)
    assert merged == {"input_tokens": 5}


def test_the_front_door_writes_every_kind_back() -> None:
    written = anthropic_usage(token_usage(FULL))
    Usage.model_validate(written)
    assert written == FULL


def test_an_openai_figure_gets_a_five_minute_split() -> None:
    written = anthropic_usage(TokenUsage(100, 7, cached_tokens=60, cache_write_tokens=30))
    assert written == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 7,
    }
