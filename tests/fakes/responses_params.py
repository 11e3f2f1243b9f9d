"""What OpenAI's ``POST /v1/responses`` accepts, read from the openai SDK's request types.

The SDK's ``ResponseCreateParams`` and its unions are generated from OpenAI's API
specification, so the strict fake takes its vocabulary from them instead of a hand list:
the top-level parameters, the input item types, the tool types (a ``namespace`` tool's
members included) and the ``include``, ``reasoning`` and ``text`` values. ``check_request``
names the first thing outside it, as OpenAI's 400 would.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from openai.types.responses import ResponseIncludable, ResponseInputItemParam, ToolParam
from openai.types.responses.response_create_params import ResponseCreateParamsBase
from openai.types.responses.response_text_config_param import ResponseTextConfigParam
from openai.types.shared_params.reasoning import Reasoning

# Accepted by OpenAI though newer than the SDK's types: Codex CLI sends it on every turn.
UNTYPED_PARAMS = frozenset({"client_metadata"})


def _literals(annotation: Any) -> frozenset[str]:
    if get_origin(annotation) is Literal:
        return frozenset(get_args(annotation))
    return frozenset().union(*(_literals(arg) for arg in get_args(annotation)))


def _type_values(union: Any) -> frozenset[str]:
    hints = (typing.get_type_hints(td, include_extras=True) for td in get_args(union))
    return frozenset().union(*(_literals(h["type"]) for h in hints))


def _keys(typed_dict: Any) -> frozenset[str]:
    return frozenset(typing.get_type_hints(typed_dict))


PARAMS = _keys(ResponseCreateParamsBase) | {"stream"} | UNTYPED_PARAMS
INPUT_ITEM_TYPES = _type_values(ResponseInputItemParam)
TOOL_TYPES = _type_values(ToolParam)
INCLUDABLE = _literals(ResponseIncludable)
REASONING_KEYS = _keys(Reasoning)
TEXT_KEYS = _keys(ResponseTextConfigParam)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why OpenAI would answer 400: its message, the parameter path and the error code."""

    message: str
    param: str
    code: str


def check_request(body: dict[str, Any]) -> Rejection | None:
    """The first parameter of ``body`` OpenAI would reject, or None."""
    checks = (
        _unknown_keys(body, PARAMS, ""),
        _unknown_keys(_object(body.get("reasoning")), REASONING_KEYS, "reasoning."),
        _unknown_keys(_object(body.get("text")), TEXT_KEYS, "text."),
        _unsupported_values(body.get("include"), INCLUDABLE, "include"),
        _check_items(body.get("input")),
        _check_tools(body.get("tools"), "tools"),
    )
    return next((problem for problem in checks if problem is not None), None)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unknown_keys(value: dict[str, Any], known: frozenset[str], prefix: str) -> Rejection | None:
    unknown = sorted(set(value) - known)
    if not unknown:
        return None
    name = prefix + unknown[0]
    return Rejection(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def _unsupported_values(values: Any, known: frozenset[str], param: str) -> Rejection | None:
    for index, value in enumerate(values if isinstance(values, list) else []):
        if value not in known:
            return _invalid_value(value, known, f"{param}[{index}]")
    return None


def _invalid_value(value: Any, known: frozenset[str], param: str) -> Rejection:
    supported = ", ".join(f"'{v}'" for v in sorted(known))
    message = f"Invalid value: '{value}'. Supported values are: {supported}."
    return Rejection(message, param, "invalid_value")


def _not_an_object(param: str) -> Rejection:
    return Rejection(f"Invalid type for '{param}': expected an object.", param, "invalid_type")


def _check_items(items: Any) -> Rejection | None:
    """Each input item's type; an item without one is a message when it has a role."""
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            return _not_an_object(f"input[{index}]")
        kind = item.get("type", "message" if "role" in item else None)
        if kind not in INPUT_ITEM_TYPES:
            return _invalid_value(kind, INPUT_ITEM_TYPES, f"input[{index}].type")
        if kind == "additional_tools":
            problem = _check_tools(item.get("tools"), f"input[{index}].tools")
            if problem is not None:
                return problem
    return None


def _check_tools(tools: Any, param: str) -> Rejection | None:
    """Each tool's type, and the members of ``namespace`` tools."""
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict):
            return _not_an_object(where)
        if tool.get("type") not in TOOL_TYPES:
            return _invalid_value(tool.get("type"), TOOL_TYPES, f"{where}.type")
        if tool["type"] == "namespace":
            problem = _check_tools(tool.get("tools"), f"{where}.tools")
            if problem is not None:
                return problem
    return None
