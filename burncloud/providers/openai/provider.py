"""OpenAI and OpenAI-compatible channels: the client's body goes out as it came, nearly.

Only the model name changes, and streams always ask for usage (PROTOCOLS 9.2), which the
stream transcoder hides again from clients that did not ask. Channel config: optional
``organization`` and ``project`` (OpenAI's account headers) and ``stream_usage=off`` for
compatible upstreams that reject ``stream_options``.
"""

from __future__ import annotations

from collections.abc import Mapping

from burncloud.errors import BurncloudError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import (
    ChannelAccess,
    ChatAnswer,
    EmbeddingsAnswer,
    TokenUsage,
    UpstreamRequest,
)
from burncloud.providers.openai.errors import map_error
from burncloud.providers.openai.request import (
    chat_answer,
    chat_body,
    join_url,
    json_request,
    read_answer,
    wants_stream_usage,
)
from burncloud.providers.openai.responses_native import (
    responses_answer,
    responses_request,
    responses_stream,
)
from burncloud.providers.openai.responses_stream import ResponsesEventStream
from burncloud.providers.openai.stream import OpenAIChunkStream

_ACCOUNT_HEADERS = (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project"))


class OpenAIProvider:
    """Chat and embeddings for upstreams that speak OpenAI's API (Bearer key), and the
    Responses API's requests untouched (its ``native`` format)."""

    __slots__ = ("name",)

    def __init__(self, name: str = "openai") -> None:
        self.name = name

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """POST ``{base_url}/chat/completions`` with the body for ``model``."""
        usage = wants_stream_usage(channel.config)
        data = chat_body(self.prepare(body, model, stream), model, stream, usage)
        url = join_url(channel.base_url, "/chat/completions")
        return json_request(url, self.headers(channel), data)

    def prepare(self, body: JSON, model: str, stream: bool) -> JSON:
        """Hook for compatible vendors' request quirks; OpenAI needs none."""
        return body

    def headers(self, channel: ChannelAccess) -> dict[str, str]:
        """Bearer auth plus the optional OpenAI account headers from the channel config."""
        headers = {"Authorization": f"Bearer {channel.key}"}
        for key, header in _ACCOUNT_HEADERS:
            if channel.config.get(key):
                headers[header] = channel.config[key]
        return headers

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The answer unchanged, with its usage."""
        return chat_answer(raw)

    def chat_stream(self, model: str, include_usage: bool) -> OpenAIChunkStream:
        return OpenAIChunkStream(include_usage=include_usage)

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        return map_error(status, raw, retry_after)

    def embeddings_request(self, channel: ChannelAccess, body: JSON, model: str) -> UpstreamRequest:
        """POST ``{base_url}/embeddings`` with the client's body for ``model``."""
        url = join_url(channel.base_url, "/embeddings")
        return json_request(url, self.headers(channel), {**body, "model": model})

    def embeddings_answer(self, raw: bytes, model: str, body: JSON) -> EmbeddingsAnswer:
        """The OpenAI ``list`` answer unchanged, with its usage."""
        return embeddings_answer(raw)

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
        """POST ``{base_url}/responses`` with the client's Responses request."""
        url = join_url(channel.base_url, "/responses")
        return responses_request(url, self.headers(channel), raw, body, model, max_tokens)

    def native_stream(self, model: str) -> ResponsesEventStream:
        return responses_stream()

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        return responses_answer(raw)


def embeddings_answer(raw: bytes) -> EmbeddingsAnswer:
    """An OpenAI-style embeddings answer and its usage (input tokens only)."""
    data = read_answer(raw)
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return EmbeddingsAnswer(result=data, usage=None)
    prompt = usage.get("prompt_tokens", usage.get("total_tokens"))
    tokens = prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else 0
    return EmbeddingsAnswer(
        result=data, usage=TokenUsage(prompt_tokens=tokens, completion_tokens=0)
    )
