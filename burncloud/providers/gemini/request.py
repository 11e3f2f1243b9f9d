"""An OpenAI chat request body as a Gemini ``generateContent`` body (PROTOCOLS.md 8.4).

``reasoning_effort`` sets ``thinkingConfig`` with ``includeThoughts``, so thought summaries
come back as ``reasoning_content``. ``web_search_options`` (the client allows a built-in web
search) becomes Google Search grounding, but only where no function calling is in play:
Gemini 2 refuses the two together, and Gemini 3 takes them together only when its
server-side tool calls are sent back, which chat history cannot carry. Assistant
``thinking_blocks`` are Claude's and are not sent (Gemini's thought signatures travel in
tool-call ids: ``call_ids``).
"""

from __future__ import annotations

import re

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.gemini.messages import convert_messages
from burncloud.providers.gemini.schema import gemini_schema, is_empty_object

_SAMPLING = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# Google's own OpenAI-compatible mapping for Gemini 2.x thinking budgets.
_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_LEVELS = {
    "none": "MINIMAL",
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
}
_PRO_LEVELS = {"MINIMAL": "LOW", "MEDIUM": "HIGH"}  # Gemini 3 Pro knows only LOW and HIGH
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_GENERATION = re.compile(r"gemini-(\d+)")
_MAX_STOP_SEQUENCES = 5
GOOGLE_SEARCH: JSON = {"googleSearch": {}}


def build_body(body: JSON, model: str, stream: bool) -> JSON:
    """The Gemini request body for OpenAI chat ``body`` sent to upstream ``model``."""
    generation = _generation(model)
    system, contents = convert_messages(body.get("messages"), fill_signatures=generation >= 3)
    out: JSON = {"contents": contents}
    if system:
        out["systemInstruction"] = system
    out.update(_tool_fields(body, contents))
    config = _generation_config(body, model, generation, stream)
    if config:
        out["generationConfig"] = config
    return out


def _tool_fields(body: JSON, contents: list[JSON]) -> JSON:
    """``tools`` and ``toolConfig`` (none of either without tools)."""
    tools = _tools(body)
    if not tools:
        return {"tools": [dict(GOOGLE_SEARCH)]} if _searches(body, contents) else {}
    choice = _choice(body)
    allowed = _allowed_names(choice)
    if allowed is not None:
        tools = [tool for tool in tools if tool["name"] in allowed]
    out: JSON = {"tools": [{"functionDeclarations": tools}]}
    tool_config = _tool_config(choice, allowed)
    if tool_config:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    return out


def runs_web_search(body: JSON) -> bool:
    """Whether a web search ``body`` allows runs at Gemini: only without function tools and
    function calls (Gemini refuses Google Search next to function calling)."""
    if not isinstance(body.get("web_search_options"), dict) or _tools(body):
        return False
    messages = body.get("messages")
    return not any(
        isinstance(message, dict) and (message.get("tool_calls") or message.get("role") == "tool")
        for message in (messages if isinstance(messages, list) else ())
    )


def _searches(body: JSON, contents: list[JSON]) -> bool:
    """True when the client allows a web search and no function call is in the history."""
    if not isinstance(body.get("web_search_options"), dict):
        return False
    parts = (part for content in contents for part in content["parts"])
    return not any("functionCall" in part or "functionResponse" in part for part in parts)


def _generation(model: str) -> int:
    """The model's major version (``gemini-3-pro`` -> 3); 2 when the name does not say."""
    match = _GENERATION.search(model)
    return int(match.group(1)) if match else 2


def _generation_config(body: JSON, model: str, generation: int, stream: bool) -> JSON:
    config: JSON = {
        key: body[name] for name, key in _SAMPLING.items() if body.get(name) is not None
    }
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = _stop_sequences(stop)
    n = body.get("n") or 1
    if n != 1:
        if stream:
            raise InvalidRequest("n > 1 cannot be streamed from a Gemini channel")
        config["candidateCount"] = n
    config.update(_response_format(body.get("response_format")))
    effort = body.get("reasoning_effort")
    if effort is not None:
        config["thinkingConfig"] = _thinking(effort, model, generation)
    return config


