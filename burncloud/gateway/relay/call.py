"""A ``Call``: one client request as a door hands it to the relay.

A door builds one Call and hands it over; the relay does the rest in one place: it checks
the key (before any body byte is read), reads the body once, and asks the Call to parse it.
An OpenAI endpoint parses with ``inbound``; a front door brings its own ``DoorParse``, which
reads only the routing fields of its format and keeps the request as the client wrote it
(``NativeRequest``) for channels that speak that format. The door never reads the body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import Receive, Scope, Send, client_ip, header_map
from burncloud.gateway.relay.auth import Caller, extract_key
from burncloud.gateway.relay.inbound import Endpoint, InboundRequest
from burncloud.gateway.snapshot import Upstream

OPENAI = "openai"  # the format of the relay's own endpoints


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A front door's request as the client wrote it, besides its routing view."""

    speaks: Callable[[Upstream, str], bool]  # (channel, upstream model): takes it untouched?
    raw: bytes
    body: dict[str, Any]
    stream: bool
    client_headers: Mapping[str, str]
    send: Send  # the client's own send, past the door's converter
    stream_error: Callable[[str], bytes]  # an in-band error event in the door's format
    convert: Callable[[], InboundRequest]  # the OpenAI chat request, converted on first use
    # The one channel that may serve it (a Responses turn continuing one only that channel
    # holds), None: any candidate.
    channel: int | None = None
    # Told the channel of each attempt (a door that remembers which channel answered).
    on_route: Callable[[int], None] | None = None
    # What the conversion left out (built-in tools with no equivalent), for the route trace.
    notes: Callable[[], tuple[str, ...]] | None = None

    def for_estimates(self, routing: InboundRequest) -> InboundRequest:
        """The request a tokenizer estimate reads: the OpenAI conversion when there is one,
        else the routing view (whose bytes still give the rough estimate)."""
        try:
            return self.convert()
        except BurncloudError:
            return routing


# A front door's parser: the client's body bytes and the authenticated caller -> (routing
# view, native request). Async: a door may read state the request refers to (a Responses
# turn's ``previous_response_id``).
DoorParse = Callable[[bytes, Caller], Awaitable[tuple[InboundRequest, NativeRequest]]]


@dataclass(slots=True)
class Call:
    """One request: what the relay reads it from and answers it through."""

    endpoint: Endpoint
    scope: Scope
    receive: Receive  # the body, then the client's disconnect
    send: Send  # the responder for OpenAI-format answers (a door converts them)
    door_format: str = OPENAI
    door: DoorParse | None = None  # a front door's own parser of its body
    headers: dict[bytes, bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = header_map(self.scope)

    @property
    def key(self) -> str | None:
        return extract_key(self.headers)

    @property
    def client(self) -> str | None:
        return client_ip(self.scope)
