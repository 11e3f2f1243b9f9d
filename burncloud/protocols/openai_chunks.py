"""Writing OpenAI ``chat.completion.chunk`` SSE events, for streams converted from other formats,
and reading them (``read_chunk_event``), for front doors converting them back.

One ``ChunkWriter`` per stream keeps ``id``, ``model`` and ``created`` identical on every
chunk, as OpenAI does. Output is compact JSON, one ``data:`` event per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from burncloud.protocols.sse import parse_event

DONE = b"data: [DONE]\n\n"
MALFORMED_EVENT = "upstream sent a malformed stream event"


@dataclass(frozen=True, slots=True)
class ChunkEvent:
    """One event of a chat chunk stream, read: ``[DONE]``, a malformed event, an in-band
    ``error`` object, or a chunk (exactly one of them)."""

    done: bool = False
    malformed: bool = False
    error: dict[str, Any] | None = None
    chunk: dict[str, Any] | None = None


def read_chunk_event(raw: bytes) -> ChunkEvent | None:
    """The chat chunk event ``raw`` holds; None for one with no data (a keep-alive)."""
    event = parse_event(raw) if raw else None
    if event is None:
        return None
    if event.data.strip() == "[DONE]":
        return ChunkEvent(done=True)
    try:
        chunk = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        chunk = None
    if not isinstance(chunk, dict):
        return ChunkEvent(malformed=True)
    error = chunk.get("error")
    if isinstance(error, dict):
        return ChunkEvent(error=error)
    return ChunkEvent(chunk=chunk)


class ChunkWriter:
    """Builds the chunks of one OpenAI-format stream."""

    __slots__ = ("_head",)

    def __init__(self, completion_id: str, model: str, created: int) -> None:
        self._head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        """One chunk carrying ``delta`` for choice 0."""
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _event({**self._head, "choices": [choice]})

    def role(self) -> bytes:
        """The opening chunk: the assistant role and empty content."""
        return self.delta({"role": "assistant", "content": ""})

    def content(self, text: str) -> bytes:
        return self.delta({"content": text})

    def reasoning(self, text: str) -> bytes:
        """Reasoning text, in the ``reasoning_content`` extension field."""
        return self.delta({"reasoning_content": text})

    def tool_call_start(self, index: int, call_id: str, name: str) -> bytes:
        """The first fragment of tool call ``index``: id, type and name, empty arguments."""
        call = {"index": index, "id": call_id, "type": "function"}
        call["function"] = {"name": name, "arguments": ""}
        return self.delta({"tool_calls": [call]})

    def tool_call_arguments(self, index: int, arguments: str) -> bytes:
        """A continuation fragment: only ``index`` and more argument text."""
        return self.delta({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    def finish(self, reason: str) -> bytes:
        """The finishing chunk: empty delta and the finish reason."""
        return self.delta({}, reason)

    def usage(self, usage: dict[str, Any]) -> bytes:
        """The usage-only chunk (``choices: []``) sent before ``[DONE]`` when asked for."""
        return _event({**self._head, "choices": [], "usage": usage})


def error_event(
    message: str, error_type: str = "server_error", code: str = "upstream_error"
) -> bytes:
    """An in-band error event, for failures after the stream started."""
    return _event({"error": {"message": message, "type": error_type, "code": code}})


# Only an error event can hold this outside a JSON string (inside one, quotes are escaped).
ERROR_MARK = b'{"error"'
_STATUS_BY_CODE = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 402,
    "service_unavailable": 503,
    "invalid_request": 400,
    "request_too_large": 413,
    "not_found": 404,
    "model_not_found": 404,
    "permission_denied": 403,
}
_STATUS_BY_TYPE = {"rate_limit_error": 429, "invalid_request_error": 400}


def in_band_failure(out: bytes) -> tuple[int, str] | None:
    """The status and whole message of the first error event in OpenAI-format SSE ``out``.

    Callers check ``ERROR_MARK in out`` first: this parses only the events that hold it.
    The message is an upstream's text: callers mask the channel's key in it before they
    shorten it (``crypto.public_error_text``), so it is not cut here."""
    for line in out.split(b"\n"):
        payload = line.removeprefix(b"data:").strip()
        if not payload.startswith(ERROR_MARK):
            continue
        try:
            error = orjson.loads(payload)["error"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if not isinstance(error, dict):
            return 502, str(error)
        status = _STATUS_BY_CODE.get(str(error.get("code"))) or _STATUS_BY_TYPE.get(
            str(error.get("type")), 502
        )
        return status, str(error.get("message") or "upstream error")
    return None


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"
