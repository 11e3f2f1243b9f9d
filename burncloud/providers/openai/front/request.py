"""A Responses API request as an OpenAI chat request (the relay's canonical form).

``instructions`` lead as a system message, then the history (a stored conversation's items)
and the input items (``input_items.py``), tools with their choice (``tools.py``),
``max_output_tokens`` as ``max_completion_tokens``, ``text.format`` as ``response_format``,
``reasoning.effort`` as ``reasoning_effort`` (``none``: left out). Sampling,
``parallel_tool_calls`` (with tools only, as chat wants) and the end user (``user``, else
``safety_identifier``) go on as chat takes them. Settings only OpenAI understands
(``store``, ``include``, ``prompt_cache_key``, ``metadata``, ``service_tier``,
``client_metadata``...) stay behind: the answer echoes them from the context. What cannot
go on is reported in ``Conversion.omitted``, never refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.openai.front.context import (
    ResponsesContext,
    optional_count,
    optional_text,
    responses_context,
)
from burncloud.providers.openai.front.input_items import ChatMessages, item_type
from burncloud.providers.openai.front.reasoning import Unseal
from burncloud.providers.openai.front.tools import convert_tool_choice, convert_tools

# Request fields that name state kept at OpenAI, which a converted channel cannot reach.
_OPENAI_STATE = {
    "prompt": "prompt: stored prompts live at OpenAI",
    "conversation": "conversation: conversations live at OpenAI",
    "background": "background: answered in the foreground",
}
_FORMATS = "Supported values are: 'text', 'json_object', and 'json_schema'."


@dataclass(frozen=True, slots=True)
class Conversion:
    """A converted request: the chat body, what its answer needs, and what was left out
    (``"<what>: <why>"``, for the route explanation)."""

    chat: JSON
    context: ResponsesContext
    omitted: tuple[str, ...]


def convert_request(body: JSON, *, unseal: Unseal, history: Sequence[JSON] = ()) -> Conversion:
    """The chat conversion of Responses request ``body``, ``history`` put before its input.
    ``unseal`` opens reasoning items' ``encrypted_content`` (what it cannot open is left
    out)."""
    placed = [(f"history[{i}]", item) for i, item in enumerate(history)]
    placed += [(f"input[{i}]", item) for i, item in enumerate(_input(body.get("input")))]
    tools = convert_tools(_tool_lists(body, placed))
    context = responses_context(body, tools, [item for _, item in placed])
    builder = ChatMessages(tools, unseal)
    for where, item in placed:
        builder.add(item, where)
    chat: JSON = {"model": context.model, "messages": _messages(context, builder.finish())}
    _add_settings(chat, body)
    choice, kept = convert_tool_choice(body.get("tool_choice"), tools)
    if kept:
        chat["tools"] = list(kept)
        if choice is not None:
            chat["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if tools.web_search:
        chat["web_search_options"] = {}
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    notes = [note for key, note in _OPENAI_STATE.items() if body.get(key)]
    omitted = (*tools.omitted, *dict.fromkeys(builder.omitted), *notes)
    return Conversion(chat=chat, context=context, omitted=omitted)


def responses_to_chat(body: JSON, *, unseal: Unseal, history: Sequence[JSON] = ()) -> JSON:
    """The chat body alone (``convert_request(...).chat``)."""
    return convert_request(body, unseal=unseal, history=history).chat


def _input(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return value
    raise InvalidRequest("Invalid type for 'input': expected a string or an array of input items.")


def _tool_lists(body: JSON, placed: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The tool lists: ``tools``, then each ``additional_tools`` item's."""
    lists = [("tools", body.get("tools"))]
    for where, item in placed:
        if item_type(item, where) == "additional_tools":
            lists.append((f"{where}.tools", item.get("tools")))
    return lists


def _messages(context: ResponsesContext, messages: list[JSON]) -> list[JSON]:
    if context.instructions:
        messages.insert(0, {"role": "system", "content": context.instructions})
    if not messages:
        raise InvalidRequest("Missing required parameter: 'input'.")
    return messages


def _add_settings(chat: JSON, body: JSON) -> None:
    limit = optional_count(body, "max_output_tokens", minimum=1)
    if limit is not None:
        chat["max_completion_tokens"] = limit
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            chat[key] = body[key]
    user = optional_text(body, "user") or optional_text(body, "safety_identifier")
    if user:
        chat["user"] = user
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    effort = _effort(body.get("reasoning"))
    if effort is not None:
        chat["reasoning_effort"] = effort


def _response_format(text: Any) -> JSON | None:
    form = text.get("format") if isinstance(text, dict) else None
    if form is None:
        return None
    kind = form.get("type") if isinstance(form, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise InvalidRequest(f"Invalid value: '{kind}' for 'text.format.type'. {_FORMATS}")
    name, schema = form.get("name"), form.get("schema")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("Missing required parameter: 'text.format.name'.")
    if not isinstance(schema, dict):
        raise InvalidRequest("Missing required parameter: 'text.format.schema'.")
    spec: JSON = {"name": name, "schema": schema}
    if isinstance(form.get("description"), str):
        spec["description"] = form["description"]
    if isinstance(form.get("strict"), bool):
        spec["strict"] = form["strict"]
    return {"type": "json_schema", "json_schema": spec}


def _effort(reasoning: Any) -> str | None:
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort is not None and not isinstance(effort, str):
        raise InvalidRequest("Invalid type for 'reasoning.effort': expected a string.")
    return None if effort in (None, "none") else effort
