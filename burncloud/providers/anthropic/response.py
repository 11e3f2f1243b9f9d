"""A whole Messages API answer -> OpenAI ``chat.completion`` (PROTOCOLS.md 8.2, 9.1).

Text blocks join into ``content``; ``tool_use`` blocks become ``tool_calls`` with their input
as a JSON string. Thinking is exposed as ``reasoning_content`` (the DeepSeek-style extension)
and, signatures included, as ``thinking_blocks``, which a client may send back on the
assistant message so a tool loop with thinking can continue. Server tool blocks (web search)
stay out of the message; their citations become ``annotations`` (``server_tools``).
Usage: Anthropic's ``input_tokens`` excludes cache, so the OpenAI prompt count adds cache
writes and reads; the write is split by lifetime in ``cache_creation``, server-side tool
calls are counted in ``server_tool_use`` and thinking tokens in ``output_tokens_details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.anthropic.errors import error_from_event
from burncloud.providers.anthropic.server_tools import TextJoin, is_server_block, url_citations
from burncloud.providers.base import ChatAnswer, TokenUsage
from burncloud.providers.openai.usage import tool_calls

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
USAGE_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
_NESTED_FIELDS = ("cache_creation", "server_tool_use", "output_tokens_details")
_OUTPUT_FIELDS = ("output_tokens", "output_tokens_details")


def finish_reason(stop_reason: Any) -> str:
    """The OpenAI ``finish_reason`` for an Anthropic ``stop_reason`` (unknown ones: ``stop``)."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def token_usage(usage: Mapping[str, Any]) -> TokenUsage:
    """Normalised usage: prompt = uncached input + cache writes + cache reads."""
    counts = {field: _count(usage.get(field)) for field in USAGE_FIELDS}
    creation = _object(usage, "cache_creation")
    one_hour = _count(creation.get("ephemeral_1h_input_tokens"))
    split = _count(creation.get("ephemeral_5m_input_tokens")) + one_hour
    written = max(counts["cache_creation_input_tokens"], split)
    read = counts["cache_read_input_tokens"]
    return TokenUsage(
        prompt_tokens=counts["input_tokens"] + written + read,
        completion_tokens=counts["output_tokens"],
        cached_tokens=read,
        cache_write_tokens=written,
        cache_write_1h_tokens=one_hour,
        reasoning_tokens=_count(_object(usage, "output_tokens_details").get("thinking_tokens")),
        tool_calls=tool_calls(usage.get("server_tool_use")),
    )


def merge_usage(into: dict[str, Any], usage: Any, skip_output: bool) -> None:
    """Fold one stream event's ``usage`` into ``into``: the latest value of each field wins,
    nested objects field by field (a ``message_delta`` may repeat the cache total without
    its split). ``skip_output`` leaves the output figures alone: ``message_start``'s
    ``output_tokens`` is a placeholder."""
    if not isinstance(usage, dict):
        return
    for key, value in usage.items():
        if skip_output and key in _OUTPUT_FIELDS:
            continue
        if key in _NESTED_FIELDS and isinstance(value, dict):
            into[key] = {**_object(into, key), **value}
        elif key in USAGE_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            into[key] = value


def convert_answer(raw: bytes, model: str, created: int) -> ChatAnswer:
    """The ``chat.completion`` for a 200 Messages API body, answered as ``model``."""
    data = _parse(raw)
    usage = token_usage(data["usage"]) if isinstance(data.get("usage"), dict) else None
    completion: JSON = {
        "id": "chatcmpl-" + str(data.get("id") or "anthropic"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": assistant_message(data.get("content") or []),
                "logprobs": None,
                "finish_reason": finish_reason(data.get("stop_reason")),
            }
        ],
    }
    if usage is not None:
        completion["usage"] = usage.to_openai()
    return ChatAnswer(completion, usage)


def assistant_message(blocks: list[Any]) -> JSON:
    """The OpenAI assistant message for Anthropic response content blocks."""
    parts = _Parts()
    for block in blocks:
        if isinstance(block, dict):
            parts.add(block)
    return parts.message()


class _Parts:
    """What an answer's blocks add up to, read in order."""

    def __init__(self) -> None:
        self.join = TextJoin()
        self.texts: list[str] = []
        self.annotations: list[JSON] = []
        self.calls: list[JSON] = []
        self.reasoning: list[str] = []
        self.thinking: list[JSON] = []

    def add(self, block: JSON) -> None:
        kind = block.get("type")
        if kind == "text":
            self._text(block)
        elif kind == "tool_use":
            self.calls.append(_tool_call(block))
        elif kind == "thinking":
            self.reasoning.append(block.get("thinking") or "")
            self.thinking.append(_pick(block, "type", "thinking", "signature"))
        elif kind == "redacted_thinking":
            self.thinking.append(_pick(block, "type", "data"))
        elif is_server_block(kind):
            self.join.interrupt()

    def _text(self, block: JSON) -> None:
        text = block.get("text")
        text = text if isinstance(text, str) else ""
        self.texts.append(self.join.join(text))
        end = self.join.length
        self.annotations += url_citations(block.get("citations"), end - len(text), end)

    def message(self) -> JSON:
        text = "".join(self.texts)
        content = text if text or not self.calls else None
        message: JSON = {"role": "assistant", "content": content, "refusal": None}
        if self.annotations:
            message["annotations"] = self.annotations
        if self.calls:
            message["tool_calls"] = self.calls
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.thinking:
            message["thinking_blocks"] = self.thinking
        return message


def _tool_call(block: JSON) -> JSON:
    arguments = orjson.dumps(block.get("input") or {}).decode()
    function = {"name": block.get("name") or "", "arguments": arguments}
    return {"id": block.get("id") or "", "type": "function", "function": function}


def _pick(block: JSON, *keys: str) -> JSON:
    return {key: block.get(key) or "" for key in keys}


def _parse(raw: bytes) -> JSON:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("upstream returned a body that is not JSON") from exc
    if isinstance(data, dict) and data.get("type") == "error":
        raise error_from_event(data)
    if not isinstance(data, dict) or data.get("type") not in ("message", None):
        raise UpstreamError("upstream returned an unexpected body instead of a message")
    return data


def _object(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
