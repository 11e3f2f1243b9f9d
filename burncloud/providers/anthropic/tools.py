"""OpenAI ``tools``, ``tool_choice``, ``parallel_tool_calls`` and ``response_format`` for Anthropic.

Function tools become ``{name, description, input_schema}``; the deprecated ``functions`` /
``function_call`` pair is read the same way. ``web_search_options`` (OpenAI chat's own
field: the client allows a built-in web search) adds Anthropic's server tool
``web_search_20250305``, whose calls Anthropic runs itself. Anthropic has no JSON mode, so
``response_format`` becomes an instruction appended to the system prompt (a forced tool
would change the answer's shape, and the answer converter has no memory of the request).
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

_EMPTY_SCHEMA: JSON = {"type": "object", "properties": {}}
_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
WEB_SEARCH_TOOL: JSON = {"type": "web_search_20250305", "name": "web_search"}
_LOCATION_FIELDS = ("city", "region", "country", "timezone")
JSON_OBJECT_INSTRUCTION = "Respond with one valid JSON object only, with no text around it."
JSON_SCHEMA_INSTRUCTION = (
    "Respond with one JSON value only, with no text around it, valid against this JSON Schema:"
)


def convert_tools(body: JSON) -> list[JSON]:
    """Anthropic tools for the request's function tools and web search (empty when none)."""
    tools = body.get("tools")
    if tools is None and body.get("functions") is not None:
        tools = [{"type": "function", "function": f} for f in body["functions"]]
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("tools must be an array")
    converted = [_convert_tool(tool) for tool in tools or ()]
    search = body.get("web_search_options")
    if isinstance(search, dict):
        converted.append(web_search_tool(search))
    return converted


def web_search_tool(options: JSON) -> JSON:
    """The server web search tool, with the approximate ``user_location`` the client gave."""
    tool = dict(WEB_SEARCH_TOOL)
    location = options.get("user_location")
    approximate = location.get("approximate") if isinstance(location, dict) else None
    if not isinstance(approximate, dict):
        return tool
    fields = {key: approximate.get(key) for key in _LOCATION_FIELDS}
    kept = {key: value for key, value in fields.items() if isinstance(value, str) and value}
    if kept:
        tool["user_location"] = {"type": "approximate", **kept}
    return tool


def convert_tool_choice(body: JSON) -> JSON | None:
    """Anthropic ``tool_choice`` for the request, None when the default (auto) fits."""
    choice = _choice_type(body)
    if body.get("parallel_tool_calls") is False and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return None if choice == {"type": "auto"} else choice


def forces_tool(choice: JSON | None) -> bool:
    """True when ``choice`` makes the model call a tool (which extended thinking forbids)."""
    return choice is not None and choice["type"] in ("any", "tool")


def format_instruction(response_format: Any) -> str | None:
    """System-prompt text asking for the JSON output ``response_format`` describes."""
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return JSON_OBJECT_INSTRUCTION
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest("response_format json_schema needs json_schema.schema")
        return JSON_SCHEMA_INSTRUCTION + "\n" + orjson.dumps(schema).decode()
    raise InvalidRequest(f"response_format type {kind!r} is not supported")


def _convert_tool(tool: Any) -> JSON:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise InvalidRequest("only function tools are supported for Anthropic models")
    function = tool.get("function")
    if not isinstance(function, dict):
        function = {}
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("each function tool needs a name")
    converted: JSON = {"name": name}
    if function.get("description"):
        converted["description"] = function["description"]
    converted["input_schema"] = _input_schema(function.get("parameters"))
    if isinstance(tool.get("cache_control"), dict):
        converted["cache_control"] = tool["cache_control"]
    return converted


def _input_schema(parameters: Any) -> JSON:
    if parameters is None or parameters == {}:
        return dict(_EMPTY_SCHEMA)
    if not isinstance(parameters, dict):
        raise InvalidRequest("function parameters must be a JSON Schema object")
    if "type" not in parameters:  # Anthropic requires an object schema with an explicit type
        return {"type": "object", **parameters}
    return parameters


def _choice_type(body: JSON) -> JSON:
    choice = body.get("tool_choice")
    if choice is None:
        choice = _legacy_choice(body.get("function_call"))
    if choice is None:
        return {"type": "auto"}
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequest(f"unsupported tool_choice {choice!r}")
        return {"type": _CHOICES[choice]}
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name or choice.get("type") != "function":
        raise InvalidRequest("tool_choice must be auto, required, none or a named function")
    return {"type": "tool", "name": name}


def _legacy_choice(function_call: Any) -> Any:
    if isinstance(function_call, dict):
        return {"type": "function", "function": function_call}
    return function_call
