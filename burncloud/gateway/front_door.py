"""Front doors for other API formats, built over the OpenAI relay.

A ``Dialect`` converts its request to an OpenAI chat request and the relay's OpenAI answer
back (a whole body, a stream transcoder, or an error in its own shape). ``FrontDoor`` does
the plumbing: it reads the client's body, hands the converted request to the relay (which
authenticates, routes to any channel type, bills and logs), and converts whatever the
relay sends on its way out. The client's own request goes along too: a channel of the
door's own format gets it untouched (``native``), and answers the client directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    header_map,
    read_body,
)
from burncloud.gateway.inbound import Endpoint, parse_object, without_overrides
from burncloud.gateway.native import NativeRequest
from burncloud.gateway.pump import Transcoder
from burncloud.gateway.relay import Relay

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Converted:
    """A client request as the relay will see it."""

    chat: JSON
    model: str  # the name the client asked for, echoed in answers
    stream: bool
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()  # e.g. a key taken from the URL


class Dialect(Protocol):
    endpoint: Endpoint
    native_type: str  # the channel type that speaks this format
    forwarded_headers: tuple[bytes, ...]  # client headers a native channel gets too

    def convert(self, scope: Scope, body: JSON) -> Converted: ...
    def answer(self, completion: JSON, model: str) -> JSON: ...
    def stream(self, model: str) -> Transcoder: ...
    def error(self, status: int, openai_error: JSON) -> JSON: ...
    def rejection(self, error: BurncloudError) -> tuple[int, JSON]: ...
    def stream_error(self, message: str) -> bytes: ...


class FrontDoor:
    """The ASGI handler of one front-door route."""

    def __init__(self, relay: Relay, dialect: Dialect) -> None:
        self.relay = relay
        self.dialect = dialect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.relay.runtime.settings.max_body_bytes
        try:
            raw = await read_body(receive, header_map(scope), limit)
            body, raw = without_overrides(parse_object(raw), raw)
            converted = self.dialect.convert(scope, body)
        except ClientDisconnected:
            return
        except BurncloudError as exc:
            await send_json(send, *self.dialect.rejection(exc), exc.headers)
            return
        headers = [h for h in scope["headers"] if h[0] != b"content-length"]
        inner = {**scope, "headers": [*headers, *converted.extra_headers]}
        answer = _Answer(send, self.dialect, converted)
        native = NativeRequest(
            channel_type=self.dialect.native_type,
            raw=raw,
            body=body,
            stream=converted.stream,
            client_headers={
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in headers
                if name in self.dialect.forwarded_headers
            },
            send=send,
            stream_error=self.dialect.stream_error,
        )
        body_bytes = orjson.dumps(converted.chat)
        await self.relay.handle(
            self.dialect.endpoint, inner, _replay(body_bytes, receive), answer, native
        )


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


class _Answer:
    """An ASGI send that turns the relay's OpenAI-format response into the dialect's."""

    def __init__(self, send: Send, dialect: Dialect, converted: Converted) -> None:
        self._send = send
        self._dialect = dialect
        self._converted = converted
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._buffer: list[bytes] = []
        self._stream: Transcoder | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body":
            await self._body(message)

    async def _start(self, message: Message) -> None:
        self._status = message["status"]
        headers = message.get("headers", [])
        self._headers = [h for h in headers if h[0] not in (b"content-length", b"content-type")]
        if self._status == 200 and self._converted.stream:
            self._stream = self._dialect.stream(self._converted.model)
            await self._send(message)

    async def _body(self, message: Message) -> None:
        chunk, more = message.get("body", b""), message.get("more_body", False)
        if self._stream is not None:
            out = self._stream.feed(chunk) + (b"" if more else self._stream.finish())
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
            return
        self._buffer.append(chunk)
        if not more:
            await self._whole(b"".join(self._buffer))

    async def _whole(self, raw: bytes) -> None:
        data = orjson.loads(raw) if raw else {}
        if self._status == 200:
            body = self._dialect.answer(data, self._converted.model)
        else:
            error = data.get("error") if isinstance(data, dict) else None
            body = self._dialect.error(self._status, error if isinstance(error, dict) else {})
        await send_json(self._send, self._status, body, {}, self._headers)


async def send_json(
    send: Send,
    status: int,
    body: JSON,
    extra: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A complete JSON response with ``extra`` headers (e.g. Retry-After)."""
    payload = orjson.dumps(body)
    out = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(headers or []),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": payload})
