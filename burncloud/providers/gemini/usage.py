"""Gemini's ``usageMetadata``, read from an upstream answer and written by the front door.

``promptTokenCount`` includes the cached content; the tool-use prompt
(``toolUsePromptTokenCount``) comes on top, and so do the thoughts beside
``candidatesTokenCount``. Each part may be broken down by modality
(``promptTokensDetails``, ``cacheTokensDetails``, ``toolUsePromptTokensDetails``,
``candidatesTokensDetails``: ``[{"modality": "AUDIO", "tokenCount": 150}]``). Audio and image
tokens are kinds of their own; text, video and document tokens bill at the input price, as
Google bills them. Audio or image input read from the cache counts as cached, not twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from burncloud.protocols.shapes import JSON
from burncloud.providers.base import TokenUsage

_PROMPT_PARTS = ("promptTokensDetails", "toolUsePromptTokensDetails")


def token_usage(meta: object) -> TokenUsage | None:
    """The usage in one ``usageMetadata``; None when there is none."""
    if not isinstance(meta, dict):
        return None
    thoughts = _count(meta.get("thoughtsTokenCount"))
    prompt = Counter[str]()
    for key in _PROMPT_PARTS:
        prompt.update(modalities(meta.get(key)))
    prompt.subtract(modalities(meta.get("cacheTokensDetails")))
    output = modalities(meta.get("candidatesTokensDetails"))
    return TokenUsage(
        prompt_tokens=_count(meta.get("promptTokenCount"))
        + _count(meta.get("toolUsePromptTokenCount")),
        completion_tokens=_count(meta.get("candidatesTokenCount")) + thoughts,
        cached_tokens=_count(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_input_tokens=max(prompt["AUDIO"], 0),
        image_input_tokens=max(prompt["IMAGE"], 0),
        audio_output_tokens=output["AUDIO"],
        image_output_tokens=output["IMAGE"],
    )


def modalities(details: Any) -> Counter[str]:
    """Tokens by modality in a ``*TokensDetails`` list (an entry without a count counts 0)."""
    counts = Counter[str]()
    for entry in details if isinstance(details, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("modality"), str):
            counts[entry["modality"].upper()] += _count(entry.get("tokenCount"))
    return counts


def usage_metadata(usage: TokenUsage) -> JSON:
    """Gemini ``usageMetadata`` for ``usage``: candidates exclude the thoughts, the prompt
    includes the cache; the modality breakdowns when audio or image tokens are known."""
    candidates = max(usage.completion_tokens - usage.reasoning_tokens, 0)
    meta: JSON = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cached_tokens:
        meta["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.audio_input_tokens or usage.image_input_tokens:
        split = {"AUDIO": usage.audio_input_tokens, "IMAGE": usage.image_input_tokens}
        meta["promptTokensDetails"] = _details(usage.prompt_tokens, split)
    if usage.audio_output_tokens or usage.image_output_tokens:
        split = {"AUDIO": usage.audio_output_tokens, "IMAGE": usage.image_output_tokens}
        meta["candidatesTokensDetails"] = _details(candidates, split)
    return meta


def _details(total: int, split: Mapping[str, int]) -> list[JSON]:
    """``total`` broken down by modality: the named ones, the rest as TEXT (zeros left out)."""
    text = max(total - sum(split.values()), 0)
    parts = {"TEXT": text, **split}
    return [{"modality": name, "tokenCount": n} for name, n in parts.items() if n]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