def _stop_sequences(stop: object) -> list[str]:
    """At most five stop strings (OpenAI allows four, Gemini five)."""
    if isinstance(stop, str):
        return [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("'stop' must be a string or an array of strings")
    return stop[:_MAX_STOP_SEQUENCES]


def _response_format(response_format: object) -> JSON:
    if not isinstance(response_format, dict) or response_format.get("type") in (None, "text"):
        return {}
    kind = response_format["type"]
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind != "json_schema":
        raise InvalidRequest(f"response_format type {kind!r} is not supported")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    out: JSON = {"responseMimeType": "application/json"}
    if isinstance(schema, dict):
        out["responseSchema"] = gemini_schema(schema, ordered=True)
    return out


def _thinking(effort: object, model: str, generation: int) -> JSON:
    if effort == "xhigh":
        effort = "high"
    if not isinstance(effort, str) or effort not in _BUDGETS:
        raise InvalidRequest("reasoning_effort must be none, minimal, low, medium or high")
    if generation < 3:
        config: JSON = {"thinkingBudget": _BUDGETS[effort]}
    else:
        level = _LEVELS[effort]
        if "-pro" in model:
            level = _PRO_LEVELS.get(level, level)
        config = {"thinkingLevel": level}
    if effort != "none":
        config["includeThoughts"] = True
    return config


def _tools(body: JSON) -> list[JSON]:
    """Function declarations from ``tools`` (or the legacy ``functions``)."""
    tools = body.get("tools")
    if tools is None and isinstance(body.get("functions"), list):
        tools = [{"type": "function", "function": f} for f in body["functions"]]
    if not tools:
        return []
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array")
    return [_declaration(tool) for tool in tools]


def _choice(body: JSON) -> object:
    """``tool_choice``, or the legacy ``function_call`` in its shape."""
    choice = body.get("tool_choice")
    legacy = body.get("function_call")
    if choice is None and isinstance(legacy, dict):
        return {"type": "function", "function": legacy}
    return legacy if choice is None else choice


def _declaration(tool: object) -> JSON:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise InvalidRequest("Gemini channels support only tools of type 'function'")
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest("each tool needs a function with a name")
    declaration: JSON = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    parameters = gemini_schema(function.get("parameters"))
    if not is_empty_object(parameters):
        declaration["parameters"] = parameters
    return declaration


def _allowed_names(choice: object) -> list[str] | None:
    if not isinstance(choice, dict) or choice.get("type") != "allowed_tools":
        return None
    return [_named(tool) for tool in _allowed_spec(choice).get("tools") or ()]


def _allowed_spec(choice: JSON) -> JSON:
    """``tool_choice.allowed_tools`` (``{"mode": ..., "tools": [...]}``), empty if absent."""
    spec = choice.get("allowed_tools") or {}
    if not isinstance(spec, dict):
        raise InvalidRequest("tool_choice.allowed_tools must be an object")
    return spec


def _tool_config(choice: object, allowed: list[str] | None) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _TOOL_MODES:
            raise InvalidRequest(f"tool_choice {choice!r} is not supported")
        return {"mode": _TOOL_MODES[choice]}
    if allowed is None:
        return {"mode": "ANY", "allowedFunctionNames": [_named(choice)]}
    # ``allowed`` is a list only for an ``allowed_tools`` object, so ``choice`` is a dict here.
    if isinstance(choice, dict) and _allowed_spec(choice).get("mode") == "required":
        return {"mode": "ANY", "allowedFunctionNames": allowed}
    return {"mode": "AUTO"}  # the declarations were already cut down to ``allowed``


def _named(choice: object) -> str:
    """The function name in ``{"type": "function", "function": {"name": ...}}``."""
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidRequest("a named tool_choice needs function.name")
    return name
