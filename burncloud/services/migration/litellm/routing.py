"""LiteLLM's routing inside a model group as burncloud priorities and weights, and the
deployments gathered into channels.

Priority: LiteLLM tries the deployments of the lowest ``order`` first and the next order
only when those fail (``litellm/utils.py`` ``_get_order_filtered_deployments``; ``order``
in ``litellm_params``, else ``model_info``); burncloud tries the highest priority first.
So a group's distinct orders, lowest first, become priorities counting down to 1, and a
deployment without an order in a group where others have one (LiteLLM never picks it)
gets 0. Groups without orders are all priority 0.

Weight: LiteLLM's ``simple-shuffle`` (``litellm/router_strategy/simple_shuffle.py``) picks
at random by ``weight`` when the group's first deployment has one (a deployment without
counts 0), else by ``rpm``, else ``tpm``, else evenly; burncloud's weighted random inside
a priority tier is the same rule. Weights may be fractions: each tier's are scaled to the
smallest whole numbers with the same ratios. Other strategies pick by live load, which
burncloud does not: there only explicit weights are kept.

Channels: deployments of one model that differ only by key (same kind, address, upstream
model, config, priority and weight) are one channel with several keys, used at random
(LiteLLM picks among them at random too), whose weight is the sum of theirs; deployments
with the same kind, address, keys, config, priority and weight share one channel listing
their models. A channel cannot list one model twice, so a second deployment of a model
with the same key (or another upstream model) gets its own. A channel is named after its
first deployment: ``model_info.id`` when given, else ``<model_name>-<provider>``, with
``-2``, ``-3``... where names repeat, so importing the same file again gives the same
names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.model import ChannelSpec
from burncloud.services.migration.litellm.deployments import Deployment
from burncloud.services.migration.litellm.source import Env, number, plain

WEIGHT_SOURCES = ("weight", "rpm", "tpm")
MAX_WEIGHT = 10_000
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Placed:
    """A deployment with its channel's priority and weight, and how they were derived."""

    deployment: Deployment
    priority: int
    weight: int
    said: tuple[str, ...]


def place(deployments: Sequence[Deployment], env: Env, shuffle: bool) -> list[Placed]:
    """Every deployment with its priority and weight, in the given order."""
    groups: dict[str, list[Deployment]] = {}
    for deployment in deployments:
        groups.setdefault(deployment.entry.model_name, []).append(deployment)
    placed: dict[int, Placed] = {}
    for members in groups.values():
        for deployment, found in zip(members, _place_group(members, env, shuffle), strict=True):
            placed[id(deployment)] = found
    return [placed[id(deployment)] for deployment in deployments]


def assemble(placed: Sequence[Placed]) -> tuple[list[ChannelSpec], list[str]]:
    """The channels, and for each placed deployment the name of the channel it joined."""
    slots: list[_Slot] = []
    held: dict[int, _Slot] = {}
    for item in placed:
        slot = next((s for s in slots if s.takes(item)), None)
        if slot is None:
            slot = _Slot(item)
            slots.append(slot)
        slot.keys.append(item.deployment.key)
        held[id(item)] = slot
    builders: list[_Channel] = []
    names: dict[int, str] = {}
    taken: set[str] = set()
    for slot in slots:
        found = next((b for b in builders if b.takes(slot)), None)
        if found is None:
            found = _Channel(_unique(_base_name(slot.first.deployment), taken), slot)
            builders.append(found)
        found.add(slot)
        names[id(slot)] = found.name
    return [builder.spec() for builder in builders], [names[id(held[id(i)])] for i in placed]


def order_of(deployment: Deployment, env: Env) -> int | None:
    """The deployment's LiteLLM ``order`` (litellm_params, else model_info)."""
    entry = deployment.entry
    for part, values in (("litellm_params", entry.params), ("model_info", entry.info)):
        raw = values.get("order")
        if raw is not None:
            where = f"{entry.where}.{part}.order"
            value = number(env.resolve(raw, where), where)
            if value != value.to_integral_value():
                raise InvalidRequest(f"{where}: expected a whole number, got {raw!r}")
            return int(value)
    return None


def _place_group(members: list[Deployment], env: Env, shuffle: bool) -> list[Placed]:
    orders = [order_of(member, env) for member in members]
    levels = sorted({order for order in orders if order is not None})
    priorities = [len(levels) - levels.index(o) if o is not None else 0 for o in orders]
    weights: list[tuple[int, str]] = [(1, "")] * len(members)
    for level in {*orders}:
        tier = [i for i, order in enumerate(orders) if order == level]
        for i, weighed in zip(
            tier, _tier_weights([members[i] for i in tier], env, shuffle), strict=True
        ):
            weights[i] = weighed
    return [
        Placed(member, priority, weight, _said(order, levels, priority, weight, how))
        for member, order, priority, (weight, how) in zip(
            members, orders, priorities, weights, strict=True
        )
    ]


