"""OpenAI tool-call ids for Gemini function calls, carrying the call's thought signature.

Gemini function calls usually have no id, and a thinking model's call carries an opaque
``thoughtSignature`` that MUST come back on that call in the next request (Gemini 3 answers
400 without it). A provider is stateless and clients echo only a tool call's ``id``
reliably, so the signature travels inside the id:

    <base>__thought__<signature as URL-safe base64, no padding>

``<base>`` is Gemini's own ``functionCall.id`` when it sent one, else a synthesized
``call_`` + 24 hex digits derived from the response id and the call's position (the same
answer, streamed or not, gets the same ids). URL-safe base64 keeps the whole id within
``[A-Za-z0-9_-]`` (Anthropic's tool-id alphabet), and decoding restores the signature's
original standard-base64 text byte for byte. The ``__thought__`` separator is LiteLLM's,
so histories that passed through LiteLLM decode too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

SEPARATOR = "__thought__"
_SYNTHESIZED = re.compile(r"call_[0-9a-f]{24}")


@dataclass(frozen=True, slots=True)
class CallId:
    """A tool-call id taken apart.

    ``wire_id`` is the id to send back on ``functionCall``/``functionResponse`` (None for
    ids burncloud synthesized, which Gemini never saw); ``signature`` the thought signature.
    """

    wire_id: str | None
    signature: str | None


def synthesize(response_id: str, candidate: int, position: int) -> str:
    """A stable id for the ``position``-th function call of one candidate of one response."""
    seed = f"{response_id}:{candidate}:{position}".encode()
    return "call_" + hashlib.sha256(seed).hexdigest()[:24]


def encode(base: str, signature: str | None) -> str:
    """The OpenAI id for a call with id ``base`` and an optional thought signature."""
    if not signature:
        return base
    packed = signature.replace("+", "-").replace("/", "_").rstrip("=")
    return f"{base}{SEPARATOR}{packed}"


def decode(call_id: str) -> CallId:
    """Split an id made by ``encode`` (or any other id, which has no signature)."""
    base, _, packed = call_id.rpartition(SEPARATOR)
    if not base:
        base, packed = call_id, ""
    wire_id = None if _SYNTHESIZED.fullmatch(base) else base
    return CallId(wire_id or None, _unpack(packed))


def _unpack(packed: str) -> str | None:
    """The standard-base64 signature, or None when absent or not base64 at all."""
    if not packed:
        return None
    text = packed.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text
