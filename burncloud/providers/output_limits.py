"""The most answer tokens an upstream model accepts, for requests converted from another
format.

Clients of one API ask for what their own models allow: Claude Code sends ``max_tokens``
32000 or 64000, which an OpenAI or Gemini model refuses outright (HTTP 400, "max_tokens is
too large"). A converted request is capped to the target model's limit instead of
refused. A channel's ``max_output_tokens`` config names the limit of whatever it serves;
otherwise the table below, by longest model-name prefix, gives the published limits of
the common models. A model in neither is sent the client's value unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

CONFIG_KEY = "max_output_tokens"

# Published output limits (max completion tokens), by model-name prefix.
_LIMITS: dict[str, int] = {
    "gpt-3.5-turbo": 4_096,
    "gpt-4": 8_192,
    "gpt-4-turbo": 4_096,
    "gpt-4o": 16_384,
    "gpt-4o-mini": 16_384,
    "chatgpt-4o": 16_384,
    "gpt-4.1": 32_768,
    "gpt-5": 128_000,
    "o1": 100_000,
    "o1-mini": 65_536,
    "o3": 100_000,
    "o4-mini": 100_000,
    "gemini-1.5": 8_192,
    "gemini-2.0": 8_192,
    "gemini-2.5": 65_536,
    "gemini-3": 65_536,
    "qwen-turbo": 8_192,
    "qwen-plus": 32_768,
    "qwen-max": 8_192,
    "deepseek-chat": 8_192,
    "deepseek-reasoner": 65_536,
    "claude-3-haiku": 4_096,
    "claude-3-opus": 4_096,
    "claude-3-5-haiku": 8_192,
    "claude-3-5-sonnet": 8_192,
    "claude-3-7-sonnet": 64_000,
    "claude-sonnet-4": 64_000,
    "claude-opus-4": 32_000,
    "claude-opus-4-5": 64_000,
    "claude-haiku-4-5": 64_000,
}
_PREFIXES = sorted(_LIMITS, key=len, reverse=True)


def output_limit(model: str, config: Mapping[str, str]) -> int | None:
    """The answer-token limit of ``model`` on a channel with ``config``; None if unknown."""
    configured = config.get(CONFIG_KEY)
    if configured:
        try:
            value = int(configured)
        except ValueError:
            value = 0
        if value > 0:
            return value
    name = model.rpartition("/")[2].lower()  # "models/gemini-2.5-pro", "openai/gpt-4o"
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return _LIMITS[prefix]
    return None


def capped_to_model(cap: int | None, model: str, config: Mapping[str, str]) -> int | None:
    """``cap`` (what the balance affords, or None) lowered to the model's own limit."""
    limit = output_limit(model, config)
    if limit is None:
        return cap
    return limit if cap is None else min(cap, limit)
