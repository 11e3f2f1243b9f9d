"""The relay, as one story: authenticate, parse, authorize, plan the route, admit, hold the
budget, try the channels, settle, log.

Every route that relays (the OpenAI endpoints and the front doors) hands its ``Call`` to
``Relay.handle``. The request body goes upstream as the client sent it unless a change is
due; a stream goes back chunk by chunk as it arrives; the reservation is settled to the
exact cost and one log row is written for every request that got past authentication.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial

from burncloud.errors import BurncloudError, InsufficientQuota
from burncloud.gateway.asgi import ClientDisconnected, discard_body, read_body, send_error
from burncloud.gateway.relay.auth import Caller, authenticate, authorize_model
from burncloud.gateway.relay.body_budget import check_json_elements, is_large
from burncloud.gateway.relay.budget import Budget, caller_budgets, reserve_budget
from burncloud.gateway.relay.call import Call, NativeRequest
from burncloud.gateway.relay.capability_filter import capable, incapable_error, needs_of
from burncloud.gateway.relay.channel_caps import CapGate
from burncloud.gateway.relay.deps import RelayDeps
from burncloud.gateway.relay.disconnect import unless_disconnected
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.failover import KeyOrder, try_channels
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import Endpoint, InboundRequest, parse_request
from burncloud.gateway.relay.limits import admitted, tokens_to_count
from burncloud.gateway.relay.media_request import read_upload
from burncloud.gateway.relay.metering import Metered, measure
from burncloud.gateway.relay.modes import choose_mode
from burncloud.gateway.relay.plan import RoutePlan, plan_route, relayable, upstream_model
from burncloud.gateway.relay.request_id import request_id
from burncloud.gateway.snapshot import Candidate, Snapshot, Upstream
from burncloud.services.capabilities import NO_CAPABILITIES
from burncloud.services.pricing import cost

log = logging.getLogger("burncloud.relay")

INTERNAL_ERROR = BurncloudError("internal error: the request could not be completed")


@dataclass(frozen=True, slots=True)
class Held:
    """A request the relay has admitted: what it asks, its route's plan, the money held."""

    request: InboundRequest
    native: NativeRequest | None
    plan: RoutePlan
    budget: Budget


