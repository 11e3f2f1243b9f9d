"""The Anthropic Messages API as a chat provider: OpenAI chat in, Anthropic on the wire.

``request`` builds ``POST {base}/v1/messages`` (with ``messages``, ``content`` and ``tools``);
``response`` converts a whole answer; ``stream`` transcodes the SSE stream; ``errors`` maps
failures (PROTOCOLS.md 3, 8.1-8.3, 8.7, 9). ``front/`` holds the reverse
direction for the Anthropic front door (8.6): a Messages request as an OpenAI chat request,
an OpenAI answer or chunk stream as an Anthropic message or event stream, errors in
Anthropic's shape.
"""

from burncloud.providers.anthropic.provider import AnthropicProvider

__all__ = ["AnthropicProvider"]
