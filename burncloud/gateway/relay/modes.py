"""Which forwarding mode serves a request at a channel: one lookup, from what the request's
format and the channel's kind can do."""

from __future__ import annotations

from burncloud.gateway.relay.converted import converted_chat, converted_embeddings
from burncloud.gateway.relay.forward import Forward, Mode
from burncloud.gateway.relay.inbound import EMBEDDINGS
from burncloud.gateway.relay.native import native as native_mode
from burncloud.gateway.relay.passthrough import passthrough
from burncloud.providers.output_limits import capped_to_model
from burncloud.providers.registry import kind_of


def choose_mode(forward: Forward) -> tuple[Mode, Forward]:
    """The mode for ``forward``, and what it takes: a front door's request goes untouched to
    a channel of its format; to any other it goes as its OpenAI conversion, with the answer
    capped to what the target model allows (Claude Code asks for up to 128,000 tokens)."""
    door, kind = forward.native, kind_of(forward.upstream.type)
    if door is not None:
        if door.speaks(forward.upstream.type, forward.model):
            return native_mode, forward
        cap = capped_to_model(forward.cap, forward.model, forward.upstream.config)
        forward = Forward(
            forward.deps,
            forward.call,
            door.convert(),
            None,
            forward.upstream,
            forward.model,
            cap,
            forward.exchange,
        )
    if kind.passthrough is not None:
        return passthrough, forward
    if forward.request.endpoint is EMBEDDINGS:
        return converted_embeddings, forward
    return converted_chat, forward
