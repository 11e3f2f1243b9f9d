"""Gemini ``usageMetadata``: every count and modality read, and written back by the front door."""

from __future__ import annotations

from google.genai import types

from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini.usage import modalities, token_usage, usage_metadata

# A gemini-2.5-flash usage block with cached audio, as pydantic/genai-prices tests it
# (packages/js/src/__tests__/extractUsage.test.ts, "should have correct usage with caching").
CACHED_AUDIO = {
    "cachedContentTokenCount": 12239,
    "cacheTokensDetails": [
        {"modality": "AUDIO", "tokenCount": 129},
        {"modality": "TEXT", "tokenCount": 12110},
    ],
    "candidatesTokenCount": 50,
    "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 50}],
    "promptTokenCount": 14152,
    "promptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 14002},
        {"modality": "AUDIO", "tokenCount": 150},
    ],
    "thoughtsTokenCount": 69,
    "totalTokenCount": 14271,
    "trafficType": "ON_DEMAND",
}


def test_cached_audio_counts_as_cached_and_the_rest_as_audio() -> None:
    types.GenerateContentResponseUsageMetadata.model_validate(CACHED_AUDIO)  # the SDK's shape
    assert token_usage(CACHED_AUDIO) == TokenUsage(
        prompt_tokens=14152,
        completion_tokens=50 + 69,
        cached_tokens=12239,
        reasoning_tokens=69,
        audio_input_tokens=150 - 129,
    )


def test_tool_use_prompt_and_its_modalities_are_prompt_tokens() -> None:
    meta = {
        "promptTokenCount": 10,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
        "toolUsePromptTokenCount": 25,
        "toolUsePromptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 10},
            {"modality": "AUDIO", "tokenCount": 5},
            {"modality": "IMAGE", "tokenCount": 7},
            {"modality": "VIDEO", "tokenCount": 3},
        ],
        "candidatesTokenCount": 3,
    }
    assert token_usage(meta) == TokenUsage(35, 3, audio_input_tokens=5, image_input_tokens=7)


def test_generated_images_and_audio_are_output_kinds() -> None:
    meta = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 1300,
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": 1290},
            {"modality": "TEXT", "tokenCount": 10},
        ],
    }
    assert token_usage(meta) == TokenUsage(12, 1300, image_output_tokens=1290)
    meta["candidatesTokensDetails"] = [{"modality": "AUDIO", "tokenCount": 1300}]
    assert token_usage(meta) == TokenUsage(12, 1300, audio_output_tokens=1300)


def test_modalities_skip_what_is_not_a_count() -> None:
    details = [
        {"modality": "TEXT", "tokenCount": 9},
        {"modality": "VIDEO"},  # as a recorded YouTube answer sends it
        {"modality": "audio", "tokenCount": 4},
        {"tokenCount": 5},
        "AUDIO",
    ]
    assert modalities(details) == {"TEXT": 9, "VIDEO": 0, "AUDIO": 4}
    assert modalities(None) == {}


def test_the_front_door_writes_cache_thoughts_and_modalities() -> None:
    usage = TokenUsage(
        prompt_tokens=2012,
        completion_tokens=1400,
        cached_tokens=1920,
        reasoning_tokens=100,
        audio_input_tokens=44,
        image_input_tokens=258,
        image_output_tokens=1290,
    )
    meta = usage_metadata(usage)
    types.GenerateContentResponseUsageMetadata.model_validate(meta)
    assert meta == {
        "promptTokenCount": 2012,
        "candidatesTokenCount": 1300,
        "totalTokenCount": 3412,
        "cachedContentTokenCount": 1920,
        "thoughtsTokenCount": 100,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 2012 - 44 - 258},
            {"modality": "AUDIO", "tokenCount": 44},
            {"modality": "IMAGE", "tokenCount": 258},
        ],
        "candidatesTokensDetails": [
            {"modality": "TEXT", "tokenCount": 10},
            {"modality": "IMAGE", "tokenCount": 1290},
        ],
    }
    assert token_usage(meta) == usage


def test_a_text_only_usage_has_no_breakdown() -> None:
    assert usage_metadata(TokenUsage(3, 19, reasoning_tokens=17)) == {
        "promptTokenCount": 3,
        "candidatesTokenCount": 2,
        "totalTokenCount": 22,
        "thoughtsTokenCount": 17,
    }
