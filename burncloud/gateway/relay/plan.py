"""Before anything is held or sent: what a request would cost and which channels may serve
it (the route's plan); once it is over, what the channel that answered charges us."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from burncloud.config import Settings
from burncloud.errors import (
    BurncloudError,
    EndpointNotServed,
    ModelNotFound,
    ModelPriceNotSet,
)
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.call import NativeRequest
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.snapshot import Candidate, Snapshot, Upstream
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.pricing import Price, Usage, cost

FREE = Price(model="", input=0, output=0)
AT_COST = Decimal(1)


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The channels serving the caller's group and model, the price, the group's ratio."""

    candidates: tuple[Candidate, ...]
    price: Price
    ratio: Decimal

    def upstream_cost(self, usage: Usage, model: str, upstream: Upstream | None) -> int | None:
        """What ``upstream`` charges us for ``usage`` of the public ``model``: at its own
        cost price of the model if it has one, else at the list price times its cost
        ratio. None (unknown, never a guessed $0) when no channel answered, or when the
        model is served free or listed at a price of nothing and the channel has no cost
        price of its own. One ``cost`` call; the caller's bill is not touched."""
        if upstream is None:
            return None
        own = upstream.cost_prices.get(model)
        if own is not None:
            return cost(usage, own, AT_COST)
        amount = cost(usage, self.price, upstream.cost_ratio)
        if amount == 0 and _bills_nothing(self.price):
            return None
        return amount


def plan_route(
    snapshot: Snapshot, caller: Caller, request: InboundRequest, settings: Settings
) -> RoutePlan:
    """The plan for ``request``; 404 when no channel serves the model, 403 when it is
    unpriced (unless free models are allowed)."""
    candidates = snapshot.routes.get((caller.group, request.model))
    if not candidates:
        raise ModelNotFound(f"no channel serves model {request.model!r}")
    price = snapshot.prices.get(request.model)
    if price is None:
        if not settings.allow_free_models:
            raise ModelPriceNotSet(
                f"model {request.model!r} has no price: set one with `burncloud price set`"
            )
        price = FREE
    return RoutePlan(candidates, price, snapshot.ratios.get(caller.group, Decimal(1)))


def relayable(
    plan: RoutePlan, request: InboundRequest, native: NativeRequest | None
) -> list[Candidate]:
    """The candidates that can serve this request; 404 when none can.

    A channel serves the endpoints its kind declares (an openai-compatible one those its
    config lists: ``ChannelKind.serves``). A front door's request also goes to
    channels of its own format untouched; the others need its OpenAI conversion, which is
    tried (once) only when such a channel is among them: when it fails they are left out,
    and its error is the answer only if no channel of the door's format remains."""
    endpoint = request.endpoint.listed_as
    if native is None:
        found = [c for c in plan.candidates if _serves(c.upstream, endpoint)]
    else:
        found = _door_candidates(plan.candidates, endpoint, native, request.model)
    if not found:
        kinds = ", ".join(sorted({c.upstream.type for c in plan.candidates}))
        # A door's request is named by its door (its path is its conversion's).
        named = f"the {endpoint} endpoint ({request.endpoint.path})"
        if native is not None:
            named = f"the {request.endpoint.name} endpoint"
        raise EndpointNotServed(
            f"no channel serving model {request.model!r} serves {named}; its channels are {kinds}"
        )
    return found


def upstream_model(candidate: Candidate, model: str) -> str:
    """The model name ``candidate``'s upstream is asked for (after its model map)."""
    return candidate.upstream.model_map.get(model, model)


def _serves(upstream: Upstream, endpoint: str) -> bool:
    kind = CHANNEL_KINDS.get(upstream.type)
    return kind is not None and kind.serves(endpoint, upstream.config)


def _door_candidates(
    candidates: tuple[Candidate, ...], endpoint: str, native: NativeRequest, model: str
) -> list[Candidate]:
    """A door request's candidates: the channels taking its format untouched, and those
    serving ``endpoint`` (its conversion's) when it converts; only the one channel that
    holds the request's state when it names one."""
    if native.channel is not None:
        candidates = tuple(c for c in candidates if c.upstream.id == native.channel)
        if not candidates:
            raise EndpointNotServed(
                f"the channel holding the previous response no longer serves model {model!r}"
            )
    own = [c for c in candidates if native.speaks(c.upstream, upstream_model(c, model))]
    others = [c for c in candidates if c not in own and _serves(c.upstream, endpoint)]
    if not others:
        return own
    found = [c for c in candidates if c in own or c in others]
    return _convertible(found, own, native)


def _convertible(
    candidates: list[Candidate], own: list[Candidate], native: NativeRequest
) -> list[Candidate]:
    if len(own) == len(candidates):
        return candidates
    try:
        native.convert()
    except BurncloudError:
        if not own:
            raise
        return own
    return candidates


def _bills_nothing(price: Price) -> bool:
    """Whether ``price`` is free (``FREE``, or every amount it names is 0)."""
    if price is FREE:
        return True
    amounts = [*price.rates.named().values(), *(unit.amount for unit in price.units)]
    amounts += [amount for tier in price.tiers for amount in tier.rates.named().values()]
    return not any(amounts)