def _said(
    order: int | None, levels: list[int], priority: int, weight: int, how: str
) -> tuple[str, ...]:
    """How the priority and the weight came about, for the report."""
    if order is not None:
        ranked = f"order {order} -> priority {priority}"
    elif levels:
        ranked = (
            "no order while others of its model have one (LiteLLM never picks it):"
            " priority 0, tried after them"
        )
    else:
        ranked = f"priority {priority}"
    return ranked, how or f"weight {weight}"


def _tier_weights(tier: list[Deployment], env: Env, shuffle: bool) -> list[tuple[int, str]]:
    """Weights of deployments LiteLLM picks among at random, with how each was derived."""
    first = tier[0].entry.params
    sources = WEIGHT_SOURCES if shuffle else WEIGHT_SOURCES[:1]
    source = next((name for name in sources if first.get(name) is not None), None)
    if source is None:
        return [(1, "")] * len(tier)
    raw = [_raw_weight(member, source, env) for member in tier]
    if not any(raw):
        return [(1, f"{source} 0 for all: equal shares")] * len(tier)
    scaled = _scaled(raw)
    return [
        (weight, _weight_said(source, value, weight))
        for value, weight in zip(raw, scaled, strict=True)
    ]


def _raw_weight(member: Deployment, source: str, env: Env) -> Decimal:
    where = f"{member.entry.where}.litellm_params.{source}"
    value = member.entry.params.get(source)
    return Decimal(0) if value is None else number(env.resolve(value, where), where)


def _scaled(values: list[Decimal]) -> list[int]:
    """The smallest whole numbers with the ratios of ``values`` (not all zero); past
    ``MAX_WEIGHT`` (a stored weight is a 32-bit integer) the ratios are rounded, and no
    weight above 0 becomes 0."""
    places = max(max(-_exponent(value), 0) for value in values)
    whole = [int(value.scaleb(places)) for value in values]
    common = math.gcd(*whole)
    whole = [value // common for value in whole]
    top = max(whole)
    if top <= MAX_WEIGHT:
        return whole
    return [max(round(value * MAX_WEIGHT / top), 1) if value else 0 for value in whole]


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _weight_said(source: str, value: Decimal, weight: int) -> str:
    if source == "weight":
        return f"weight {weight}" if value == weight else f"weight {plain(value)} -> {weight}"
    unset = "weight" if source == "rpm" else "weight or rpm"
    return (
        f"weight {weight} from {source} {plain(value)} (simple-shuffle picks by {source}"
        f" when the group sets no {unset})"
    )


@dataclass(slots=True)
class _Slot:
    """One public model served one way (an upstream model at an address, a priority and a
    weight) by one or more keys: the deployments that differ only by key."""

    first: Placed
    keys: list[str] = field(default_factory=list)

    def takes(self, item: Placed) -> bool:
        d, mine = item.deployment, self.first.deployment
        return (
            _share_key(self.first) == _share_key(item)
            and (d.entry.model_name, d.upstream) == (mine.entry.model_name, mine.upstream)
            and d.key not in self.keys
        )


@dataclass(slots=True)
class _Channel:
    """A channel being gathered from slots that share everything but the model."""

    name: str
    first: _Slot
    models: list[str] = field(default_factory=list)
    model_map: dict[str, str] = field(default_factory=dict)

    def takes(self, slot: _Slot) -> bool:
        return (
            _share_key(self.first.first) == _share_key(slot.first)
            and set(self.first.keys) == set(slot.keys)
            and slot.first.deployment.entry.model_name not in self.models
        )

    def add(self, slot: _Slot) -> None:
        deployment = slot.first.deployment
        public = deployment.entry.model_name
        self.models.append(public)
        if deployment.upstream != public:
            self.model_map[public] = deployment.upstream

    def spec(self) -> ChannelSpec:
        first, keys = self.first.first, self.first.keys
        return ChannelSpec(
            name=self.name,
            type=first.deployment.kind,
            models=tuple(self.models),
            base_url=first.deployment.base_url,
            keys=tuple(keys),
            weight=first.weight * len(keys),  # one share per deployment, as LiteLLM picks
            priority=first.priority,
            model_map=dict(self.model_map),
            config=dict(first.deployment.config),
        )


def _share_key(item: Placed) -> tuple[object, ...]:
    """What deployments of one channel share: all but the model and the key."""
    d = item.deployment
    return (d.kind, d.base_url, tuple(sorted(d.config.items())), item.priority, item.weight)


def _base_name(deployment: Deployment) -> str:
    own = deployment.entry.info.get("id")
    text = (
        str(own)
        if isinstance(own, str | int) and str(own).strip()
        else (f"{deployment.entry.model_name}-{deployment.provider}")
    )
    return _NAME_CHARS.sub("-", text).strip("-") or "litellm"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate
