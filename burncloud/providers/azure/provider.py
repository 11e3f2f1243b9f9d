"""Azure OpenAI channels: OpenAI bodies, Azure URLs and ``api-key`` auth, filters removed.

The channel's base URL is the resource, ``https://{resource}.openai.azure.com`` (a trailing
``/openai`` or ``/openai/v1`` is accepted too). Channel config:

* ``api_version`` (or ``api-version``): a dated version such as ``2024-10-21`` or
  ``2025-01-01-preview`` selects the classic scheme,
  ``{base}/openai/deployments/{deployment}/chat/completions?api-version=...``. Absent or
  ``v1`` selects the v1 scheme, ``{base}/openai/v1/chat/completions`` with the deployment as
  ``model``; another undated value (``preview``) selects v1 with ``?api-version=<value>``.
  A base URL ending in ``/openai/v1`` always means v1.
* ``deployments``: ``model=deployment`` pairs, comma separated, e.g.
  ``gpt-4o=prod-4o,gpt-4o-mini=prod-mini``; ``deployment``: one deployment for any other
  model. Without either, the deployment is named like the model (after the channel's map).

Classic versions older than 2024-09-01 know no ``stream_options``, so their streams are not
asked for usage (it is estimated). Azure's prompt-filter chunk and the
``prompt_filter_results`` / ``content_filter_results`` annotations are removed from answers
and streams; a ``content_filter`` finish reason is kept. Images (generations, edits; Azure
has no variations) and audio (speech, transcriptions, translations) go to the same
deployment URLs, their bodies and answers as OpenAI's (``media_target``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChannelAccess, ChatAnswer, EmbeddingsAnswer, UpstreamRequest
from burncloud.providers.media import MediaTarget
from burncloud.providers.openai import OpenAIChunkStream, map_error
from burncloud.providers.openai.provider import embeddings_answer
from burncloud.providers.openai.request import chat_body, json_request, read_answer
from burncloud.providers.openai.responses_native import (
    responses_answer,
    responses_request,
    responses_stream,
)
from burncloud.providers.openai.responses_stream import ResponsesEventStream
from burncloud.providers.openai.usage import token_usage

_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
STREAM_USAGE_SINCE = "2024-09-01"


@dataclass(frozen=True, slots=True)
class AzureTarget:
    """Where one model's requests go on an Azure resource."""

    resource: str
    deployment: str
    api_version: str | None
    v1: bool

    def url(self, operation: str) -> str:
        """The URL of ``operation`` (``chat/completions``, ``embeddings``) for the deployment."""
        if self.v1:
            query = f"?api-version={quote(self.api_version)}" if self.api_version else ""
            return f"{self.resource}/openai/v1/{operation}{query}"
        deployment = quote(self.deployment, safe="")
        version = quote(self.api_version or "")
        return f"{self.resource}/openai/deployments/{deployment}/{operation}?api-version={version}"

    def resource_url(self, operation: str) -> str:
        """The URL of a resource-level ``operation`` (not under a deployment)."""
        return f"{self.resource}/openai/{operation}?api-version={quote(self.api_version or '')}"

    @property
    def stream_usage(self) -> bool:
        """Whether this API version accepts ``stream_options``."""
        return self.v1 or (self.api_version or "")[:10] >= STREAM_USAGE_SINCE


def azure_target(channel: ChannelAccess, model: str) -> AzureTarget:
    """The resource URL, deployment and API scheme for ``model`` on ``channel``."""
    resource, forced_v1 = _resource(channel.base_url)
    config = channel.config
    version = (config.get("api_version") or config.get("api-version") or "").strip() or None
    dated = version is not None and _DATED.match(version) is not None
    v1 = forced_v1 or not dated
    if v1 and (dated or version == "v1"):
        version = None  # the v1 scheme takes no dated versions
    return AzureTarget(resource, _deployment(config, model), version, v1)


class AzureProvider:
    """Chat and embeddings on Azure OpenAI deployments."""

    __slots__ = ()
    name = "azure"

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """POST to the deployment's chat URL with the ``api-key`` header."""
        target = azure_target(channel, model)
        data = chat_body(body, target.deployment, stream, target.stream_usage)
        return json_request(target.url("chat/completions"), _headers(channel), data)

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The answer without Azure's filter annotations, with its usage."""
        data = read_answer(raw)
        data.pop("prompt_filter_results", None)
        for choice in data.get("choices") or ():
            if isinstance(choice, dict):
                choice.pop("content_filter_results", None)
        return ChatAnswer(completion=data, usage=token_usage(data.get("usage")))

    def chat_stream(self, model: str, include_usage: bool) -> OpenAIChunkStream:
        return OpenAIChunkStream(include_usage=include_usage, strip_filters=True)

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        return map_error(status, raw, retry_after)

    def embeddings_request(self, channel: ChannelAccess, body: JSON, model: str) -> UpstreamRequest:
        """POST to the deployment's embeddings URL."""
        target = azure_target(channel, model)
        data = {**body, "model": target.deployment}
        return json_request(target.url("embeddings"), _headers(channel), data)

    def embeddings_answer(self, raw: bytes, model: str, body: JSON) -> EmbeddingsAnswer:
        return embeddings_answer(raw)

    def media_target(self, channel: ChannelAccess, operation: str, model: str) -> MediaTarget:
        """The deployment's image or audio ``operation``: its classic URL (the deployment
        in the path, the body's model left as it is), or v1's with the deployment as the
        body's ``model``."""
        target = azure_target(channel, model)
        return MediaTarget(
            target.url(operation), _headers(channel), target.deployment if target.v1 else None
        )

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
        """POST the Responses request to the resource's ``/openai/v1/responses`` (with a
        classic dated version: ``/openai/responses?api-version=...``), for the deployment."""
        target = azure_target(channel, model)
        url = target.url("responses") if target.v1 else target.resource_url("responses")
        headers = _headers(channel)
        return responses_request(url, headers, raw, body, target.deployment, max_tokens)

    def native_stream(self, model: str) -> ResponsesEventStream:
        return responses_stream()

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        return responses_answer(raw)


def _resource(base_url: str) -> tuple[str, bool]:
    """The resource URL without an ``/openai`` suffix, and whether it named ``/openai/v1``."""
    url = base_url.rstrip("/")
    if url.endswith("/openai/v1"):
        return url.removesuffix("/openai/v1"), True
    return url.removesuffix("/openai"), False


def _deployment(config: Mapping[str, str], model: str) -> str:
    for pair in (config.get("deployments") or "").split(","):
        source, sep, target = pair.partition("=")
        if sep and source.strip() == model and target.strip():
            return target.strip()
    deployment = (config.get("deployment") or "").strip() or model
    if not deployment:
        raise InvalidRequest("no Azure deployment for an empty model name")
    return deployment


def _headers(channel: ChannelAccess) -> dict[str, str]:
    return {"api-key": channel.key}
