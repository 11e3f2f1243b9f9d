"""Which provider speaks for each channel type: one line per provider.

Providers are stateless, so one instance per channel type serves every request.
"""

from __future__ import annotations

from burncloud.errors import ServiceUnavailable
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.azure import AzureProvider
from burncloud.providers.base import ChatProvider
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.gemini import GeminiProvider
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.qwen import QwenProvider

# The channel types whose requests the relay passes through as bytes (``openai_style``).
OPENAI_STYLE: dict[str, OpenAIProvider] = {
    "openai": OpenAIProvider("openai"),
    "openai-compatible": OpenAIProvider("openai-compatible"),
    "qwen": QwenProvider(),
}

PROVIDERS: dict[str, ChatProvider] = {
    **OPENAI_STYLE,
    "azure": AzureProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
    "bedrock": BedrockProvider(),
}


def provider_for(channel_type: str) -> ChatProvider:
    """The provider for ``channel_type``; ServiceUnavailable if this build has none."""
    provider = PROVIDERS.get(channel_type)
    if provider is None:
        raise ServiceUnavailable(f"no provider for {channel_type!r} channels in this build")
    return provider
