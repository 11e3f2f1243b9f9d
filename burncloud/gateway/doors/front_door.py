"""Front doors for other API formats, built over the OpenAI relay.

A front door is a ``Dialect`` (its format) plus this module's plumbing. The relay serves a
door request as it serves its own: it authenticates the key first, then reads the body and
asks the door to ``parse`` it. Parsing reads only what routing and billing need (model,
stream, the answer limit); the whole conversion to an OpenAI chat request happens only when
the chosen channel speaks another format, so a request routed to a channel of the door's
own format goes upstream untouched, whatever it contains (``native``). Every error, before
or after routing, reaches the client in the door's shape, and every request past
authentication is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import orjson

from burncloud.gateway.asgi import Message, Receive, Scope, Send
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.call import Call, DoorParse, NativeRequest
from burncloud.gateway.relay.inbound import (
    Endpoint,
    InboundRequest,
    parse_object,
    parse_request,
    without_overrides,
)
from burncloud.gateway.relay.pump import Transcoder
from burncloud.gateway.relay.story import Relay
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.registry import CHANNEL_KINDS

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DoorFields:
    """What the relay needs of a door request before any conversion: its routing and
    billing fields, read from the client's own format."""

    model: str  # the name the client asked for, echoed in answers
    stream: bool
    max_tokens: int | None = None  # per answer; None: the endpoint's default is reserved
    answers: int = 1


class Dialect(Protocol):
    format: str  # the API format's name ("anthropic", "gemini")
    endpoint: Endpoint
    forwarded_headers: tuple[bytes, ...]  # client headers a native channel gets too

    def credentials(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        """Headers carrying a key the client sent elsewhere (e.g. in the query)."""
        ...

    def fields(self, scope: Scope, body: JSON) -> DoorFields:
        """The routing and billing fields; InvalidRequest only when one of them is bad."""
        ...

    def convert(self, scope: Scope, body: JSON) -> JSON:
        """The OpenAI chat body for a channel of another format; InvalidRequest for what
        cannot be expressed there."""
        ...

    def answer(self, completion: JSON, model: str) -> JSON: ...
    def stream(self, model: str) -> Transcoder: ...
    def error(self, status: int, openai_error: JSON) -> JSON: ...
    def stream_error(self, message: str) -> bytes: ...


class FrontDoor:
    """The ASGI handler of one front-door route."""

    def __init__(self, relay: Relay, dialect: Dialect) -> None:
        self.relay = relay
        self.dialect = dialect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _Answer(send, self.dialect)
        extra = self.dialect.credentials(scope)
        inner = {**scope, "headers": [*scope["headers"], *extra]} if extra else scope
        parse = _DoorParser(self.dialect, scope, send, answer)
        call = Call(self.dialect.endpoint, inner, receive, answer, self.dialect.format, parse)
        await self.relay.handle(call)


class _DoorParser:
    """The relay's ``DoorParse`` for one request: the routing view of the client's body
    and the native request, whose OpenAI conversion is made on first use."""

    __slots__ = ("_answer", "_dialect", "_scope", "_send")

    def __init__(self, dialect: Dialect, scope: Scope, send: Send, answer: _Answer) -> None:
        self._dialect, self._scope, self._send, self._answer = dialect, scope, send, answer

    async def __call__(self, raw: bytes, caller: Caller) -> tuple[InboundRequest, NativeRequest]:
        dialect = self._dialect
        body, raw = without_overrides(parse_object(raw), raw)
        fields = dialect.fields(self._scope, body)
        self._answer.bind(fields.model, fields.stream)
        request = InboundRequest(
            endpoint=dialect.endpoint,
            body=raw,
            data=body,
            model=fields.model,
            stream=fields.stream,
            client_wants_usage=False,
            max_tokens=fields.max_tokens,
            answers=fields.answers,
        )
        native = NativeRequest(
            speaks=partial(speaks, dialect.format),
            raw=raw,
            body=body,
            stream=fields.stream,
            client_headers={
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in self._scope["headers"]
                if name in dialect.forwarded_headers
            },
            send=self._send,
            stream_error=dialect.stream_error,
            convert=_converter(dialect, self._scope, body),
        )
        return request, native


def speaks(door_format: str, upstream: Upstream, model: str) -> bool:
    """Whether ``upstream`` takes ``door_format`` untouched for ``model``."""
    kind = CHANNEL_KINDS.get(upstream.type)
    return kind is not None and kind.speaks(door_format, model, upstream.config)


def _converter(dialect: Dialect, scope: Scope, body: JSON) -> Callable[[], InboundRequest]:
    """The OpenAI chat request for ``body``, converted once, when first asked for."""
    converted: list[InboundRequest] = []

    def convert() -> InboundRequest:
        if not converted:
            chat = dialect.convert(scope, body)
            converted.append(parse_request(dialect.endpoint, orjson.dumps(chat)))
        return converted[0]

    return convert


class _Answer:
    """An ASGI send that turns the relay's OpenAI-format response into the dialect's.

    A channel of the door's own format answers through ``NativeRequest.send`` instead, and
    this sees only the relay's errors."""

    def __init__(self, send: Send, dialect: Dialect) -> None:
        self._send = send
        self._dialect = dialect
        self._model = ""
        self._streams = False
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._buffer: list[bytes] = []
        self._stream: Transcoder | None = None

    def bind(self, model: str, stream: bool) -> None:
        """The request's model and stream flag, once the door has read them."""
        self._model, self._streams = model, stream

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body":
            await self._body(message)

    async def _start(self, message: Message) -> None:
        self._status = message["status"]
        headers = message.get("headers", [])
        self._headers = [h for h in headers if h[0] not in (b"content-length", b"content-type")]
        if self._status == 200 and self._streams:
            self._stream = self._dialect.stream(self._model)
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
            body = self._dialect.answer(data, self._model)
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


__all__ = ["Dialect", "DoorFields", "DoorParse", "FrontDoor", "send_json"]
