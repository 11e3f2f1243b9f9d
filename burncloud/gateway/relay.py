"""The relay, as one short story: authenticate, parse, price, reserve, forward, settle, log.

Each OpenAI endpoint is a bare ASGI handler. The request body goes upstream as the client
sent it unless a change is due (``outbound``); a stream goes back chunk by chunk as it
arrives (``streaming``); the reservation is settled to the exact cost and one log row is
written for every request that got past authentication.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import aiohttp
import orjson

from burncloud.errors import (
    BurncloudError,
    ModelNotFound,
    ModelPriceNotSet,
    ServiceUnavailable,
    UpstreamError,
)
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    client_ip,
    header_map,
    read_body,
    send_bytes,
    send_error,
)
from burncloud.gateway.auth import Caller, authenticate, authorize_model, extract_key
from burncloud.gateway.budget import reserve_budget
from burncloud.gateway.inbound import Endpoint, InboundRequest, parse_request
from burncloud.gateway.logwriter import LogRecord
from burncloud.gateway.metering import (
    estimate_stream,
    estimate_whole,
    rough_usage,
    usage_from_openai,
    whole_usage,
)
from burncloud.gateway.outbound import upstream_body
from burncloud.gateway.reservations import Settlement
from burncloud.gateway.routing import order_candidates
from burncloud.gateway.snapshot import Candidate, Snapshot
from burncloud.gateway.streaming import StreamMeter
from burncloud.gateway.upstream import RetryableUpstreamError, open_upstream
from burncloud.services.channel_types import CHANNEL_TYPES
from burncloud.services.pricing import Price, Usage, cost

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

log = logging.getLogger("burncloud.relay")

MAX_ATTEMPTS = 3
INTERNAL_ERROR = BurncloudError("internal error: the request could not be completed")
FREE = Price(model="", input=0, output=0)
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class Exchange:
    """What one request did, gathered as it goes, for its response headers and log row."""

    request_id: str
    started: float = field(default_factory=time.monotonic)
    caller: Caller | None = None
    model: str = ""
    channel_id: int | None = None
    stream: bool = False
    status: int = 200
    error: str = ""
    ttft_ms: int | None = None
    usage: Usage | None = None
    estimated: bool = False
    cost: int = 0
    responded: bool = False
    refine: Callable[[], Awaitable[Usage]] | None = None  # a better estimate than the rough one
    settlement: Settlement | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", self.request_id.encode())]


class Relay:
    """Serves the OpenAI-format endpoints for one worker's runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = Exchange(request_id=_request_id(scope))
        try:
            await self._serve(endpoint, exchange, scope, receive, send)
        except ClientDisconnected:
            exchange.status, exchange.error = 499, "client disconnected"
        except BurncloudError as exc:
            exchange.status, exchange.error = exc.status, exc.message
            if not exchange.responded:
                await send_error(send, exc, exchange.headers)
        except Exception as exc:  # a bug: answer in the error shape, log it once here
            log.exception("relay failed (request %s)", exchange.request_id)
            exchange.status, exchange.error = 500, f"internal error: {type(exc).__name__}"
            if not exchange.responded:
                await send_error(send, INTERNAL_ERROR, exchange.headers)
        finally:
            if exchange.caller is not None:
                self._log(endpoint, exchange)

    async def _serve(
        self, endpoint: Endpoint, exchange: Exchange, scope: Scope, receive: Receive, send: Send
    ) -> None:
        snapshot = self.runtime.snapshot()
        headers = header_map(scope)
        caller = authenticate(snapshot, extract_key(headers), client_ip(scope))
        exchange.caller = caller
        body = await read_body(receive, headers, self.runtime.settings.max_body_bytes)
        request = parse_request(endpoint, body)
        exchange.model, exchange.stream = request.model, request.stream
        authorize_model(caller, request.model)
        candidates = snapshot.routes.get((caller.group, request.model))
        if not candidates:
            raise ModelNotFound(f"no channel serves model {request.model!r}")
        price = self._price(snapshot, request.model)
        ratio = snapshot.ratios.get(caller.group, Decimal(1))
        budget = await reserve_budget(self.runtime.ledger, caller, request, price, ratio)
        try:
            await self._forward(request, candidates, budget.max_tokens_cap, exchange, send, receive)
            await _refine_estimate(exchange)
        finally:
            exchange.cost = cost(exchange.usage, price, ratio) if exchange.usage else 0
            exchange.settlement = self.runtime.ledger.settle(budget.reservation, exchange.cost)

    def _price(self, snapshot: Snapshot, model: str) -> Price:
        price = snapshot.prices.get(model)
        if price is not None:
            return price
        if self.runtime.settings.allow_free_models:
            return FREE
        raise ModelPriceNotSet(f"model {model!r} has no price: set one with `burncloud price set`")

    async def _forward(
        self,
        request: InboundRequest,
        candidates: tuple[Candidate, ...],
        max_tokens_cap: int | None,
        exchange: Exchange,
        send: Send,
        receive: Receive,
    ) -> None:
        relayable = [c for c in candidates if CHANNEL_TYPES[c.upstream.type].openai_style]
        if not relayable:
            kinds = ", ".join(sorted({c.upstream.type for c in candidates}))
            raise ServiceUnavailable(
                f"model {request.model!r} is served only by {kinds} channels,"
                " which this router cannot relay to yet"
            )
        last: RetryableUpstreamError | None = None
        for candidate in order_candidates(relayable)[:MAX_ATTEMPTS]:
            upstream = candidate.upstream
            exchange.channel_id = upstream.id
            model = upstream.model_map.get(request.model, request.model)
            body = upstream_body(request, model, max_tokens_cap)
            try:
                response = await open_upstream(
                    self.runtime.http, upstream, request.endpoint.path, body
                )
            except RetryableUpstreamError as exc:
                last = exc
                continue
            try:
                if request.stream:
                    await self._relay_stream(request, response, exchange, receive, send)
                else:
                    await self._relay_whole(request, response, exchange, send)
            finally:
                response.release()
            return
        assert last is not None
        raise last.error

    async def _relay_whole(
        self,
        request: InboundRequest,
        response: aiohttp.ClientResponse,
        exchange: Exchange,
        send: Send,
    ) -> None:
        try:
            raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError("the upstream connection failed while answering") from exc
        exchange.ttft_ms = _elapsed_ms(exchange.started)
        exchange.usage = whole_usage(raw)
        if exchange.usage is None:
            exchange.usage, exchange.estimated = rough_usage(request, len(raw)), True
            estimator = self.runtime.estimator
            exchange.refine = lambda: estimate_whole(estimator, request, raw)
        content_type = response.headers.get("Content-Type", "application/json").encode()
        exchange.responded = True
        await send_bytes(send, 200, raw, exchange.headers, content_type)

    async def _relay_stream(
        self,
        request: InboundRequest,
        response: aiohttp.ClientResponse,
        exchange: Exchange,
        receive: Receive,
        send: Send,
    ) -> None:
        meter = StreamMeter(hide_usage=not request.client_wants_usage)
        exchange.responded = True
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*SSE_HEADERS, *exchange.headers],
            }
        )
        pump = asyncio.ensure_future(self._pump(response, meter, exchange, send))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        done: set[asyncio.Future[None]] = set()
        try:
            done, _ = await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watcher):
                task.cancel()
            await asyncio.gather(pump, watcher, return_exceptions=True)
            if meter.usage is not None:
                exchange.usage = usage_from_openai(meter.usage)
            else:
                exchange.usage, exchange.estimated = rough_usage(request, meter.text_chars), True
                estimator = self.runtime.estimator
                exchange.refine = lambda: estimate_stream(estimator, request, meter)
        if pump not in done:
            exchange.status, exchange.error = 499, "client disconnected"
        elif pump.exception() is not None:
            exchange.status, exchange.error = (
                500,
                f"relay failed: {type(pump.exception()).__name__}",
            )

    async def _pump(
        self,
        response: aiohttp.ClientResponse,
        meter: StreamMeter,
        exchange: Exchange,
        send: Send,
    ) -> None:
        try:
            async for chunk in response.content.iter_any():
                if exchange.ttft_ms is None:
                    exchange.ttft_ms = _elapsed_ms(exchange.started)
                out = meter.transform(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            tail = meter.flush()
        except (TimeoutError, aiohttp.ClientError):
            exchange.status, exchange.error = 502, "the upstream stream broke off"
            tail = _in_band_error("the upstream stream broke off")
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    def _log(self, endpoint: Endpoint, exchange: Exchange) -> None:
        caller = exchange.caller
        assert caller is not None
        usage = exchange.usage or Usage(0, 0)
        self.runtime.logs.submit(
            LogRecord(
                created_at=int(time.time()),
                request_id=exchange.request_id,
                user_id=caller.user.id,
                token_id=caller.token.id,
                channel_id=exchange.channel_id,
                model=exchange.model,
                endpoint=endpoint.name,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cost=exchange.cost,
                latency_ms=_elapsed_ms(exchange.started),
                ttft_ms=exchange.ttft_ms,
                status=exchange.status,
                stream=exchange.stream,
                estimated=exchange.estimated,
                settlement=exchange.settlement,
                error=exchange.error,
            )
        )


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _refine_estimate(exchange: Exchange) -> None:
    """Replace a rough usage estimate with the tokenizer's (keeping the rough one on failure)."""
    if exchange.refine is None:
        return
    try:
        exchange.usage = await exchange.refine()
    except Exception:
        log.exception("token estimate failed; billing the rough estimate")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 128 and value.isascii():
            return value.decode()
    return uuid.uuid4().hex


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _in_band_error(message: str) -> bytes:
    error = {"error": {"message": message, "type": "server_error", "code": "upstream_error"}}
    return b"data: " + orjson.dumps(error) + b"\n\n"
