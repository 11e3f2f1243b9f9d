"""Channel order for one request: best priority tier first, weighted random inside a tier.

A channel's keys are ordered the same way within it (``key_order``): by weight at random,
or in turn when the channel says ``round-robin``.

A tier whose weights are all 0 is served round robin, strictly rotating across every worker
through a counter in the shared state. Health is not decided here: the relay asks the
breaker about each channel just before trying it, so a lower tier is reached only when a
higher one has nothing healthy (and a half-open breaker's single probe is not spent on a
channel that would not have been tried).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import partial
from itertools import groupby
from typing import TYPE_CHECKING

from burncloud.gateway.fleet.redis_link import RedisDown
from burncloud.gateway.snapshot import Candidate, Upstream

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from burncloud.gateway.fleet.redis_link import RedisLink
    from burncloud.gateway.fleet.shared_state import Record, SharedState


ROUND_ROBIN = "round-robin"


def new_rng() -> random.Random:
    """A fresh generator per worker (tests replace this to reproduce a sequence)."""
    return random.Random()


class ChannelSelector:
    """Orders candidates; ``state`` (shared by the workers) keeps round-robin positions, and
    ``link`` (a fleet's Redis, when set) keeps them for every router of the fleet."""

    def __init__(
        self,
        state: SharedState,
        rng: random.Random | None = None,
        link: RedisLink | None = None,
    ) -> None:
        self._state = state
        self._rng = rng or new_rng()
        self._link = link

    def order(self, group: str, model: str, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Candidates in the order to try them: tiers by priority, each tier shuffled by
        weight, or rotated when all its weights are 0 (turns counted on this machine)."""
        return self._ordered(_tiers(group, model, candidates), {})

    async def fleet_order(
        self, group: str, model: str, candidates: Sequence[Candidate]
    ) -> list[Candidate]:
        """As ``order``, with rotating tiers taking their turns from Redis (one counter for
        the fleet); on this machine's counter while Redis is down or unset."""
        tiers = _tiers(group, model, candidates)
        link = self._link
        turns: dict[str, int] = {}
        if link is not None and link.up:
            for key, rotates, _ in tiers:
                if rotates:
                    try:
                        counted = await link.call(partial(_fleet_turn, link.key(key)))
                    except RedisDown:
                        break
                    turns[key] = counted - 1
        return self._ordered(tiers, turns)

    def key_order(self, candidate: Candidate) -> list[Upstream]:
        """The channel's enabled keys in the order to try them: weighted random, or in turn
        (``round-robin``: one counter per channel shared by the workers)."""
        keys = list(candidate.keys)
        if len(keys) == 1:
            return keys
        if candidate.upstream.key_selection == ROUND_ROBIN:
            turn = self._state.update(f"rk:{candidate.upstream.id}", _next_turn)
            start = turn % len(keys)
            return keys[start:] + keys[:start]
        keyed = [(_weighted_key(self._rng, k.key_weight), k) for k in keys]
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [k for _, k in keyed]

    def _ordered(
        self, tiers: list[tuple[str, bool, list[Candidate]]], turns: dict[str, int]
    ) -> list[Candidate]:
        ordered: list[Candidate] = []
        for key, rotates, members in tiers:
            if rotates:
                turn = turns[key] if key in turns else self._state.update(key, _next_turn)
                start = turn % len(members)
                ordered.extend(members[start:] + members[:start])
            else:
                ordered.extend(weighted_shuffle(members, self._rng))
        return ordered


def _tiers(
    group: str, model: str, candidates: Sequence[Candidate]
) -> list[tuple[str, bool, list[Candidate]]]:
    """(round-robin key, whether it rotates, members) per priority tier, best first."""
    tiers = []
    for priority, tier in groupby(candidates, key=lambda c: c.priority):
        members = list(tier)
        rotates = len(members) > 1 and all(c.weight <= 0 for c in members)
        tiers.append((f"rr:{group}:{model}:{priority}", rotates, members))
    return tiers


def _next_turn(record: Record) -> tuple[Record, int]:
    turn = int(record[0])
    return (float((turn + 1) % 2**52), 0.0, 0.0, 0.0), turn


def weighted_shuffle(tier: list[Candidate], rng: random.Random) -> list[Candidate]:
    """The tier in weighted random order (Efraimidis-Spirakis: key u^(1/w), descending), so
    each channel is first with probability weight / total; weight-0 channels go last."""
    if len(tier) == 1:
        return tier
    keyed = [(_weighted_key(rng, c.weight), c) for c in tier]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [c for _, c in keyed]


def _weighted_key(rng: random.Random, weight: int) -> float:
    """Efraimidis-Spirakis' sort key u^(1/w); -1 (last) for weight 0."""
    return rng.random() ** (1.0 / weight) if weight > 0 else -1.0


async def _fleet_turn(key: str, redis: Redis) -> int:
    """The fleet's next round-robin turn of ``key`` (Redis ``INCR``)."""
    return int(await redis.incr(key))
