"""Errors of the Responses API on a converted channel.

A refused request keeps OpenAI's error body: the Responses API answers with the same one
as chat completions. In a stream, an error before the answer is whole is an ``error`` event
(``ResponseErrorEvent``, the one the passthrough stream sends too), and an error the
upstream reported ends the stream with ``response.failed``, whose ``error`` has a code from
the API's own list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burncloud.protocols.shapes import JSON
from burncloud.providers.openai.responses_stream import standalone_error_event

_RATE_LIMITED = frozenset({"rate_limit_exceeded", "rate_limit_error", "requests", "tokens"})


def error_event(message: str, sequence_number: int = 0) -> bytes:
    """An in-band ``error`` event numbered ``sequence_number``; the stream ends with it."""
    return standalone_error_event(message, sequence_number)


def response_error(error: Mapping[str, Any]) -> JSON:
    """A failed Response's ``error`` for an OpenAI-shaped error object (a chat stream's
    in-band error): ``rate_limit_exceeded`` or ``server_error``, and the message."""
    kinds = {error.get("code"), error.get("type")}
    code = "rate_limit_exceeded" if kinds & _RATE_LIMITED else "server_error"
    message = error.get("message")
    return {"code": code, "message": message if isinstance(message, str) and message else "error"}
