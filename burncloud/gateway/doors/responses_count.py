"""``POST /v1/responses/input_tokens``: how many input tokens a Responses request holds.

Asked of the model's first channel when it serves the Responses API itself (OpenAI counts
exactly, tools and images included); otherwise the tokenizer's estimate of the request's
chat conversion, as ``/v1/messages/count_tokens`` answers. Free of charge; like that
endpoint it is logged only when refused after the key was accepted.
"""

from __future__ import annotations

from burncloud.errors import BurncloudError, EndpointNotServed, ModelNotFound
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    client_ip,
    header_map,
    read_body,
    send_bytes,
)
from burncloud.gateway.doors.front_door import send_json, speaks
from burncloud.gateway.doors.responses import FORMAT, TurnState
from burncloud.gateway.relay.auth import authenticate, authorize_model, extract_key
from burncloud.gateway.relay.direct import ask_channel
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import Endpoint, model_name, parse_object
from burncloud.gateway.relay.plan import upstream_model
from burncloud.gateway.relay.request_id import request_id
from burncloud.gateway.relay.story import Relay
from burncloud.gateway.snapshot import Candidate
from burncloud.providers.openai.front import convert_request
from burncloud.providers.registry import kind_of

INPUT_TOKENS = Endpoint("input_tokens", "/responses/input_tokens", "input", False, 0)


async def count_input_tokens(
    relay: Relay, state: TurnState, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``{"object": "response.input_tokens", "input_tokens": N}``."""
    deps = relay.deps
    headers = header_map(scope)
    exchange = Exchange(request_id=request_id(scope))
    try:
        snapshot = deps.snapshot()
        caller = exchange.caller = authenticate(snapshot, extract_key(headers), client_ip(scope))
        raw = await read_body(receive, headers, deps.settings.max_body_bytes)
        body = parse_object(raw)
        model = exchange.model = model_name(body.get("model"))
        authorize_model(caller, model)
        candidates = snapshot.routes.get((caller.group, model))
        if not candidates:
            raise ModelNotFound(f"no channel serves model {model!r}")
        first = candidates[0]
        if speaks(FORMAT, first.upstream, upstream_model(first, model)):
            await _ask_upstream(relay, first, model, raw, send, exchange)
            return
        chat = convert_request(body, unseal=state.unseal).chat
        count = await deps.estimator.prompt_tokens(chat, model)
    except ClientDisconnected:
        return
    except BurncloudError as exc:
        exchange.status, exchange.error = exc.status, exc.message
        if exchange.caller is not None:
            relay.record(INPUT_TOKENS, exchange)
        await send_json(send, exc.status, exc.to_body(), exc.headers, exchange.headers)
        return
    answer = {"object": "response.input_tokens", "input_tokens": count}
    await send_json(send, 200, answer, {}, exchange.headers)


async def _ask_upstream(
    relay: Relay, candidate: Candidate, model: str, raw: bytes, send: Send, exchange: Exchange
) -> None:
    """The channel's own count, passed on as it came."""
    upstream = candidate.upstream
    provider = kind_of(upstream.type).native
    if provider is None:  # speaks() said it has one
        raise EndpointNotServed("no channel counts Responses input tokens")
    built = provider.native_request(
        upstream, raw, parse_object(raw), upstream_model(candidate, model), False, None, {}
    )
    url = built.url.split("?", 1)
    url[0] += "/input_tokens"
    body, content_type = await ask_channel(
        relay.deps, upstream, "?".join(url), built.headers, built.body, provider.error
    )
    await send_bytes(send, 200, body, exchange.headers, content_type.encode())
