"""Gemini front door: an OpenAI ``chat.completion`` -> a ``GenerateContentResponse``.

One candidate per choice: a thought part for ``reasoning_content``, a text part, then one
``functionCall`` part per tool call. A tool-call id is taken apart by ``call_ids``: an id
Gemini never saw (synthesized by the forward provider) is left out, a thought signature goes
back on the part. The pieces here are shared with ``front_stream``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.protocols.shapes import JSON, object_field
from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini import call_ids
from burncloud.providers.gemini.usage import usage_metadata
from burncloud.providers.openai.usage import token_usage

FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}


def finish_reason(reason: Any) -> str:
    """Gemini's ``finishReason`` for an OpenAI ``finish_reason`` (none: STOP, unknown: OTHER)."""
    if reason is None:
        return "STOP"
    return FINISH_REASONS.get(reason, "OTHER") if isinstance(reason, str) else "OTHER"


def function_call_part(call_id: Any, name: Any, arguments: Any) -> JSON:
    """The ``functionCall`` part for one OpenAI tool call (arguments as a JSON text)."""
    unpacked = call_ids.decode(call_id) if isinstance(call_id, str) and call_id else None
    call: JSON = {"name": str(name or ""), "args": parse_arguments(arguments)}
    if unpacked is not None and unpacked.wire_id:
        call["id"] = unpacked.wire_id
    part: JSON = {"functionCall": call}
    if unpacked is not None and unpacked.signature:
        part["thoughtSignature"] = unpacked.signature
    return part


def parse_arguments(arguments: Any) -> JSON:
    """Tool-call arguments as an object; {} when they are not a JSON object (e.g. cut off)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str | bytes) else None
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def response_id(completion: Mapping[str, Any]) -> str:
    """Gemini's ``responseId``: the OpenAI id without its ``chatcmpl-`` prefix."""
    value = completion.get("id")
    return value.removeprefix("chatcmpl-") if isinstance(value, str) and value else "burncloud"


def chat_to_gemini(completion: JSON, model: str, usage: TokenUsage | None = None) -> JSON:
    """The ``GenerateContentResponse`` for ``completion``, answered as ``model``.

    ``usage`` overrides the completion's own ``usage`` (e.g. a provider's normalised figure).
    """
    choices = [c for c in completion.get("choices") or [] if isinstance(c, dict)]
    candidates = [_candidate(choice, position) for position, choice in enumerate(choices)]
    out: JSON = {"candidates": candidates or [_candidate({}, 0)]}
    usage = usage or token_usage(completion.get("usage"))
    if usage is not None:
        out["usageMetadata"] = usage_metadata(usage)
    out["modelVersion"] = model
    out["responseId"] = response_id(completion)
    return out


def _candidate(choice: JSON, position: int) -> JSON:
    message = object_field(choice, "message")
    index = choice.get("index")
    return {
        "content": {"role": "model", "parts": message_parts(message)},
        "finishReason": finish_reason(choice.get("finish_reason")),
        "index": index if isinstance(index, int) else position,
    }


def message_parts(message: Mapping[str, Any]) -> list[JSON]:
    """Gemini parts for an OpenAI assistant message: thought, text, function calls."""
    parts: list[JSON] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"text": reasoning, "thought": True})
    text = message.get("content") or message.get("refusal")
    if isinstance(text, str) and text:
        parts.append({"text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            parts.append(
                function_call_part(call.get("id"), function.get("name"), function.get("arguments"))
            )
    return parts
