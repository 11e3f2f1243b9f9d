"""A passthrough response's GET or DELETE, at the channel that made (and holds) it.

Outside the relay's story: not routed, reserved or billed; the channel is the one the
response id was remembered with. Only the query parameters OpenAI defines for the call go
along, re-encoded (nothing else of the client's URL reaches the channel). A 200 answer
comes back as it came, an event stream (a background response retrieved with
``stream=true``) as it arrives; a 404 means the channel no longer has the response; any
other status is the relay's error for it (``egress.upstream``).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode

from burncloud.errors import ServiceUnavailable
from burncloud.gateway.asgi import Receive, Send, send_bytes
from burncloud.gateway.egress.transport import Answer
from burncloud.gateway.egress.upstream import UpstreamFailure, request_upstream
from burncloud.gateway.relay.deps import RelayDeps
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.pump import pump_stream
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.openai.responses_stream import ResponsesEventStream
from burncloud.providers.registry import kind_of

# The query parameters of OpenAI's retrieve and input_items calls ("include[]" is how the
# SDK sends a list); DELETE has none.
RETRIEVE_PARAMS = frozenset(
    {"include", "include[]", "stream", "starting_after", "include_obfuscation"}
)
LIST_PARAMS = frozenset({"include", "include[]", "after", "before", "limit", "order"})
EVENT_STREAM = "text/event-stream"


async def open_at_channel(
    deps: RelayDeps,
    upstream: Upstream,
    method: str,
    response_id: str,
    suffix: str = "",
    query: Iterable[tuple[str, str]] = (),
) -> Answer | None:
    """``method`` on ``/responses/{id}{suffix}`` at ``upstream``: its 200 answer (to relay,
    then release), None when the channel has no such response, else the error to answer."""
    kind = kind_of(upstream.type)
    if kind.native is None or kind.door_format != "responses":
        raise ServiceUnavailable(f"channel {upstream.name!r} does not hold stored responses")
    # Where the channel takes a Responses request (Azure: its resource's /openai/v1/...),
    # and the id's path below it; the request built only for its URL and headers.
    built = kind.native.native_request(upstream, b"{}", {}, "stored", False, None, {})
    base, _, version = built.url.partition("?")
    url = f"{base}/{quote(response_id, safe='')}{suffix}"
    params = urlencode([*parse_qsl(version), *query])
    if params:
        url = f"{url}?{params}"
    headers = {k: v for k, v in built.headers.items() if k.lower() != "content-type"}
    try:
        return await request_upstream(deps.transport, upstream, method, url, headers)
    except UpstreamFailure as failure:
        if failure.status == 404:
            return None
        raise failure.error from None


def forwarded(query: Iterable[tuple[str, str]], names: frozenset[str]) -> list[tuple[str, str]]:
    """The parameters of ``query`` a channel gets for a call taking ``names``, in order."""
    return [(name, value) for name, value in query if name in names]


async def relay_answer(
    answer: Answer, upstream: Upstream, exchange: Exchange, receive: Receive, send: Send
) -> None:
    """Send a channel's 200 ``answer`` to the client as it came; an event stream as it
    arrives, ended by an error event if it breaks off (``pump``)."""
    if answer.content_type.startswith(EVENT_STREAM):
        meter = ResponsesEventStream()
        await pump_stream(
            answer, meter, exchange, receive, send, meter.error_event, secret=upstream.key
        )
        return
    raw = await answer.read()
    exchange.responded = True
    await send_bytes(send, 200, raw, exchange.headers, answer.content_type.encode())
