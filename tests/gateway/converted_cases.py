"""The cases the converted-path tests share: each kind's recorded answers, and how to
read what its fake was sent."""

from __future__ import annotations

from typing import Any

from openai.types.responses import FunctionToolParam

from tests.gateway.recorded_answers import (
    Recorded,
    anthropic_answer,
    anthropic_stream,
    bedrock_answer,
    bedrock_stream,
    chat_answer,
    chat_stream,
    gemini_answer,
    gemini_stream,
)
from tests.gateway.responses_harness import cost

QUESTION = "What is the capital of France?"
KINDS = ("anthropic", "gemini", "bedrock", "qwen")
AFTER_TOOL = "anthropic_nonstream_after_tool_result.json"
THINKING_TOOL_USE = "anthropic_nonstream_thinking_tool_use.json"  # signed thinking + tool_use
# The fixture each kind's fake answers with, and what that recording says.
WHOLE: dict[str, tuple[dict[str, str], Recorded]] = {
    "anthropic": ({"answer_fixture": AFTER_TOOL}, anthropic_answer(AFTER_TOOL)),
    "gemini": ({"answer_fixture": "nonstream_text.json"}, gemini_answer("nonstream_text.json")),
    "bedrock": (
        {"answer_fixture": "bedrock_converse_nonstream_claude.json"},
        bedrock_answer("bedrock_converse_nonstream_claude.json"),
    ),
    "qwen": ({}, chat_answer("qwen", "compat_nonstream.json")),
}
STREAMED: dict[str, tuple[dict[str, str], Recorded]] = {
    "anthropic": (
        {"stream_fixture": "anthropic_stream_basic_text.sse"},
        anthropic_stream("anthropic_stream_basic_text.sse"),
    ),
    "gemini": (
        {"stream_fixture": "stream_crlf_usage_changes.sse"},
        gemini_stream("stream_crlf_usage_changes.sse"),
    ),
    "bedrock": (
        {"stream_fixture": "bedrock_converse_stream_nova_text"},
        bedrock_stream("bedrock_converse_stream_nova_text"),
    ),
    "qwen": ({}, chat_stream("qwen", "compat_stream_with_usage.sse")),
}
MEMORY_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "memory",
    "description": "Read the user's memories.",
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "path": {"type": "string"}},
    },
    "strict": None,
}


def sent(fake: Any, index: int = -1) -> dict[str, Any]:
    """The body a fake accepted (the Qwen fake records whole requests)."""
    request = fake.requests[index]
    return request if isinstance(request, dict) else request.json


def system_text(kind: str, body: dict[str, Any]) -> str:
    """The system prompt as each provider's request carries it."""
    if kind == "anthropic":
        system = body["system"]
        return system if isinstance(system, str) else "\n\n".join(b["text"] for b in system)
    if kind == "gemini":
        return "\n\n".join(part["text"] for part in body["systemInstruction"]["parts"])
    if kind == "bedrock":
        return "\n\n".join(block["text"] for block in body["system"])
    return "\n\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def only_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def billed(row: dict[str, Any]) -> tuple[Any, ...]:
    """A log row's billing: endpoint, status, channel, tokens, units, estimate, cost."""
    keys = ("endpoint", "status", "channel_id", "prompt_tokens", "completion_tokens")
    keys_more = ("reasoning_tokens", "units", "estimated", "cost")
    return tuple(row[key] for key in (*keys, *keys_more))


def recorded_bill(recorded: Recorded, channel: int = 1) -> tuple[Any, ...]:
    """``billed`` of the row a 200 answer with the recording's usage must log."""
    return (
        "responses",
        200,
        channel,
        recorded.prompt,
        recorded.completion,
        recorded.reasoning,
        "",  # no per-unit use: tokens only
        0,
        cost(recorded.prompt, recorded.completion),
    )
