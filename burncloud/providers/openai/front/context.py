"""What a converted Responses request leaves for its answer: ``ResponsesContext``.

A Response echoes the request's settings (model as asked, instructions, tools as sent,
tool choice, text and reasoning settings, sampling, limits, store, metadata, the previous
response's id), and its calls are named as the client knows its tools. The context holds all
of it, with the response id (``resp_`` and random hex) and creation time fixed when the
request is converted, and the conversation's input items for storage. The echoed fields are
checked here, so a Response built from them is well-formed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.openai.front.tools import ChatTools, ToolName

ENCRYPTED_REASONING = "reasoning.encrypted_content"
_TRUNCATIONS = ("auto", "disabled")


def new_id(prefix: str) -> str:
    """A new id in OpenAI's form: ``prefix`` and 48 random hex digits."""
    return prefix + secrets.token_hex(24)


@dataclass(frozen=True, slots=True)
class ResponsesContext:
    """Everything the answer to one converted request needs from it."""

    response_id: str
    created_at: int
    model: str  # as the client asked for it
    instructions: str | None
    tools: tuple[JSON, ...]  # as the client sent them
    tool_names: Mapping[str, ToolName]  # chat name -> the client's (renamed and custom tools)
    tool_choice: Any
    text: JSON
    reasoning: JSON
    temperature: float
    top_p: float
    max_output_tokens: int | None
    max_tool_calls: int | None
    parallel_tool_calls: bool
    store: bool
    metadata: Mapping[str, str]
    previous_response_id: str | None
    include_encrypted_reasoning: bool
    user: str | None
    safety_identifier: str | None
    prompt_cache_key: str | None
    truncation: str
    top_logprobs: int
    input_items: tuple[JSON, ...]  # the history given, then this request's input

    def client_name(self, chat_name: str) -> ToolName:
        """The client's tool for the chat tool ``chat_name`` (a plain function if unknown)."""
        return self.tool_names.get(chat_name) or ToolName(chat_name)


def responses_context(body: JSON, tools: ChatTools, items: Sequence[JSON]) -> ResponsesContext:
    """The context of request ``body`` whose tools converted to ``tools``; ``items`` are its
    input items, history first."""
    include = body.get("include")
    return ResponsesContext(
        response_id=new_id("resp_"),
        created_at=int(time.time()),
        model=_model(body.get("model")),
        instructions=optional_text(body, "instructions"),
        tools=tuple(body.get("tools") or ()),
        tool_names=tools.names,
        tool_choice=body.get("tool_choice") or "auto",
        text={"format": {"type": "text"}, **_object(body, "text")},
        reasoning={"effort": None, "summary": None, **_object(body, "reasoning")},
        temperature=_number(body, "temperature", 1.0),
        top_p=_number(body, "top_p", 1.0),
        max_output_tokens=optional_count(body, "max_output_tokens", minimum=1),
        max_tool_calls=optional_count(body, "max_tool_calls", minimum=1),
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
        store=_flag(body, "store", True),
        metadata=_metadata(body.get("metadata")),
        previous_response_id=optional_text(body, "previous_response_id"),
        include_encrypted_reasoning=isinstance(include, list) and ENCRYPTED_REASONING in include,
        user=optional_text(body, "user"),
        safety_identifier=optional_text(body, "safety_identifier"),
        prompt_cache_key=optional_text(body, "prompt_cache_key"),
        truncation=_truncation(body.get("truncation")),
        top_logprobs=optional_count(body, "top_logprobs", minimum=0) or 0,
        input_items=tuple(items),
    )


def optional_text(body: JSON, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{key}': expected a string.")
    return value


def optional_count(body: JSON, key: str, *, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"Invalid type for '{key}': expected an integer.")
    if value < minimum:
        raise InvalidRequest(f"Invalid '{key}': integer below minimum value {minimum}.")
    return value


def _model(model: Any) -> str:
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Missing required parameter: 'model'.")
    return model


def _object(body: JSON, key: str) -> JSON:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"Invalid type for '{key}': expected an object.")
    return {name: item for name, item in value.items() if item is not None}


def _number(body: JSON, key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"Invalid type for '{key}': expected a number.")
    return float(value)


def _flag(body: JSON, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"Invalid type for '{key}': expected a boolean.")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest("Invalid type for 'metadata': expected an object of strings.")
    return dict(value)


def _truncation(value: Any) -> str:
    if value is None:
        return "disabled"
    if value not in _TRUNCATIONS:
        raise InvalidRequest(
            f"Invalid value: '{value}'. Supported values are: 'auto' and 'disabled'."
        )
    return str(value)
