"""``BedrockProvider``: OpenAI chat over Bedrock Converse / ConverseStream (PROTOCOLS.md 7),
and Anthropic Messages requests for Claude models over InvokeModel, as they came (``invoke``).

The channel key is ``ACCESS_KEY_ID:SECRET_ACCESS_KEY`` or
``ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN`` and requests are SigV4-signed for service
``bedrock`` in the channel's ``region``; a key without a colon is a Bedrock API key, sent
as a bearer token. The clock is injectable so signatures and ``created`` are reproducible.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import quote

import orjson

from burncloud.errors import BurncloudError, UpstreamError
from burncloud.protocols.openai_chunks import ChunkWriter
from burncloud.protocols.shapes import JSON
from burncloud.providers.anthropic.response import convert_answer
from burncloud.providers.anthropic.stream import AnthropicChatStream
from burncloud.providers.base import ChannelAccess, ChatAnswer, UpstreamRequest
from burncloud.providers.bedrock import response
from burncloud.providers.bedrock.errors import http_error
from burncloud.providers.bedrock.invoke import invoke_action, invoke_body
from burncloud.providers.bedrock.invoke_stream import InvokeStreamTranscoder
from burncloud.providers.bedrock.request import converse_body
from burncloud.providers.bedrock.sigv4 import AwsCredentials, sign_request
from burncloud.providers.bedrock.stream import ConverseStreamTranscoder
from burncloud.providers.passthrough import PassthroughStream

SERVICE = "bedrock"
STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"


def new_completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


class BedrockProvider:
    """OpenAI chat over Converse, and Claude's Messages API over InvokeModel; pure apart
    from the clock."""

    name = "bedrock"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        make_id: Callable[[], str] = new_completion_id,
    ) -> None:
        self._clock = clock
        self._make_id = make_id

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """The signed POST to ``/model/{model}/converse`` or ``/converse-stream``."""
        payload = orjson.dumps(converse_body(body, model))
        return self._post(channel, model, "converse-stream" if stream else "converse", payload)

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
        """An Anthropic Messages request for Claude ``model``, over InvokeModel: the body
        as the client sent it, less ``model`` and ``stream``, plus Bedrock's API version and
        the client's betas (``invoke``)."""
        payload = orjson.dumps(invoke_body(body, max_tokens, client_headers))
        return self._post(channel, model, invoke_action(stream), payload)

    def native_stream(self, model: str) -> InvokeStreamTranscoder:
        """Claude's events out of InvokeModelWithResponseStream frames, as Anthropic SSE."""
        reader = AnthropicChatStream(model, False, int(self._clock()))
        return InvokeStreamTranscoder(PassthroughStream(reader))

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """A whole InvokeModel answer: Claude's Messages answer, read as Anthropic's is."""
        return convert_answer(raw, model, int(self._clock()))

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The OpenAI completion for a whole Converse answer."""
        return response.chat_answer(raw, model, self._make_id(), int(self._clock()))

    def chat_stream(self, model: str, include_usage: bool) -> ConverseStreamTranscoder:
        """A transcoder from ConverseStream bytes to OpenAI chunks."""
        writer = ChunkWriter(self._make_id(), model, int(self._clock()))
        return ConverseStreamTranscoder(writer, include_usage)

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        """The burncloud error for a non-200 Bedrock answer."""
        return http_error(status, raw, retry_after)

    def _post(
        self, channel: ChannelAccess, model: str, action: str, payload: bytes
    ) -> UpstreamRequest:
        """The signed POST of ``payload`` to ``/model/{model}/{action}``; the model id is
        one path segment (``:`` and ``/`` percent-encoded)."""
        url = f"{channel.base_url.rstrip('/')}/model/{quote(model, safe='')}/{action}"
        headers = self._auth_headers(channel, url, payload)
        streams = action.endswith("stream")
        headers["Accept"] = STREAM_CONTENT_TYPE if streams else "application/json"
        return UpstreamRequest(url=url, headers=headers, body=payload)

    def _auth_headers(self, channel: ChannelAccess, url: str, payload: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = channel.key.strip()
        if ":" not in key:
            return headers | {"Authorization": f"Bearer {key}"}
        region = channel.config.get("region")
        if not region:
            raise UpstreamError("the Bedrock channel has no region configured")
        return sign_request(
            "POST",
            url,
            headers,
            payload,
            credentials=parse_credentials(key),
            region=region,
            service=SERVICE,
            now=self._clock(),
        )


def parse_credentials(key: str) -> AwsCredentials:
    """AWS credentials from ``ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]``."""
    parts = key.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise UpstreamError(
            "the Bedrock channel key must be ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]"
        )
    token = parts[2] if len(parts) == 3 and parts[2] else None
    return AwsCredentials(parts[0], parts[1], token)
