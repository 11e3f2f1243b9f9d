"""The Responses API (``POST /v1/responses``) on channels that serve it themselves: OpenAI,
OpenAI-compatible servers that list it, Azure's ``/openai/v1/responses``.

The client's bytes go up as they came unless the channel maps the model or the balance caps
the answer (``max_output_tokens``, the Responses API's one limit field); the answer comes
back as it came, metered by ``ResponsesEventStream`` (stream) or read for its usage (whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChatAnswer, UpstreamRequest
from burncloud.providers.openai.responses_stream import ResponsesEventStream, response_texts
from burncloud.providers.openai.usage import token_usage

LIMIT_FIELD = "max_output_tokens"


def responses_body(raw: bytes, body: Mapping[str, Any], model: str, cap: int | None) -> bytes:
    """The bytes to send: ``raw`` untouched unless the model or the answer's cap changes."""
    if body.get("model") == model and cap is None:
        return raw
    data = {**body, "model": model}
    if cap is not None:
        data[LIMIT_FIELD] = cap
    return orjson.dumps(data)


def responses_request(
    url: str, headers: Mapping[str, str], raw: bytes, body: JSON, model: str, cap: int | None
) -> UpstreamRequest:
    """A POST of the (nearly) untouched request to ``url``."""
    return UpstreamRequest(
        url=url,
        headers={**headers, "Content-Type": "application/json"},
        body=responses_body(raw, body, model, cap),
    )


def responses_stream() -> ResponsesEventStream:
    """A fresh meter of one Responses event stream, relayed as it comes."""
    return ResponsesEventStream()


def responses_answer(raw: bytes) -> ChatAnswer:
    """The usage of a whole Responses answer; without one, its texts (as a one-message
    completion, which is what an estimate reads). A Response always has an ``error``
    member, null unless it failed."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("the upstream answered with something other than JSON") from None
    if not isinstance(data, dict) or data.get("error"):
        raise UpstreamError("the upstream answered with something other than a Response")
    usage = token_usage(data.get("usage"))
    if usage is not None:
        return ChatAnswer(completion={}, usage=usage)
    text = "\n".join(response_texts(data))
    return ChatAnswer(completion={"choices": [{"message": {"content": text}}]}, usage=None)
