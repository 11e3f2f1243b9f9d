"""The relay, as one short story: authenticate, parse, price, reserve, forward, settle, log.

Each OpenAI endpoint is a bare ASGI handler. The request body goes upstream as the client
sent it unless a change is due (``outbound``); a stream goes back chunk by chunk as it
arrives (``streaming``); the reservation is settled to the exact cost and one log row is
written for every request that got past authentication.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING

import aiohttp

from burncloud.config import Settings
from burncloud.errors import (
    BurncloudError,
    InsufficientQuota,
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
    discard_body,
    header_map,
    read_body,
    send_bytes,
    send_error,
)
from burncloud.gateway.billing.logwriter import LogRecord
from burncloud.gateway.egress.upstream import open_upstream
from burncloud.gateway.relay.auth import Caller, authenticate, authorize_model, extract_key
from burncloud.gateway.relay.body_budget import check_json_elements, is_large
from burncloud.gateway.relay.budget import reserve_budget
from burncloud.gateway.relay.converted import relay_converted, relay_converted_embeddings
from burncloud.gateway.relay.disconnect import unless_disconnected
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.failover import try_channels
from burncloud.gateway.relay.inbound import (
    CHAT,
    EMBEDDINGS,
    Endpoint,
    InboundRequest,
    parse_request,
)
from burncloud.gateway.relay.limits import limited_subjects, refusal, tokens_to_count
from burncloud.gateway.relay.metering import (
    estimate_stream,
    estimate_whole,
    rough_usage,
    usage_from_openai,
    whole_usage,
)
from burncloud.gateway.relay.native import DoorParse, NativeRequest, relay_native
from burncloud.gateway.relay.outbound import upstream_body
from burncloud.gateway.relay.pump import pump_stream
from burncloud.gateway.relay.request_id import request_id
from burncloud.gateway.relay.streaming import StreamMeter
from burncloud.gateway.snapshot import Candidate, Snapshot, Upstream
from burncloud.providers.openai.request import wants_stream_usage
from burncloud.providers.output_limits import capped_to_model
from burncloud.providers.registry import OPENAI_STYLE, PROVIDERS
from burncloud.services.channel_types import CHANNEL_TYPES
from burncloud.services.pricing import Price, Usage, cost

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

log = logging.getLogger("burncloud.relay")

INTERNAL_ERROR = BurncloudError("internal error: the request could not be completed")
FREE = Price(model="", input=0, output=0)


class Relay:
    """Serves the OpenAI-format endpoints for one worker's runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle(
        self,
        endpoint: Endpoint,
        scope: Scope,
        receive: Receive,
        send: Send,
        door: DoorParse | None = None,
    ) -> None:
        """Serve one request; ``door`` parses a front door's body (another API format)."""
        exchange = Exchange(request_id=request_id(scope))
        self.runtime.metrics.request_started()
        try:
            await self._serve(endpoint, exchange, scope, receive, send, door)
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
            self.record(endpoint, exchange)

    def record(self, endpoint: Endpoint, exchange: Exchange) -> None:
        """Count a finished request in /metrics, and log it once its key was accepted."""
        if exchange.caller is not None:
            self._log(endpoint, exchange)
        self._measure(endpoint, exchange)

    async def _serve(
        self,
        endpoint: Endpoint,
        exchange: Exchange,
        scope: Scope,
        receive: Receive,
        send: Send,
        door: DoorParse | None,
    ) -> None:
        snapshot = self.runtime.snapshot()
        headers = header_map(scope)
        caller = authenticate(snapshot, extract_key(headers), client_ip(scope))
        exchange.caller = caller
        body = await self._read_body(receive, headers, caller, snapshot)
        native: NativeRequest | None = None
        if door is None:
            request = parse_request(endpoint, body)
        else:
            request, native = door(body)
        exchange.model, exchange.stream = request.model, request.stream
        authorize_model(caller, request.model)
        candidates = snapshot.routes.get((caller.group, request.model))
        if not candidates:
            raise ModelNotFound(f"no channel serves model {request.model!r}")
        price = self._price(snapshot, request.model)
        ratio = snapshot.ratios.get(caller.group, Decimal(1))
        subjects = limited_subjects(caller)
        if not subjects:
            await self._billed(request, candidates, exchange, send, receive, native, price, ratio)
            return
        limiter = self.runtime.limiter
        admission = await limiter.admit_all(subjects, tokens_to_count(request), time.time())
        if not admission.admitted:
            raise refusal(admission)
        try:
            await self._billed(request, candidates, exchange, send, receive, native, price, ratio)
        finally:
            limiter.release(admission)
            usage = exchange.usage
            limiter.settle(admission, usage.prompt_tokens + usage.completion_tokens if usage else 0)

    async def _read_body(
        self, receive: Receive, headers: dict[bytes, bytes], caller: Caller, snapshot: Snapshot
    ) -> bytes:
        """The request body, once the caller can pay for it (``body_budget``)."""
        limit = self.runtime.settings.max_body_bytes
        if is_large(headers) and not _may_be_free(snapshot, caller, self.runtime.settings):
            try:
                await self.runtime.ledger.check_can_pay(caller.token, caller.user)
            except InsufficientQuota:
                await discard_body(receive, limit)  # so that the client reads the 402
                raise
        body = await read_body(receive, headers, limit)
        check_json_elements(body)
        return body

    async def _billed(
        self,
        request: InboundRequest,
        candidates: tuple[Candidate, ...],
        exchange: Exchange,
        send: Send,
        receive: Receive,
        native: NativeRequest | None,
        price: Price,
        ratio: Decimal,
    ) -> None:
        """Reserve the request's budget, forward it, and settle its exact cost."""
        caller = exchange.caller
        assert caller is not None
        budget = await reserve_budget(self.runtime.ledger, caller, request, price, ratio)
        try:
            await self._forward(
                request,
                candidates,
                budget.max_tokens_cap,
                exchange,
                send,
                receive,
                native,
                caller.group,
            )
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
        native: NativeRequest | None,
        group: str,
    ) -> None:
        relayable = [c for c in candidates if _speaks(c.upstream.type, request)]
        if native is not None:
            relayable = _convertible(relayable, native, request.model)
        if not relayable:
            kinds = ", ".join(sorted({c.upstream.type for c in candidates}))
            raise ServiceUnavailable(
                f"model {request.model!r} is served only by {kinds} channels,"
                f" which cannot serve {request.endpoint.name} requests yet"
            )
        runtime = self.runtime

        async def attempt(candidate: Candidate) -> None:
            if request.stream:  # the pump watches the client once the stream is open
                await serve_from(candidate)
                return
            try:
                await unless_disconnected(
                    serve_from(candidate), receive, lambda: exchange.responded
                )
            except ClientDisconnected:
                # The upstream had the prompt: bill it, estimated; nothing was generated.
                exchange.usage, exchange.estimated = rough_usage(request, 0), True
                raise

        async def serve_from(candidate: Candidate) -> None:
            upstream = candidate.upstream
            model = _upstream_model(candidate, request.model)
            if native is not None and native.speaks(upstream.type, model):
                await relay_native(
                    runtime,
                    PROVIDERS[upstream.type],  # type: ignore[arg-type]
                    upstream,
                    request,
                    native,
                    model,
                    max_tokens_cap,
                    exchange,
                    receive,
                )
                return
            chat, cap = request, max_tokens_cap
            if native is not None:  # another format: the door's request, converted
                chat = native.convert()
                cap = capped_to_model(cap, model, upstream.config)
            if CHANNEL_TYPES[upstream.type].openai_style:
                await self._passthrough(chat, upstream, model, cap, exchange, send, receive)
            elif chat.endpoint is EMBEDDINGS:
                await relay_converted_embeddings(
                    runtime,
                    PROVIDERS[upstream.type],  # type: ignore[arg-type]
                    upstream,
                    chat,
                    model,
                    exchange,
                    send,
                )
            else:
                await relay_converted(
                    runtime,
                    PROVIDERS[upstream.type],
                    upstream,
                    chat,
                    model,
                    cap,
                    exchange,
                    receive,
                    send,
                )

        ordered = await runtime.selector.fleet_order(group, request.model, relayable)
        await try_channels(
            ordered,
            attempt,
            runtime.health,
            request.model,
            exchange,
            runtime.failover,
            runtime.report_unusable,
        )

    async def _passthrough(
        self,
        request: InboundRequest,
        upstream: Upstream,
        model: str,
        max_tokens_cap: int | None,
        exchange: Exchange,
        send: Send,
        receive: Receive,
    ) -> None:
        """OpenAI-style channel: the client's bytes up (unless a change is due), bytes back."""
        provider = OPENAI_STYLE[upstream.type]
        fields = provider.prepare(request.data, model, request.stream)
        stream_usage = wants_stream_usage(upstream.config)
        body = upstream_body(request, model, max_tokens_cap, fields, stream_usage)
        headers = provider.headers(upstream)
        response = await open_upstream(
            self.runtime.http, upstream, request.endpoint.path, headers, body
        )
        try:
            if request.stream:
                await self._relay_stream(request, response, exchange, receive, send, upstream.key)
            else:
                await self._relay_whole(request, response, exchange, send)
        finally:
            response.release()

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
        secret: str,
    ) -> None:
        meter = StreamMeter(hide_usage=not request.client_wants_usage)
        try:
            await pump_stream(response, meter, exchange, receive, send, secret=secret)
        finally:
            if meter.usage is not None:
                exchange.usage = usage_from_openai(meter.usage)
            else:
                exchange.usage, exchange.estimated = rough_usage(request, meter.text_chars), True
                estimator = self.runtime.estimator
                exchange.refine = lambda: estimate_stream(estimator, request, meter)

    def _measure(self, endpoint: Endpoint, exchange: Exchange) -> None:
        """/metrics: every finished request, unauthenticated ones too (model "")."""
        usage = exchange.usage
        self.runtime.metrics.request_finished(
            exchange.model,
            exchange.channel_id,
            endpoint.name,
            exchange.status,
            exchange.stream,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            exchange.cost,
            time.monotonic() - exchange.started,
            None if exchange.ttft_ms is None else exchange.ttft_ms / 1000,
        )

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
                route=exchange.trace,
            )
        )


