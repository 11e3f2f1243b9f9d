"""Anthropic front door: an OpenAI ``chat.completion`` -> an Anthropic message (PROTOCOLS 8.6).

Usage goes back the way Anthropic counts it: ``input_tokens`` is the uncached part, cache
reads and writes are separate fields (the write split by lifetime in ``cache_creation``),
server-side tool calls are in ``server_tool_use`` and reasoning in ``output_tokens_details``,
so a figure that came from Anthropic round-trips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burncloud.protocols.shapes import JSON, object_field
from burncloud.providers.anthropic.messages import tool_input
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.usage import token_usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: Any) -> str:
    """The Anthropic ``stop_reason`` for an OpenAI ``finish_reason`` (unknown: ``end_turn``)."""
    return (
        STOP_REASONS.get(finish_reason, "end_turn")
        if isinstance(finish_reason, str)
        else "end_turn"
    )


def anthropic_usage(usage: TokenUsage) -> JSON:
    """The Anthropic ``usage`` object for normalised ``usage``."""
    uncached = usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens
    one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
    out: JSON = {
        "input_tokens": max(uncached, 0),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        },
        "output_tokens": usage.completion_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if usage.tool_calls:
        out["server_tool_use"] = {f"{kind}_requests": n for kind, n in usage.tool_calls}
    return out


def chat_to_message(completion: JSON, model: str, usage: TokenUsage | None = None) -> JSON:
    """The Anthropic message for ``completion`` (choice 0), answered as ``model``.

    ``usage`` overrides the completion's own ``usage`` (e.g. a provider's normalised figure).
    """
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = object_field(choice, "message")
    if usage is None:
        usage = token_usage(completion.get("usage"))
    return {
        "id": "msg_" + str(completion.get("id") or "burncloud"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(message),
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(usage or TokenUsage(0, 0)),
    }


def content_blocks(message: Mapping[str, Any]) -> list[JSON]:
    """Anthropic content blocks for an OpenAI assistant message: thinking, text, tool uses."""
    blocks: list[JSON] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content") or message.get("refusal")
    if isinstance(text, str) and text:
        blocks.append({"type": "text", "text": text})
    for position, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{position}",
                "name": function.get("name") or "",
                "input": tool_input(function.get("arguments")),
            }
        )
    return blocks
