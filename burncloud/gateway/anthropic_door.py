"""``POST /v1/messages``: the Anthropic Messages front door, over the OpenAI relay.

The Anthropic request is converted to an OpenAI chat request and handed to the relay, which
authenticates (``x-api-key`` or Bearer), bills, logs and routes to any channel type; the
relay's OpenAI answer is converted back on its way out: a whole message, an Anthropic event
stream, or an error in Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    client_ip,
    header_map,
    read_body,
)
from burncloud.gateway.auth import authenticate, extract_key
from burncloud.gateway.inbound import Endpoint
from burncloud.gateway.relay import Relay
from burncloud.providers.anthropic.front_answer import chat_to_message
from burncloud.providers.anthropic.front_errors import (
    anthropic_error,
    error_body,
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

MESSAGES = Endpoint("messages", "/chat/completions", "messages", True, 4096)


class AnthropicDoor:
    """The ASGI handler of ``/v1/messages``."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        try:
            raw = await read_body(receive, headers, self.relay.runtime.settings.max_body_bytes)
            body = _json_object(raw)
            chat = messages_to_chat(body)
        except ClientDisconnected:
            return
        except BurncloudError as exc:
            await _send_json(send, *anthropic_error(exc), exc.headers)
            return
        inner_scope = {
            **scope,
            "headers": [h for h in scope["headers"] if h[0] != b"content-length"],
        }
        answer = _AnthropicAnswer(send, str(body.get("model") or ""), bool(chat.get("stream")))
        await self.relay.handle(MESSAGES, inner_scope, _replay(orjson.dumps(chat), receive), answer)

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages/count_tokens``: the tokenizer's estimate, free of charge."""
        runtime = self.relay.runtime
        headers = header_map(scope)
        try:
            authenticate(runtime.snapshot(), extract_key(headers), client_ip(scope))
            raw = await read_body(receive, headers, runtime.settings.max_body_bytes)
            body = _json_object(raw)
            chat = messages_to_chat(body)
            count = await runtime.estimator.prompt_tokens(chat, str(body.get("model") or ""))
        except ClientDisconnected:
            return
        except BurncloudError as exc:
            await _send_json(send, *anthropic_error(exc), exc.headers)
            return
        await _send_json(send, 200, {"input_tokens": count}, {})


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields the converted body once, then the client's own messages."""
    sent = False

    async def inner() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner


class _AnthropicAnswer:
    """An ASGI send that turns the relay's OpenAI-format response into Anthropic's."""

    def __init__(self, send: Send, model: str, stream: bool) -> None:
        self._send = send
        self._model = model
        self._stream = stream
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._buffer: list[bytes] = []
        self._events: MessagesEventStream | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body":
            await self._body(message)

    async def _start(self, message: Message) -> None:
        self._status = message["status"]
        self._headers = [
            (k, v)
            for k, v in message.get("headers", [])
            if k not in (b"content-length", b"content-type")
        ]
        if self._status == 200 and self._stream:
            self._events = MessagesEventStream(self._model)
            await self._send({**message, "headers": message.get("headers", [])})

    async def _body(self, message: Message) -> None:
        chunk, more = message.get("body", b""), message.get("more_body", False)
        if self._events is not None:
            out = self._events.feed(chunk) + (b"" if more else self._events.finish())
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
            return
        self._buffer.append(chunk)
        if not more:
            await self._whole(b"".join(self._buffer))

    async def _whole(self, raw: bytes) -> None:
        data = orjson.loads(raw) if raw else {}
        if self._status == 200:
            body = chat_to_message(data, self._model)
        else:
            error = data.get("error") if isinstance(data, dict) else None
            error = error if isinstance(error, dict) else {}
            kind = _KIND_BY_STATUS.get(self._status) or kind_of_openai_error(error)
            body = error_body(kind, str(error.get("message", "error")))
        await _send_json(self._send, self._status, body, {}, self._headers)


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    extra: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = orjson.dumps(body)
    out = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(headers or []),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": payload})
