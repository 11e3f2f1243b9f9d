"""What the fake Bedrock needs for Claude over InvokeModel: Bedrock's checks of the body and
its framing of Claude's answers, built from the recorded Anthropic answers.

Bedrock validates an Anthropic body against its schema before Claude sees it: the version
must be ``bedrock-2023-05-31``, ``max_tokens`` and ``messages`` are required, and ``model``
or ``stream`` in the body are refused ("extraneous key ... is not permitted"). A streamed
answer is one event-stream ``chunk`` message per Anthropic event, its JSON base64-encoded
in ``{"bytes": ...}`` beside Bedrock's random ``p`` padding; ``message_stop`` carries
``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

import orjson

from burncloud.protocols.eventstream import encode_message
from burncloud.protocols.sse import SSEFramer, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
_MALFORMED = "Malformed input request: {}, please reformat your input and try again."
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_METRIC_NAMES = {
    "input_tokens": "inputTokenCount",
    "output_tokens": "outputTokenCount",
    "cache_read_input_tokens": "cacheReadInputTokenCount",
    "cache_creation_input_tokens": "cacheWriteInputTokenCount",
}


def invoke_problem(body: Any) -> str | None:
    """Bedrock's ValidationException message for an Anthropic InvokeModel ``body``."""
    if not isinstance(body, dict):
        return "Malformed input request, please reformat your input and try again."
    for key in ("model", "stream"):
        if key in body:
            return _MALFORMED.format(f"#: extraneous key [{key}] is not permitted")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            return _MALFORMED.format(f"#: required key [{key}] not found")
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        return _MALFORMED.format(f"#/anthropic_version: {body['anthropic_version']!r} is invalid")
    tokens = body["max_tokens"]
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        return _MALFORMED.format("#/max_tokens: expected a positive integer")
    if not isinstance(body["messages"], list) or not body["messages"]:
        return _MALFORMED.format("#/messages: expected minimum item count: 1")
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or not all(isinstance(beta, str) for beta in betas):
        return _MALFORMED.format("#/anthropic_beta: expected type: JSONArray of strings")
    return None


def recorded_events(name: str) -> list[bytes]:
    """The ``data`` of each event of recorded Anthropic stream ``name``, as recorded."""
    framer = SSEFramer()
    raw = (FIXTURES / name).read_bytes()
    events = [parse_event(event) for event in [*framer.feed(raw), framer.flush()] if event]
    return [event.data.encode() for event in events if event is not None]


@functools.cache
def invoke_frames(name: str) -> tuple[bytes, ...]:
    """Recorded Anthropic stream ``name`` as InvokeModelWithResponseStream would frame it."""
    events = recorded_events(name)
    usage: dict[str, int] = {}
    frames = []
    for index, data in enumerate(events):
        event = orjson.loads(data)
        usage |= _usage_of(event)
        if event.get("type") == "message_stop":
            data = orjson.dumps(event | {"amazon-bedrock-invocationMetrics": _metrics(usage)})
        frames.append(chunk_frame(data, _PADDING[: 1 + index % len(_PADDING)]))
    return tuple(frames)


def chunk_frame(data: bytes, padding: str = "abc") -> bytes:
    """One ``chunk`` message carrying Anthropic event ``data``."""
    headers = {":event-type": "chunk", ":content-type": "application/json"}
    payload = {"bytes": base64.b64encode(data).decode(), "p": padding}
    return encode_message(headers | {":message-type": "event"}, orjson.dumps(payload))


def answer_headers(answer: bytes) -> dict[str, str]:
    """The token-count headers InvokeModel sends beside a whole answer."""
    usage = orjson.loads(answer).get("usage") or {}
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(usage.get("input_tokens", 0)),
        "X-Amzn-Bedrock-Output-Token-Count": str(usage.get("output_tokens", 0)),
        "X-Amzn-Bedrock-Invocation-Latency": "412",
    }


def _usage_of(event: dict[str, Any]) -> dict[str, int]:
    message = event.get("message")
    usage = message.get("usage") if isinstance(message, dict) else event.get("usage")
    if not isinstance(usage, dict):
        return {}
    return {key: value for key, value in usage.items() if key in _METRIC_NAMES}


def _metrics(usage: dict[str, int]) -> dict[str, int]:
    metrics = {_METRIC_NAMES[key]: value for key, value in usage.items()}
    return metrics | {"invocationLatency": 1630, "firstByteLatency": 412}
