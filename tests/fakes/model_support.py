"""What a strict fake's model can do, for fakes given a ``ModelSupport`` (none by default:
their behaviour is then unchanged).

A fake with one refuses what its model lacks as its provider does, and its whole (not
streamed) answers honour what the model has, the way a real model would for a capability
probe: a tool choice gets tool calls (one per offered tool when parallel calls are on and
allowed, else one), a JSON schema gets an instance of it, reasoning gets reasoning tokens
(OpenAI) or a thinking block (Anthropic). The refusals' wording is the providers' own:

- OpenAI: "Invalid content type. image_url is only supported by certain models." (a
  text-only model given an image), "tools is not supported in this model. ...",
  "Unsupported parameter: 'reasoning_effort' is not supported with this model." (and the
  same for ``parallel_tool_calls``), "Invalid parameter: 'response_format' of type
  'json_schema' is not supported with model version `gpt-...`.";
- Anthropic: "'claude-3-5-haiku-20241022' does not support thinking."
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
REASONING_TOKENS = 16
TOOLS_NOT_SUPPORTED = (
    "tools is not supported in this model. For a list of supported models, refer to"
    " https://platform.openai.com/docs/guides/function-calling#models-supporting-function-calling."
)


@dataclass(frozen=True, slots=True)
class ModelSupport:
    """The capabilities of a fake's model (all of them by default)."""

    vision: bool = True
    tools: bool = True
    parallel_tools: bool = True
    json_schema: bool = True
    reasoning: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """An OpenAI error's message, ``param`` and ``code``."""

    message: str
    param: str | None = None
    code: str | None = None


def instance(schema: Any) -> Any:
    """A small value a JSON schema accepts (every required property of an object)."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: instance(properties.get(name)) for name in required}
    return {"boolean": True, "string": "Paris", "integer": 1, "number": 1, "array": []}.get(
        str(kind)
    )


# --- OpenAI chat ---------------------------------------------------------------------


def openai_refusal(support: ModelSupport, model: str, body: JSON) -> Refusal | None:
    """What OpenAI answers a model without a capability the body uses (None: accepted)."""
    image = _openai_image(body)
    if not support.vision and image is not None:
        message = "Invalid content type. image_url is only supported by certain models."
        return Refusal(message, f"messages.[{image[0]}].content.[{image[1]}].type")
    if not support.tools and body.get("tools"):
        return Refusal(TOOLS_NOT_SUPPORTED, "tools")
    for name, supported in (
        ("parallel_tool_calls", support.parallel_tools),
        ("reasoning_effort", support.reasoning),
    ):
        if not supported and name in body:
            message = f"Unsupported parameter: '{name}' is not supported with this model."
            return Refusal(message, name, "unsupported_parameter")
    if not support.json_schema and _format_type(body) == "json_schema":
        message = (
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported with"
            f" model version `{model}`."
        )
        return Refusal(message, "response_format")
    return None


def openai_honoured(support: ModelSupport, body: JSON, payload: JSON) -> JSON:
    """``payload`` (a whole ``chat.completion``) as the model would have answered ``body``."""
    choice = payload["choices"][0]
    message = choice["message"]
    calls = _chosen_tools(support, body, body.get("tool_choice"))
    if calls:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_fake{index:06d}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(instance(schema))},
            }
            for index, (name, schema) in enumerate(calls, 1)
        ]
        choice["finish_reason"] = "tool_calls"
    elif _format_type(body) == "json_schema":
        spec = body["response_format"].get("json_schema") or {}
        message["content"] = json.dumps(instance(spec.get("schema")))
    usage = payload.get("usage")
    if usage is not None and body.get("reasoning_effort") not in (None, "none"):
        usage["completion_tokens_details"]["reasoning_tokens"] = REASONING_TOKENS
        usage["completion_tokens"] += REASONING_TOKENS
        usage["total_tokens"] += REASONING_TOKENS
    return payload


def _openai_image(body: JSON) -> tuple[int, int] | None:
    for index, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        for part_index, part in enumerate(content if isinstance(content, list) else ()):
            if isinstance(part, dict) and part.get("type") == "image_url":
                return index, part_index
    return None


def _format_type(body: JSON) -> Any:
    response_format = body.get("response_format")
    return response_format.get("type") if isinstance(response_format, dict) else None


def _chosen_tools(support: ModelSupport, body: JSON, choice: Any) -> list[tuple[str, Any]]:
    """(name, parameters schema) of each tool the model calls for ``body``."""
    tools = [t.get("function") or {} for t in body.get("tools") or () if isinstance(t, dict)]
    offered = [(str(f["name"]), f.get("parameters")) for f in tools if f.get("name")]
    if not offered or choice == "none":
        return []
    if isinstance(choice, dict):
        named = (choice.get("function") or {}).get("name")
        return [tool for tool in offered if tool[0] == named][:1]
    parallel = support.parallel_tools and body.get("parallel_tool_calls") is not False
    return offered if parallel else offered[:1]


# --- Anthropic Messages --------------------------------------------------------------


def anthropic_refusal(support: ModelSupport, body: JSON) -> str | None:
    """What Anthropic answers a model without a capability the body uses (None: accepted)."""
    thinking = body.get("thinking")
    if not support.reasoning and isinstance(thinking, dict) and thinking.get("type") != "disabled":
        return f"'{body['model']}' does not support thinking."
    return None


def anthropic_answer(support: ModelSupport, body: JSON) -> JSON:
    """A whole Messages answer to ``body``: thinking when enabled, tool use when a tool is
    chosen, the instance of a JSON schema the system prompt gives, else a word."""
    content: list[JSON] = []
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        content.append({"type": "thinking", "thinking": "17 * 23 = 391.", "signature": "sig-fake"})
    uses = _anthropic_tool_uses(support, body)
    if uses:
        content += uses
    else:
        schema = _system_schema(body.get("system"))
        text = json.dumps(instance(schema)) if schema is not None else "Red."
        content.append({"type": "text", "text": text})
    return {
        "id": "msg_fake000001",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "tool_use" if uses else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 6},
    }


def _anthropic_tool_uses(support: ModelSupport, body: JSON) -> list[JSON]:
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice.get("type") == "none":
        return []
    if choice.get("type") == "tool":
        tools = [t for t in tools if t["name"] == choice.get("name")][:1]
    elif choice.get("disable_parallel_tool_use") or not support.parallel_tools:
        tools = tools[:1]
    return [
        {
            "type": "tool_use",
            "id": f"toolu_fake{index:06d}",
            "name": tool["name"],
            "input": instance(tool.get("input_schema")),
        }
        for index, tool in enumerate(tools, 1)
    ]


def _system_schema(system: Any) -> Any:
    """The JSON schema a system prompt's line holds, if one does."""
    if isinstance(system, list):
        system = "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    for line in reversed(str(system or "").splitlines()):
        try:
            schema = json.loads(line)
        except ValueError:
            continue
        if isinstance(schema, dict) and schema.get("type") == "object":
            return schema
    return None
