"""AWS Bedrock upstreams: OpenAI chat over Converse and ConverseStream, SigV4-signed."""

from __future__ import annotations

from burncloud.providers.bedrock.provider import BedrockProvider

__all__ = ["BedrockProvider"]
