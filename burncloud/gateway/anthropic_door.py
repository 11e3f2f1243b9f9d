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
from burncloud.gateway.auth import authenticate, extract_key
from burncloud.gateway.front_door import JSON, Converted, send_json
from burncloud.gateway.inbound import Endpoint, parse_object
from burncloud.gateway.pump import Transcoder
from burncloud.gateway.runtime import Runtime
from burncloud.providers.anthropic.front_answer import chat_to_message
from burncloud.providers.anthropic.front_errors import (
    anthropic_error,
    error_body,
    error_event,
    kind_of_openai_error,
)
from burncloud.providers.anthropic.front_request import messages_to_chat
from burncloud.providers.anthropic.front_stream import MessagesEventStream

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

    endpoint = Endpoint("messages", "/chat/completions", "messages", True, 4096)
    native_type = "anthropic"
    forwarded_headers = (b"anthropic-version", b"anthropic-beta")

    def convert(self, scope: Scope, body: JSON) -> Converted:
        chat = messages_to_chat(body)
        return Converted(chat, str(body.get("model") or ""), bool(chat.get("stream")))

    def answer(self, completion: JSON, model: str) -> JSON:
        return chat_to_message(completion, model)

    def stream(self, model: str) -> Transcoder:
        return MessagesEventStream(model)

    def error(self, status: int, openai_error: JSON) -> JSON:
        kind = _KIND_BY_STATUS.get(status) or kind_of_openai_error(openai_error)
        return error_body(kind, str(openai_error.get("message", "error")))

    def rejection(self, error: BurncloudError) -> tuple[int, JSON]:
        return anthropic_error(error)

    def stream_error(self, message: str) -> bytes:
        return error_event("api_error", message)


async def count_tokens(runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /v1/messages/count_tokens``: the tokenizer's estimate, free of charge."""
    headers = header_map(scope)
    try:
        authenticate(runtime.snapshot(), extract_key(headers), client_ip(scope))
        body = parse_object(await read_body(receive, headers, runtime.settings.max_body_bytes))
        chat = messages_to_chat(body)
        count = await runtime.estimator.prompt_tokens(chat, str(body.get("model") or ""))
    except ClientDisconnected:
        return
    except BurncloudError as exc:
        await send_json(send, *anthropic_error(exc), exc.headers)
        return
    await send_json(send, 200, {"input_tokens": count}, {})
