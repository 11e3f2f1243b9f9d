"""Reading an OpenAI-style ``usage`` object (OpenAI, Azure, DashScope and other compatibles).

Two shapes are read. Chat Completions (and embeddings): ``prompt_tokens`` /
``completion_tokens`` with ``prompt_tokens_details`` {cached, cache-write, audio, image} and
``completion_tokens_details`` {reasoning, audio, image}. The Responses API, image generation
and transcription: ``input_tokens`` / ``output_tokens`` with ``input_tokens_details`` (or
``input_token_details``) and ``output_tokens_details``. Vendor extensions read as well:
DashScope's cache write (``cache_creation_input_tokens``, split by lifetime in
``cache_creation``), DeepSeek's ``prompt_cache_hit_tokens``, and ``server_tool_use``
({"web_search_requests": 2}), which ``TokenUsage.to_openai`` also writes, so every kind a
converted answer reports survives the trip through OpenAI format to a front door.
"""

from __future__ import annotations

from typing import Any

from burncloud.providers.base import TokenUsage

_CHAT_COUNTS = ("prompt_tokens", "completion_tokens")
_RESPONSES_COUNTS = ("input_tokens", "output_tokens")
TOOL_SUFFIX = "_requests"  # server_tool_use {"web_search_requests": n} -> ("web_search", n)


def token_usage(usage: Any) -> TokenUsage | None:
    """The normalised usage of an OpenAI-style ``usage`` object; None when it is absent or
    holds no token count."""
    if not isinstance(usage, dict):
        return None
    if any(key in usage for key in _CHAT_COUNTS):
        return _chat_usage(usage)
    if any(key in usage for key in _RESPONSES_COUNTS):
        return _responses_usage(usage)
    return None


def _chat_usage(usage: dict[str, Any]) -> TokenUsage:
    prompt = details(usage, "prompt_tokens_details")
    completion = details(usage, "completion_tokens_details")
    cached = count(prompt.get("cached_tokens")) or count(usage.get("prompt_cache_hit_tokens"))
    creation = details(prompt, "cache_creation")
    return TokenUsage(
        prompt_tokens=count(usage.get("prompt_tokens")),
        completion_tokens=count(usage.get("completion_tokens")),
        cached_tokens=cached,
        # OpenAI's newer models and DashScope's explicit cache name the write part differently.
        cache_write_tokens=max(
            count(prompt.get("cache_write_tokens")),
            count(prompt.get("cache_creation_input_tokens")),
        ),
        cache_write_1h_tokens=count(creation.get("ephemeral_1h_input_tokens")),
        reasoning_tokens=count(completion.get("reasoning_tokens")),
        audio_input_tokens=count(prompt.get("audio_tokens")),
        image_input_tokens=count(prompt.get("image_tokens")),
        audio_output_tokens=count(completion.get("audio_tokens")),
        image_output_tokens=count(completion.get("image_tokens")),
        tool_calls=tool_calls(usage.get("server_tool_use")),
    )


def _responses_usage(usage: dict[str, Any]) -> TokenUsage:
    """The Responses API's usage, and the same shape from image generation (whose output
    tokens are image tokens unless it breaks them down) and transcription."""
    given = details(usage, "input_tokens_details") or details(usage, "input_token_details")
    output = details(usage, "output_tokens_details")
    completion = count(usage.get("output_tokens"))
    image_out = count(output.get("image_tokens"))
    if not output and "image_tokens" in given:
        image_out = completion
    return TokenUsage(
        prompt_tokens=count(usage.get("input_tokens")),
        completion_tokens=completion,
        cached_tokens=count(given.get("cached_tokens")),
        cache_write_tokens=count(given.get("cache_write_tokens")),
        reasoning_tokens=count(output.get("reasoning_tokens")),
        audio_input_tokens=count(given.get("audio_tokens")),
        image_input_tokens=count(given.get("image_tokens")),
        audio_output_tokens=count(output.get("audio_tokens")),
        image_output_tokens=image_out,
    )


def tool_calls(server_tool_use: Any) -> tuple[tuple[str, int], ...]:
    """Server-side tool calls by kind from a ``server_tool_use`` object (Anthropic's, and
    ours in OpenAI format): every ``<kind>_requests`` count above zero, sorted by kind."""
    if not isinstance(server_tool_use, dict):
        return ()
    calls = (
        (key.removesuffix(TOOL_SUFFIX), count(value))
        for key, value in server_tool_use.items()
        if isinstance(key, str) and key.endswith(TOOL_SUFFIX) and key != TOOL_SUFFIX
    )
    return tuple(sorted((kind, n) for kind, n in calls if n))


def details(usage: dict[str, Any], key: str) -> dict[str, Any]:
    """``usage[key]`` when it is an object, else an empty one."""
    value = usage.get(key)
    return value if type(value) is dict else _NONE


_NONE: dict[str, Any] = {}  # read only: the details of a usage object without them


def count(value: Any) -> int:
    """A token count: a non-negative whole number, 0 for anything else."""
    if not value:  # most details are absent or 0: the cheapest test first (per answer)
        return 0
    if type(value) is int:
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)
