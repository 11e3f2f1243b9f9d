"""Building OpenAI-style upstream requests and reading their whole answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChatAnswer, UpstreamRequest
from burncloud.providers.openai.errors import read_fault
from burncloud.providers.openai.usage import token_usage

_OFF = frozenset({"0", "false", "no", "off"})


def chat_body(body: JSON, model: str, stream: bool, stream_usage: bool = True) -> JSON:
    """The client's chat body for upstream ``model``, asking for stream usage when streaming.

    ``stream_options`` goes only with ``stream: true`` (OpenAI answers 400 otherwise), and
    never to an upstream that rejects it (``stream_usage`` false), even when the client sent
    it: its usage is then estimated.
    """
    data = dict(body)
    data["model"] = model
    if stream:
        data["stream"] = True
        if stream_usage:
            options = data.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            data["stream_options"] = {**options, "include_usage": True}
        else:
            data.pop("stream_options", None)
    else:
        data.pop("stream_options", None)
        if "stream" in data:
            data["stream"] = False
    return data


def wants_stream_usage(config: Mapping[str, str]) -> bool:
    """False when the channel says its upstream rejects ``stream_options`` (config
    ``stream_usage=off``); usage is then estimated."""
    return config.get("stream_usage", "").strip().lower() not in _OFF


def json_request(url: str, headers: Mapping[str, str], data: JSON) -> UpstreamRequest:
    """A POST of ``data`` as compact JSON."""
    return UpstreamRequest(
        url=url, headers={**headers, "Content-Type": "application/json"}, body=orjson.dumps(data)
    )


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (SDK style, e.g. ``https://api.openai.com/v1``) plus an endpoint path."""
    return base_url.rstrip("/") + path


def read_answer(raw: bytes) -> JSON:
    """A whole 200 answer's JSON object; UpstreamError if it is not one or reports an error."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("the upstream answered with something other than JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("the upstream answered with something other than a JSON object")
    if "error" in data and not data.get("choices") and not data.get("data"):
        message = read_fault(raw).message or "no message"
        raise UpstreamError(f"upstream error: {message}")
    return data


def chat_answer(raw: bytes) -> ChatAnswer:
    """An OpenAI ``chat.completion`` answer as it came, with its usage read."""
    data = read_answer(raw)
    return ChatAnswer(completion=data, usage=token_usage(data.get("usage")))
