"""Bare-ASGI plumbing for the relay: headers, bounded JSON body reads, JSON and error
responses, and the Host check in front of the control app.

The relay endpoints run as plain ASGI callables ahead of the Quart app because a framework
request object costs more per request than the whole relay step it wraps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from burncloud.errors import BurncloudError, InvalidRequest, RequestTimeout, RequestTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_TYPE = b"application/json"
BODY_SECONDS = 60.0  # the longest a request body may take to arrive once it has begun


class ClientDisconnected(Exception):
    """The client went away before the request was read or answered."""


def header_map(scope: Scope) -> dict[bytes, bytes]:
    """The request headers by lower-case name (ASGI already lowercases; last one wins)."""
    return dict(scope["headers"])


def client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The whole JSON request body; InvalidRequest for a non-JSON Content-Type (none at all
    is fine: curl and some SDKs send none), RequestTooLarge as soon as the body is known to
    exceed ``limit`` (before reading any of it when Content-Length says so)."""
    content_type = headers.get(b"content-type")
    if content_type is not None and content_type != JSON_TYPE:
        check_json_type(content_type)
    return await read_bounded(receive, headers, limit)


async def read_bounded(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The whole request body, of any type (its caller checks that), within ``limit`` as
    ``read_body`` reads it."""
    declared = headers.get(b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise InvalidRequest("invalid Content-Length header") from None
    message = await receive()  # nearly every body arrives whole, in the first message
    if message["type"] == "http.body" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
        return body
    try:
        async with asyncio.timeout(BODY_SECONDS):  # a client trickling its body (slowloris)
            return await _rest_of_body(message, receive, limit)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {BODY_SECONDS:g} s") from None


async def _rest_of_body(message: Message, receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if message.get("more_body", False):
                await discard_body(receive)
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def discard_body(receive: Receive, budget: int = 1024 * 1024) -> None:
    """Read and drop up to ``budget`` more body bytes before an early answer (a 413).

    Hypercorn closes the connection once a response is complete, so a client still sending
    would see a reset instead of the 413; a body beyond the budget gets that reset anyway.
    """
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def check_json_type(content_type: bytes) -> None:
    """InvalidRequest unless ``content_type`` is JSON (``application/json`` with any
    parameters, or a ``+json`` type); an empty header counts as none."""
    media = content_type.partition(b";")[0].strip().lower()
    if not media or media == JSON_TYPE or media.endswith(b"+json"):
        return
    shown = content_type.decode("latin-1")[:100]
    raise InvalidRequest(f"Content-Type must be application/json, got {shown!r}")


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"request body exceeds the limit of {limit} bytes")


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    content_type: bytes = JSON_TYPE,
) -> None:
    """Send a complete response in one body message."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, data: Any, headers: list[tuple[bytes, bytes]]) -> None:
    await send_bytes(send, status, orjson.dumps(data), headers)


async def send_error(send: Send, error: BurncloudError, headers: list[tuple[bytes, bytes]]) -> None:
    """The OpenAI-shaped error response for ``error``, with its extra headers."""
    extra = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send_json(send, error.status, error.to_body(), [*headers, *extra])


def host_guard(app: ASGIApp) -> ASGIApp:
    """``app`` behind a Host header check: a host whose name IDNA cannot encode (an empty
    label as in ``..``, a label over 63 characters) makes werkzeug's routing raise before
    any handler runs, which the server answers as a bare 500; here it is a 400."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _routable_host(scope):
            error = InvalidRequest("malformed Host header")
            await send_error(send, error, [])
            return
        await app(scope, receive, send)

    return guarded


def _routable_host(scope: Scope) -> bool:
    """Whether werkzeug can bind a URL map to the request's Host (the same IDNA step)."""
    for name, value in scope["headers"]:
        if name == b"host":
            hostname = value.decode("latin-1").lower().partition(":")[0]
            try:
                hostname.encode("idna")
            except UnicodeError:
                return False
    return True
