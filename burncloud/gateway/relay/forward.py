"""Forwarding one request to one channel: what the three modes share (``Forward``, ``Mode``).

- ``passthrough``: an OpenAI-format request to a channel that takes OpenAI bodies as they
  are (OpenAI, compatibles, Qwen): the client's bytes up, the upstream's bytes back.
- ``converted``: an OpenAI-format request to a channel of another format, through its
  provider (Anthropic, Gemini, Azure, Bedrock's Converse).
- ``native``: a front door's request to a channel of the door's own format, untouched.

A front door's request that goes to a channel of another format is first converted to an
OpenAI chat request, then takes passthrough or converted like any other. Every mode takes
a ``Forward`` and leaves its ``Metered`` on the exchange, also when it is cut short;
``modes.mode_for`` picks one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from burncloud.gateway.relay.call import Call, NativeRequest
from burncloud.gateway.relay.deps import RelayDeps
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.snapshot import Upstream


@dataclass(frozen=True, slots=True)
class Forward:
    """One attempt of one request at one channel."""

    deps: RelayDeps
    call: Call
    request: InboundRequest  # OpenAI-shaped (a door's, converted), or a native routing view
    native: NativeRequest | None  # the door's request as it came (native mode only)
    upstream: Upstream
    model: str  # the name the upstream is asked for (after the channel's model map)
    cap: int | None  # the answer-token cap: what the balance affords, the model allows
    exchange: Exchange


Mode = Callable[[Forward], Awaitable[None]]
