"""OpenAI and OpenAI-compatible upstreams; the pieces Azure and DashScope reuse."""

from __future__ import annotations

from burncloud.providers.base import EmbeddingsAnswer
from burncloud.providers.openai.errors import map_error
from burncloud.providers.openai.provider import OpenAIProvider
from burncloud.providers.openai.stream import OpenAIChunkStream
from burncloud.providers.openai.usage import token_usage

__all__ = ["EmbeddingsAnswer", "OpenAIChunkStream", "OpenAIProvider", "map_error", "token_usage"]