class Relay:
    """Serves every relayed request of one worker."""

    def __init__(self, deps: RelayDeps) -> None:
        self.deps = deps
        self.caps = CapGate(deps.limiter)

    async def handle(self, call: Call) -> None:
        """Serve one request, answer every failure in the error shape, and record it."""
        exchange = Exchange(request_id=request_id(call.scope))
        self.deps.metrics.request_started()
        try:
            await self._serve(call, exchange)
        except ClientDisconnected:
            exchange.status, exchange.error = 499, "client disconnected"
        except BurncloudError as exc:
            exchange.status, exchange.error = exc.status, exc.message
            if not exchange.responded:
                await send_error(call.send, exc, exchange.headers)
        except Exception as exc:  # a bug: answer in the error shape, log it once here
            log.exception("relay failed (request %s)", exchange.request_id)
            exchange.status, exchange.error = 500, f"internal error: {type(exc).__name__}"
            if not exchange.responded:
                await send_error(call.send, INTERNAL_ERROR, exchange.headers)
        finally:
            self.record(call.endpoint, exchange)

    async def _serve(self, call: Call, exchange: Exchange) -> None:
        snapshot = self.deps.snapshot()
        caller = exchange.caller = authenticate(snapshot, call.key, call.client)
        body = await self._read_body(call, caller, snapshot)
        native: NativeRequest | None = None
        if call.door is None:
            request = parse_request(call.endpoint, body)
        else:
            request, native = await call.door(body, caller)
        exchange.model, exchange.stream = request.model, request.stream
        authorize_model(caller, request.model)
        plan = plan_route(snapshot, caller, request, self.deps.settings)
        async with admitted(self.deps.limiter, caller, request, exchange.tokens_used):
            budget = await reserve_budget(self.deps.ledger, caller, request, plan.price, plan.ratio)
            try:
                await self._forward(call, Held(request, native, plan, budget), exchange)
                if exchange.metered is not None:
                    measured = await measure(exchange.metered, self.deps.estimator)
                    exchange.usage, exchange.estimated = measured
            finally:
                self._settle(exchange, plan, budget, snapshot)
                exchange.cap_hold.settle(exchange.tokens_used())

    def _settle(
        self, exchange: Exchange, plan: RoutePlan, budget: Budget, snapshot: Snapshot
    ) -> None:
        """Bill the usage (the measured one, else the rough estimate) at the plan's price,
        settle the reservation to that cost, then work out what the channel that answered
        charges us (no database read: the snapshot holds its cost prices and ratio)."""
        usage = exchange.usage_now()
        exchange.cost = cost(usage, plan.price, plan.ratio) if usage else 0
        exchange.settlement = self.deps.ledger.settle(budget.reservation, exchange.cost)
        exchange.price_version = plan.price.version
        exchange.group_ratio = str(plan.ratio)
        if usage is not None and exchange.channel_id is not None:
            upstream = snapshot.upstreams.get(exchange.channel_id)
            exchange.upstream_cost = plan.upstream_cost(usage, exchange.model, upstream)

    async def _read_body(self, call: Call, caller: Caller, snapshot: Snapshot) -> bytes:
        """The request body, once the caller can pay for it (``body_budget``)."""
        settings = self.deps.settings
        limit = settings.max_body_bytes
        if is_large(call.headers) and not snapshot.may_be_free(
            caller.group, settings.allow_free_models
        ):
            ledger = self.deps.ledger
            try:
                windows = await ledger.budgets.windows(caller_budgets(caller, None))
                await ledger.check_can_pay(caller.token, caller.user, windows)
            except InsufficientQuota:
                await discard_body(call.receive, limit)  # so that the client reads the 402
                raise
        if call.endpoint.form:  # an image or audio upload: multipart, no JSON to count
            return await read_upload(call.receive, call.headers, limit)
        body = await read_body(call.receive, call.headers, limit)
        check_json_elements(body)
        return body

    async def _forward(self, call: Call, held: Held, exchange: Exchange) -> None:
        """Try the channels that can serve the request, in order, until one answers."""

        async def attempt(candidate: Candidate, upstream: Upstream) -> None:
            mode, forward = choose_mode(self._forward_to(call, held, candidate, upstream, exchange))
            if forward.request.stream:  # the pump watches the client once the stream is open
                await mode(forward)
                return
            try:
                await unless_disconnected(mode(forward), call.receive, lambda: exchange.responded)
            except ClientDisconnected:
                # The upstream had the prompt: bill it, estimated; nothing was generated.
                exchange.metered = Metered(forward.request)
                raise

        caller, request, deps = exchange.caller, held.request, self.deps
        assert caller is not None
        candidates = _capable(relayable(held.plan, request, held.native), request, exchange)
        ordered = await deps.selector.fleet_order(caller.group, request.model, candidates)
        key_order: KeyOrder = deps.selector.key_order
        turn = await deps.affinity.turn(caller, request, call.headers)  # None: no session
        if turn is not None:
            ordered, key_order = turn.order(ordered), turn.key_order(key_order)
        try:
            await try_channels(
                ordered,
                attempt,
                deps.health,
                request.model,
                exchange,
                deps.failover,
                deps.report_unusable,
                key_order,
                turn,
                self.caps,
                partial(tokens_to_count, request),  # only a capped channel needs it
            )
        finally:
            if turn is not None:
                turn.finish()
                exchange.trace.affinity = turn.trace()

    def _forward_to(
        self, call: Call, held: Held, candidate: Candidate, upstream: Upstream, exchange: Exchange
    ) -> Forward:
        request = held.request
        return Forward(
            self.deps,
            call,
            request,
            held.native,
            upstream,
            upstream_model(candidate, request.model),
            held.budget.max_tokens_cap,
            exchange,
        )

    def record(self, endpoint: Endpoint, exchange: Exchange) -> None:
        """Count a finished request in /metrics, and log it once its key was accepted."""
        if exchange.caller is not None:
            self.deps.logs.submit(exchange.log_record(endpoint.name))
        usage = exchange.usage
        self.deps.metrics.request_finished(
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


def _capable(
    candidates: list[Candidate], request: InboundRequest, exchange: Exchange
) -> list[Candidate]:
    """The candidates able to serve what the request uses (images, tools, its prompt's
    size...); the others go into the route trace with the reason; a 400 naming what is
    missing when none is left (the trace then lists them all as candidates). Free when no
    candidate has a capability recorded (the request is not even looked at)."""
    if all(c.upstream.capabilities is NO_CAPABILITIES for c in candidates):
        return candidates
    needs = needs_of(request)
    kept, skipped = capable(candidates, request.model, needs)
    exchange.trace.skipped.extend(skipped)
    if not kept:
        exchange.trace.candidates = [
            {"id": c.upstream.id, "priority": c.priority, "weight": c.weight} for c in candidates
        ]
        raise incapable_error(request.model, needs, candidates)
    return kept
