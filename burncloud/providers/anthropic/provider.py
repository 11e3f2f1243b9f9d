"""``AnthropicProvider``: OpenAI chat over the Messages API, and Messages requests as they
came for the Anthropic front door (``native_*``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from burncloud.errors import BurncloudError
from burncloud.protocols.shapes import JSON
from burncloud.providers.anthropic.errors import error_from_response
from burncloud.providers.anthropic.request import build_request, native_request
from burncloud.providers.anthropic.response import convert_answer
from burncloud.providers.anthropic.stream import AnthropicChatStream
from burncloud.providers.base import ChannelAccess, ChatAnswer, UpstreamRequest
from burncloud.providers.passthrough import PassthroughStream


@dataclass(frozen=True, slots=True)
class AnthropicProvider:
    """Chat completions over Anthropic's Messages API; ``clock`` dates the answers."""

    name: str = "anthropic"
    clock: Callable[[], float] = time.time

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """The ``/v1/messages`` request; InvalidRequest for what Anthropic cannot express."""
        return build_request(channel, body, model, stream)

    def native_request(
        self,
        channel: ChannelAccess,
        raw: bytes,
        body: JSON,
        model: str,
        stream: bool,
        max_tokens: int | None,
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        """A Messages-format request passed through (``stream`` is in the body already)."""
        return native_request(channel, raw, body, model, max_tokens, client_headers)

    def native_stream(self, model: str) -> PassthroughStream:
        """The upstream's Messages events passed on, read for usage by ``chat_stream``."""
        return PassthroughStream(self.chat_stream(model, False))

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """A whole Messages answer, read as ``chat_answer`` reads it."""
        return self.chat_answer(raw, model)

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The ``chat.completion`` for a whole 200 answer, named ``model``."""
        return convert_answer(raw, model, int(self.clock()))

    def chat_stream(self, model: str, include_usage: bool) -> AnthropicChatStream:
        """A fresh transcoder for one streamed answer."""
        return AnthropicChatStream(model, include_usage, int(self.clock()))

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        """The burncloud error for a non-200 answer (PROTOCOLS.md 8.7)."""
        return error_from_response(status, raw, retry_after)
