"""The Converse request body for an OpenAI chat request (PROTOCOLS.md 7.2, 8.5).

The model id travels in the URL, not here. Sampling settings go to ``inferenceConfig``,
tools to ``toolConfig`` (kept, with stand-in specs if need be, whenever the history holds
tool blocks, since Bedrock rejects such a request without it), Claude's ``top_k`` and
thinking to ``additionalModelRequestFields``. JSON mode has no field every model accepts, so
it becomes a system instruction. ``web_search_options`` is left out: Converse has no search.

Claude's thinking is budgeted and fitted under ``maxTokens`` as for Anthropic itself
(``providers.reasoning``), and left off with a forced tool or in a tool loop whose assistant
turn does not open with its signed reasoning (Claude would refuse it).
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.bedrock.messages import convert_messages, history_has_tool_blocks
from burncloud.providers.reasoning import (
    ANSWER_ROOM,
    ThinkingFit,
    claude_output_limit,
    fit_thinking,
    requested_budget,
)

_EMPTY_SCHEMA: JSON = {"type": "object", "properties": {}}
_JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."


def converse_body(body: JSON, model: str) -> JSON:
    """The Converse JSON body for OpenAI chat ``body`` sent to Bedrock model ``model``."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty list")
    if (body.get("n") or 1) != 1:
        raise InvalidRequest("Bedrock channels return one choice: n must be 1")
    system, turns = convert_messages(messages, reasoning=_is_claude(model))
    system += _format_instruction(body.get("response_format"))
    request: JSON = {"messages": turns}
    if system:
        request["system"] = system
    thinking = _thinking(body, model, turns)
    inference = _inference_config(body, model, thinking)
    if inference:
        request["inferenceConfig"] = inference
    tools = _tool_config(body, turns)
    if tools:
        request["toolConfig"] = tools
    extra = _additional_fields(body, model, thinking)
    if extra:
        request["additionalModelRequestFields"] = extra
    return request


def _is_claude(model: str) -> bool:
    return "anthropic." in model or "claude" in model.lower()


def _inference_config(body: JSON, model: str, thinking: ThinkingFit | None) -> JSON:
    config: JSON = {}
    max_tokens = thinking.max_tokens if thinking else _max_tokens(body)
    if max_tokens:
        config["maxTokens"] = max_tokens
    if thinking is None:  # Claude's thinking rejects sampling settings
        config |= _sampling(body, model)
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return config


def _max_tokens(body: JSON) -> int | None:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sampling(body: JSON, model: str) -> JSON:
    config: JSON = {}
    temperature = body.get("temperature")
    if temperature is not None:
        config["temperature"] = min(temperature, 1.0) if _is_claude(model) else temperature
    if body.get("top_p") is not None:
        config["topP"] = body["top_p"]
    return config


def _tool_config(body: JSON, turns: list[JSON]) -> JSON | None:
    """``toolConfig``: the client's tools and choice; stand-ins when only history needs it."""
    choice = body.get("tool_choice")
    tools = [_tool_spec(tool) for tool in body.get("tools") or ()]
    needed = history_has_tool_blocks(turns)
    if choice == "none" or not tools:
        if not needed:
            return None
        if not tools:
            tools = _stand_in_specs(turns)
        return {"tools": tools}
    config: JSON = {"tools": tools}
    converted = _tool_choice(choice)
    if converted is not None:
        config["toolChoice"] = converted
    return config


def _tool_spec(tool: Any) -> JSON:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise InvalidRequest("Bedrock channels accept only function tools")
    function = tool.get("function") or {}
    if not function.get("name"):
        raise InvalidRequest("every tool needs function.name")
    spec: JSON = {"name": function["name"]}
    if function.get("description"):
        spec["description"] = function["description"]
    spec["inputSchema"] = {"json": function.get("parameters") or _EMPTY_SCHEMA}
    return {"toolSpec": spec}


def _stand_in_specs(turns: list[JSON]) -> list[JSON]:
    """Minimal specs for the tools the history used, so Bedrock accepts its tool blocks."""
    names = {
        block["toolUse"]["name"]
        for turn in turns
        for block in turn["content"]
        if "toolUse" in block
    }
    names = names or {"tool"}
    return [
        {"toolSpec": {"name": name, "inputSchema": {"json": _EMPTY_SCHEMA}}}
        for name in sorted(names)
    ]


def _tool_choice(choice: Any) -> JSON | None:
    """Converse ``toolChoice``; None for auto (the default, and all some models accept)."""
    if choice is None or choice == "auto":
        return None
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name:
            return {"tool": {"name": name}}
    raise InvalidRequest(f"unsupported tool_choice: {choice!r}")


def _format_instruction(response_format: Any) -> list[JSON]:
    if not isinstance(response_format, dict):
        return []
    kind = response_format.get("type")
    if kind == "json_object":
        return [{"text": _JSON_OBJECT_INSTRUCTION}]
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        text = "Respond with a single valid JSON object, and nothing else, matching this "
        text += "JSON schema: " + orjson.dumps(schema).decode()
        return [{"text": text}]
    return []


def _thinking(body: JSON, model: str, turns: list[JSON]) -> ThinkingFit | None:
    """Claude's thinking budget and the ``maxTokens`` it fits under; None when off."""
    if not _is_claude(model) or _forces_tool(body.get("tool_choice")):
        return None
    budget = requested_budget(body)
    if budget is None or _unsigned_tool_turn(turns):
        return None
    limit = _max_tokens(body)
    return fit_thinking(
        budget,
        limit or ANSWER_ROOM,
        explicit=limit is not None,
        limit=claude_output_limit(model, {}),
    )


def _unsigned_tool_turn(turns: list[JSON]) -> bool:
    """Whether the last assistant turn asked for tools without the reasoning before it."""
    for turn in reversed(turns):
        if turn["role"] == "assistant":
            blocks = turn["content"]
            uses_tools = any("toolUse" in block for block in blocks)
            return uses_tools and "reasoningContent" not in blocks[0]
    return False


def _forces_tool(choice: Any) -> bool:
    return choice == "required" or isinstance(choice, dict)


def _additional_fields(body: JSON, model: str, thinking: ThinkingFit | None) -> JSON:
    fields: JSON = {}
    if thinking is not None:
        fields["thinking"] = {"type": "enabled", "budget_tokens": thinking.budget}
    elif isinstance(body.get("top_k"), int) and _is_claude(model):
        fields["top_k"] = body["top_k"]
    return fields
