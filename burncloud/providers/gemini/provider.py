"""The Gemini provider: ``generateContent``, ``streamGenerateContent`` and embeddings.

The key travels only in the ``x-goog-api-key`` header, never in a URL. The channel's base
URL defaults to Google's; it may already end in an API version (``.../v1beta``), otherwise
the channel config's ``api_version`` (default ``v1beta``) is added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

import orjson

from burncloud.errors import BurncloudError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChannelAccess, ChatAnswer, EmbeddingsAnswer, UpstreamRequest
from burncloud.providers.gemini.embeddings import convert_embeddings, embeddings_body
from burncloud.providers.gemini.errors import upstream_error
from burncloud.providers.gemini.request import build_body
from burncloud.providers.gemini.response import convert_answer
from burncloud.providers.gemini.stream import GeminiStream
from burncloud.providers.passthrough import PassthroughStream

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")


class GeminiProvider:
    """OpenAI chat and embeddings over the native Gemini API (PROTOCOLS.md 4, 8.4)."""

    __slots__ = ()
    name = "gemini"

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """The ``generateContent`` (or ``streamGenerateContent?alt=sse``) request."""
        model = bare_model(model)
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return _post(channel, model, method, build_body(body, model, stream), stream)

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The ``chat.completion`` for a whole answer; ``model`` is the client's name."""
        return convert_answer(raw, model)

    def chat_stream(self, model: str, include_usage: bool) -> GeminiStream:
        """A fresh transcoder for one ``alt=sse`` stream."""
        return GeminiStream(model, include_usage)

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        """The OpenAI-shaped error for a non-200 Gemini answer."""
        return upstream_error(status, raw, retry_after)

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
        """A Gemini-format request sent as it came (the model is in the URL), with
        ``maxOutputTokens`` set when the answer must be limited; the client's own key,
        header or query, never goes upstream."""
        if max_tokens is not None:
            config = body.get("generationConfig")
            config = {**(config if isinstance(config, dict) else {}), "maxOutputTokens": max_tokens}
            raw = orjson.dumps({**body, "generationConfig": config})
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return _post_bytes(channel, bare_model(model), method, raw, stream)

    def native_stream(self, model: str) -> PassthroughStream:
        """The upstream's ``alt=sse`` events passed on, read for usage by ``chat_stream``."""
        return PassthroughStream(GeminiStream(model, False))

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """A whole ``generateContent`` answer, read as ``chat_answer`` reads it."""
        return convert_answer(raw, model)

    def embeddings_request(self, channel: ChannelAccess, body: JSON, model: str) -> UpstreamRequest:
        """The ``batchEmbedContents`` request for an OpenAI embeddings ``body``."""
        model = bare_model(model)
        return _post(channel, model, "batchEmbedContents", embeddings_body(body, model), False)

    def embeddings_answer(self, raw: bytes, model: str, body: JSON) -> EmbeddingsAnswer:
        """The OpenAI embeddings list for the client's ``body``; ``usage`` is None (Gemini
        reports none)."""
        return convert_embeddings(raw, model, body)


def bare_model(model: str) -> str:
    """``models/gemini-2.5-flash`` -> ``gemini-2.5-flash``."""
    return model.removeprefix("models/")


def model_url(channel: ChannelAccess, model: str, method: str) -> str:
    """``{base}/{version}/models/{model}:{method}`` with the model id URL-encoded."""
    base = (channel.base_url or DEFAULT_BASE_URL).rstrip("/")
    if not _VERSIONED.search(base):
        base += "/" + (channel.config.get("api_version") or DEFAULT_API_VERSION)
    return f"{base}/models/{quote(model, safe='')}:{method}"


def _post(
    channel: ChannelAccess, model: str, method: str, payload: JSON, stream: bool
) -> UpstreamRequest:
    return _post_bytes(channel, model, method, orjson.dumps(payload), stream)


def _post_bytes(
    channel: ChannelAccess, model: str, method: str, body: bytes, stream: bool
) -> UpstreamRequest:
    headers = {"content-type": "application/json", "x-goog-api-key": channel.key}
    if stream:
        headers["accept"] = "text/event-stream"
    return UpstreamRequest(model_url(channel, model, method), headers, body)
