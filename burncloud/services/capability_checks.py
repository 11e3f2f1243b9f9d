"""The probe's checks, one per capability: the small OpenAI chat request each sends, and how
its answer is judged. Pure: ``capability_probe`` sends them through the channel's provider.

A check's verdict: a 200 whose answer shows the feature honoured is "yes"; a 400 (or 422)
whose message names the feature, or the converter refusing it, is "no"; anything else is
inconclusive and stores nothing (unknown counts as supported). Two checks also take a 200
that ignored what it was required to do as "no": a stream asked for its usage that ended
without one (``stream_usage``), and an answer to a request forcing a named tool that did not
call it (``tools``).

``context`` is not sent: it is the model's published context window (``CONTEXT_WINDOWS``,
by longest model-name prefix, each the largest of its family so that no request that fits
is refused), or a LiteLLM price file's ``max_input_tokens`` when one is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from burncloud.protocols.shapes import JSON
from burncloud.providers.base import TokenUsage

# An 8x8 red PNG, inline: no upstream has to fetch anything.
RED_PIXELS = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR42mP4z8CAFT"
    "EMLQkAKP8/wc53yE8AAAAASUVORK5CYII="
)
REFUSED_STATUSES = frozenset({400, 422})
Honoured = Callable[[JSON, TokenUsage | None], bool]

# Published context windows (input tokens), by model-name prefix.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 272_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude-3": 200_000,
    "claude-sonnet-4": 1_000_000,
    "claude-opus-4": 200_000,
    "claude-haiku-4": 200_000,
    "gemini-1.5-pro": 2_097_152,
    "gemini-1.5-flash": 1_048_576,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.5": 1_048_576,
}
_PREFIXES = sorted(CONTEXT_WINDOWS, key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class Check:
    """One capability's probe request and its judge."""

    name: str
    prompt: list[JSON]  # the messages
    extra: JSON  # the fields that use the capability
    limit: int  # answer tokens
    words: tuple[str, ...]  # a refusal naming one of these means "no"
    honoured: Honoured
    ignored: str = ""  # what a 200 that did not honour it proves ("": inconclusive)
    stream: bool = False

    def body(self, model: str, limit_field: str) -> JSON:
        """The OpenAI chat body for upstream ``model``, the answer limit in ``limit_field``."""
        return {"model": model, "messages": self.prompt, limit_field: self.limit, **self.extra}

    def refused(self, message: str) -> bool:
        """Whether a refusal's ``message`` names this check's feature."""
        lowered = message.lower()
        return any(word in lowered for word in self.words)


def _user(text: str) -> list[JSON]:
    return [{"role": "user", "content": text}]


def _tool(name: str, description: str, argument: str) -> JSON:
    parameters = {
        "type": "object",
        "properties": {argument: {"type": "string"}},
        "required": [argument],
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


WEATHER = _tool("get_weather", "The weather in a city now.", "city")
CLOCK = _tool("get_time", "The local time in a city now.", "city")
SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


def _message(completion: JSON) -> JSON:
    choices = completion.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = first.get("message") if isinstance(first, dict) else None
    return message if isinstance(message, dict) else {}


def _tool_calls(completion: JSON) -> int:
    calls = _message(completion).get("tool_calls")
    return len(calls) if isinstance(calls, list) else 0


def _answered(completion: JSON, _usage: TokenUsage | None) -> bool:
    message = _message(completion)
    return bool(message.get("content") or message.get("tool_calls"))


def _called_tool(completion: JSON, _usage: TokenUsage | None) -> bool:
    return _tool_calls(completion) >= 1


def _called_tools(completion: JSON, _usage: TokenUsage | None) -> bool:
    return _tool_calls(completion) >= 2


def _follows_schema(completion: JSON, _usage: TokenUsage | None) -> bool:
    content = _message(completion).get("content")
    if not isinstance(content, str):
        return False
    text = content.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("ok"), bool)


def _reasoned(completion: JSON, usage: TokenUsage | None) -> bool:
    message = _message(completion)
    if message.get("reasoning_content") or message.get("thinking_blocks"):
        return True
    return usage is not None and usage.reasoning_tokens > 0


def _never(_completion: JSON, _usage: TokenUsage | None) -> bool:
    return False  # a stream is judged by its usage, not a completion


CHECKS: tuple[Check, ...] = (
    Check(
        "tools",
        _user("What is the weather in Paris? Use the tool."),
        {
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        64,
        ("tool", "function"),
        _called_tool,
        ignored="answered without the tool it was made to call",
    ),
    Check(
        "parallel_tools",
        _user("Call get_weather for Paris and get_time for Tokyo, both at once."),
        {"tools": [WEATHER, CLOCK], "tool_choice": "required", "parallel_tool_calls": True},
        128,
        ("parallel",),
        _called_tools,
    ),
    Check(
        "vision",
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this image? One word."},
                    {"type": "image_url", "image_url": {"url": RED_PIXELS}},
                ],
            }
        ],
        {},
        16,
        ("image", "vision", "multimodal", "multi-modal"),
        _answered,
    ),
    Check(
        "json_schema",
        _user("Reply with ok set to true."),
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "probe", "strict": True, "schema": SCHEMA},
            }
        },
        64,
        ("response_format", "json_schema", "json schema", "structured output"),
        _follows_schema,
    ),
    Check(
        "reasoning",
        _user("What is 17 * 23? Answer with the number only."),
        {"reasoning_effort": "low"},
        2048,  # room for the smallest thinking budget (1024) and the answer
        ("reasoning", "thinking"),
        _reasoned,
    ),
    Check(
        "stream_usage",
        _user("Say ok."),
        {"stream": True, "stream_options": {"include_usage": True}},
        8,
        ("stream_options", "include_usage"),
        _never,
        ignored="the stream ended without its usage",
        stream=True,
    ),
)


def context_window(model: str, catalog: Mapping[str, int] | None = None) -> int | None:
    """The context window of upstream ``model``: ``catalog``'s entry (exact name), else the
    published one by prefix (a Bedrock or vendor-prefixed Claude id included); None."""
    if catalog and model in catalog:
        return catalog[model]
    name = model.lower().rsplit("/", 1)[-1]
    start = name.find("claude")
    name = name[start:] if start > 0 else name
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return CONTEXT_WINDOWS[prefix]
    return None


def litellm_context_windows(text: str) -> dict[str, int]:
    """``max_input_tokens`` of every entry of a LiteLLM ``model_prices_and_context_window``
    file (ValueError when it is not one)."""
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a LiteLLM price file: its top level is not an object")
    found: dict[str, int] = {}
    for model, entry in data.items():
        tokens = entry.get("max_input_tokens") if isinstance(entry, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            found[model] = tokens
    return found
