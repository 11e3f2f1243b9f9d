"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic Messages front door."""

from __future__ import annotations

from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    client_ip,
    header_map,
    read_body,
)
from burncloud.gateway.doors.front_door import JSON, DoorFields, send_json
from burncloud.gateway.relay.auth import authenticate, extract_key
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import Endpoint, model_name, parse_object, positive_int
from burncloud.gateway.relay.pump import Transcoder
from burncloud.gateway.relay.request_id import request_id
from burncloud.gateway.relay.story import Relay
from burncloud.providers.anthropic.front.answer import chat_to_message
from burncloud.providers.anthropic.front.errors import (
    anthropic_error,
    error_body,
    error_event,
    kind_of_openai_error,
)
from burncloud.providers.anthropic.front.request import messages_to_chat
from burncloud.providers.anthropic.front.stream import MessagesEventStream

# Anthropic's error types by HTTP status; others follow the OpenAI error's type.
_KIND_BY_STATUS = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class AnthropicDialect:
    """Anthropic Messages <-> OpenAI chat, for ``FrontDoor``."""

    format = "anthropic"
    endpoint = Endpoint("messages", "/chat/completions", "messages", True, 4096)
    forwarded_headers: tuple[bytes, ...] = (b"anthropic-version", b"anthropic-beta")

    def credentials(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        return ()

    def fields(self, scope: Scope, body: JSON) -> DoorFields:
        """Model, stream and ``max_tokens``: all an Anthropic channel's request is read for."""
        return DoorFields(
            model=model_name(body.get("model")),
            stream=body.get("stream") is True,
            max_tokens=positive_int(body.get("max_tokens")),
        )

    def convert(self, scope: Scope, body: JSON) -> JSON:
        return messages_to_chat(body)

    def answer(self, completion: JSON, model: str) -> JSON:
        return chat_to_message(completion, model)

    def stream(self, model: str) -> Transcoder:
        return MessagesEventStream(model)

    def error(self, status: int, openai_error: JSON) -> JSON:
        kind = _KIND_BY_STATUS.get(status) or kind_of_openai_error(openai_error)
        return error_body(kind, str(openai_error.get("message", "error")))

    def stream_error(self, message: str) -> bytes:
        return error_event("api_error", message)


COUNT_TOKENS = Endpoint("count_tokens", "/messages/count_tokens", "messages", False, 0)


async def count_tokens(relay: Relay, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /v1/messages/count_tokens``: the tokenizer's estimate, free of charge.

    Not relayed, so not logged when it succeeds; a refusal after the key was accepted is
    logged like any other."""
    deps = relay.deps
    headers = header_map(scope)
    exchange = Exchange(request_id=request_id(scope))
    try:
        exchange.caller = authenticate(deps.snapshot(), extract_key(headers), client_ip(scope))
        body = parse_object(await read_body(receive, headers, deps.settings.max_body_bytes))
        exchange.model = model_name(body.get("model"))
        chat = messages_to_chat(body)
        count = await deps.estimator.prompt_tokens(chat, exchange.model)
    except ClientDisconnected:
        return
    except BurncloudError as exc:
        exchange.status, exchange.error = exc.status, exc.message
        if exchange.caller is not None:
            relay.record(COUNT_TOKENS, exchange)
        await send_json(send, *anthropic_error(exc), exc.headers, exchange.headers)
        return
    await send_json(send, 200, {"input_tokens": count}, {}, exchange.headers)
