"""Reading an OpenAI-style ``usage`` object (OpenAI, Azure, DashScope and other compatibles)."""

from __future__ import annotations

from typing import Any

from burncloud.providers.base import TokenUsage


def token_usage(usage: Any) -> TokenUsage | None:
    """The normalised usage of an OpenAI ``usage`` object; None when it is absent or empty."""
    if not isinstance(usage, dict) or not usage:
        return None
    prompt = _details(usage, "prompt_tokens_details")
    completion = _details(usage, "completion_tokens_details")
    return TokenUsage(
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        cached_tokens=_count(prompt.get("cached_tokens")),
        # OpenAI's newer models and DashScope's explicit cache name the write part differently.
        cache_write_tokens=max(
            _count(prompt.get("cache_write_tokens")),
            _count(prompt.get("cache_creation_input_tokens")),
        ),
        reasoning_tokens=_count(completion.get("reasoning_tokens")),
    )


def _details(usage: dict[str, Any], key: str) -> dict[str, Any]:
    details = usage.get(key)
    return details if isinstance(details, dict) else {}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)
