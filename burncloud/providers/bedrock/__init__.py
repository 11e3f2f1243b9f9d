"""AWS Bedrock upstreams: OpenAI chat over Converse and ConverseStream, and Anthropic
Messages requests for Claude models over InvokeModel; SigV4-signed."""

from __future__ import annotations

from burncloud.providers.bedrock.invoke import is_claude_model
from burncloud.providers.bedrock.provider import BedrockProvider

__all__ = ["BedrockProvider", "is_claude_model"]
