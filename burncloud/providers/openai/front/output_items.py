"""The Response object and its output items, one shape for whole answers and streams.

Shapes follow the openai SDK's ``Response`` models: a message's ``output_text`` parts carry
``annotations`` and ``logprobs`` (empty), refusals are ``refusal`` parts; a call to a
namespaced tool is a ``function_call`` naming the tool and its ``namespace``; a custom
tool's call is a ``custom_tool_call`` whose ``input`` is the text the model wrapped as
``{"input": ...}``. Usage is the Responses API's: input tokens (cached and cache-write ones
within them), output tokens (reasoning within them) and their total.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from burncloud.protocols.shapes import JSON
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.front.context import ResponsesContext
from burncloud.providers.openai.front.tools import ToolName

SERVICE_TIER = "default"
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def output_text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> JSON:
    return {"type": "refusal", "refusal": text}


def message_item(item_id: str, content: list[JSON], status: str) -> JSON:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def call_item(item_id: str, call_id: str, tool: ToolName, arguments: str, status: str) -> JSON:
    """A ``function_call`` item, or a ``custom_tool_call`` one for a custom tool, whose
    ``input`` is read from ``arguments``."""
    if tool.custom:
        item: JSON = {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": tool.name,
            "input": custom_input(arguments),
        }
    else:
        item = {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": tool.name,
            "arguments": arguments,
        }
    if tool.namespace is not None:
        item["namespace"] = tool.namespace
    return item


def custom_input(arguments: str) -> str:
    """A custom tool's input from the arguments the model gave its function: the
    ``input`` string, the one string it gave under another name, else the arguments."""
    try:
        parsed: Any = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict):
        if isinstance(parsed.get("input"), str):
            return str(parsed["input"])
        strings = [value for value in parsed.values() if isinstance(value, str)]
        if len(parsed) == 1 and strings:
            return strings[0]
    return arguments


def responses_usage(usage: TokenUsage | None) -> JSON | None:
    """The Responses ``usage`` object for ``usage``; None when the upstream gave none."""
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def finished_status(finish_reason: Any) -> tuple[str, JSON | None]:
    """``completed``, or ``incomplete`` with its details, for a chat ``finish_reason``."""
    reason = INCOMPLETE_REASONS.get(finish_reason) if isinstance(finish_reason, str) else None
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def response_object(
    context: ResponsesContext,
    status: str,
    output: list[JSON],
    usage: JSON | None = None,
    *,
    incomplete: JSON | None = None,
    error: JSON | None = None,
) -> JSON:
    """The Response for ``context`` in ``status``, echoing the request as OpenAI does."""
    return {
        "id": context.response_id,
        "object": "response",
        "created_at": context.created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": context.instructions,
        "max_output_tokens": context.max_output_tokens,
        "max_tool_calls": context.max_tool_calls,
        "model": context.model,
        "output": output,
        "parallel_tool_calls": context.parallel_tool_calls,
        "previous_response_id": context.previous_response_id,
        "prompt_cache_key": context.prompt_cache_key,
        "reasoning": context.reasoning,
        "safety_identifier": context.safety_identifier,
        "service_tier": SERVICE_TIER,
        "store": context.store,
        "temperature": context.temperature,
        "text": context.text,
        "tool_choice": context.tool_choice,
        "tools": list(context.tools),
        "top_logprobs": context.top_logprobs,
        "top_p": context.top_p,
        "truncation": context.truncation,
        "usage": usage,
        "user": context.user,
        "metadata": dict(context.metadata),
    }
