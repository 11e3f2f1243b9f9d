"""Which forwarding mode serves a request at a channel: one lookup, from what the request's
format and the channel's kind can do."""

from __future__ import annotations

from burncloud.gateway.relay.converted import converted_chat, converted_embeddings
from burncloud.gateway.relay.forward import Forward, Mode
from burncloud.gateway.relay.inbound import EMBEDDINGS, without_fields
from burncloud.gateway.relay.media import media as media_mode
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
        if door.on_route is not None:
            door.on_route(forward.upstream.id)
        if door.speaks(forward.upstream, forward.model):
            return native_mode, forward
        for note in door.notes() if door.notes is not None else ():
            forward.exchange.trace.note(note)
        cap = capped_to_model(forward.cap, forward.model, forward.upstream.config)
        request = door.convert()
        if "web_search_options" in request.data and not kind.runs_web_search(request.data):
            request = without_fields(request, ("web_search_options",))
            forward.exchange.trace.note(f"web_search: {kind.name} cannot search here")
        forward = Forward(
            forward.deps,
            forward.call,
            request,
            None,
            forward.upstream,
            forward.model,
            cap,
            forward.exchange,
        )
    if forward.request.media is not None:  # images and audio: OpenAI's bodies on every kind
        return media_mode, forward
    if kind.passthrough is not None:
        return passthrough, forward
    if forward.request.endpoint is EMBEDDINGS:
        return converted_embeddings, forward
    return converted_chat, forward
