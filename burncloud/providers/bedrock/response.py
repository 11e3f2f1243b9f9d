"""A whole Converse answer -> an OpenAI ``chat.completion`` (PROTOCOLS.md 7.3, 8.5, 9.1).

Text blocks become ``content``, toolUse blocks ``tool_calls`` (arguments re-serialized from
the input object), reasoning text the ``reasoning_content`` extension and, when signed
(Claude), ``thinking_blocks`` as Anthropic's provider returns them: ``{"type": "thinking",
"thinking", "signature"}``, or ``{"type": "redacted_thinking", "data"}`` holding
``redactedContent`` as Bedrock sent it (base64), so the next turn can send them back. Bedrock's
``inputTokens`` excludes the cache, so the prompt count adds cache reads and writes back;
``cacheDetails`` splits the writes by lifetime (``[{"ttl": "1h", "inputTokens": n}]``).
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChatAnswer, TokenUsage

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: Any) -> str:
    """The OpenAI finish_reason for a Converse ``stopReason`` (unknown ones are ``stop``)."""
    return FINISH_REASONS.get(str(stop_reason), "stop")


def token_usage(usage: Any) -> TokenUsage | None:
    """Normalized usage from a Converse ``usage`` object; None if there is none."""
    if not isinstance(usage, dict):
        return None
    read = _count(usage, "cacheReadInputTokens", "cacheReadInputTokenCount")
    write = _count(usage, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
    return TokenUsage(
        prompt_tokens=_count(usage, "inputTokens") + read + write,
        completion_tokens=_count(usage, "outputTokens"),
        cached_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=_written_for(usage.get("cacheDetails"), "1h"),
    )


def _written_for(details: Any, ttl: str) -> int:
    """The cache-write tokens ``cacheDetails`` lists with lifetime ``ttl``."""
    entries = details if isinstance(details, list) else ()
    return sum(
        _count(entry, "inputTokens")
        for entry in entries
        if isinstance(entry, dict) and entry.get("ttl") == ttl
    )


def _count(usage: JSON, *names: str) -> int:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int):
            return value
    return 0


def chat_answer(raw: bytes, model: str, completion_id: str, created: int) -> ChatAnswer:
    """The OpenAI completion for Converse answer ``raw``; UpstreamError if unreadable."""
    try:
        data = orjson.loads(raw)
        blocks = data["output"]["message"]["content"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise UpstreamError("Bedrock returned an answer burncloud cannot read") from exc
    usage = token_usage(data.get("usage"))
    completion: JSON = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _message(blocks),
                "logprobs": None,
                "finish_reason": finish_reason(data.get("stopReason")),
            }
        ],
    }
    if usage is not None:
        completion["usage"] = usage.to_openai()
    return ChatAnswer(completion=completion, usage=usage)


def _message(blocks: list[JSON]) -> JSON:
    texts, reasoning, thinking, calls = [], [], [], []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            calls.append(_tool_call(block["toolUse"]))
        elif isinstance(block.get("reasoningContent"), dict):
            text, kept = reasoning_block(block["reasoningContent"])
            reasoning.append(text)
            thinking += kept
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if thinking:
        message["thinking_blocks"] = thinking
    if calls:
        message["tool_calls"] = calls
    return message


def reasoning_block(content: JSON) -> tuple[str, list[JSON]]:
    """A ``reasoningContent`` block's text, and the thinking block to keep (if signed or
    redacted)."""
    if isinstance(content.get("redactedContent"), str) and content["redactedContent"]:
        return "", [{"type": "redacted_thinking", "data": content["redactedContent"]}]
    reasoning = content.get("reasoningText")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    text = reasoning.get("text")
    text = text if isinstance(text, str) else ""
    signature = reasoning.get("signature")
    if not isinstance(signature, str) or not signature:
        return text, []
    return text, [{"type": "thinking", "thinking": text, "signature": signature}]


def _tool_call(tool_use: JSON) -> JSON:
    arguments = orjson.dumps(tool_use.get("input") or {}).decode()
    return {
        "id": tool_use.get("toolUseId"),
        "type": "function",
        "function": {"name": tool_use.get("name"), "arguments": arguments},
    }