def _speaks(channel_type: str, request: InboundRequest) -> bool:
    """Whether channels of this type can serve the request: OpenAI-style ones serve every
    endpoint, converted ones chat completions, and embeddings where the provider has them."""
    if CHANNEL_TYPES[channel_type].openai_style:
        return True
    provider = PROVIDERS.get(channel_type)
    if provider is None:
        return False
    if request.endpoint.path == CHAT.path:
        return True
    return request.endpoint is EMBEDDINGS and hasattr(provider, "embeddings_request")


def _may_be_free(snapshot: Snapshot, caller: Caller, settings: Settings) -> bool:
    """Whether some request of this caller could cost nothing (an unpriced model served
    free, a zero price, a group ratio of 0): then an empty balance refuses nothing yet."""
    if settings.allow_free_models or snapshot.ratios.get(caller.group) == 0:
        return True
    return any(not (p.input or p.output) for p in snapshot.prices.values())


def _upstream_model(candidate: Candidate, model: str) -> str:
    """The model name ``candidate``'s upstream is asked for (after its model map)."""
    return candidate.upstream.model_map.get(model, model)


def _convertible(candidates: list[Candidate], native: NativeRequest, model: str) -> list[Candidate]:
    """The candidates that can serve a door's request: channels of its own format take it
    untouched; the others need its OpenAI conversion, which is tried (once) only when such
    a channel is among them. When it fails they are left out, and the conversion's error
    is the answer only if no channel of the door's format remains."""
    own = [c for c in candidates if native.speaks(c.upstream.type, _upstream_model(c, model))]
    if len(own) == len(candidates):
        return candidates
    try:
        native.convert()
    except BurncloudError:
        if not own:
            raise
        return own
    return candidates


async def _refine_estimate(exchange: Exchange) -> None:
    """Replace a rough usage estimate with the tokenizer's (keeping the rough one on failure)."""
    if exchange.refine is None:
        return
    try:
        exchange.usage = await exchange.refine()
    except Exception:
        log.exception("token estimate failed; billing the rough estimate")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
