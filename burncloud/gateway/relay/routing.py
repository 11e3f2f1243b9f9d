"""Channel order for one request: best priority tier first, weighted random inside a tier.

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
from burncloud.gateway.snapshot import Candidate

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from burncloud.gateway.fleet.redis_link import RedisLink
    from burncloud.gateway.fleet.shared_state import Record, SharedState


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
    keyed = [(rng.random() ** (1.0 / c.weight) if c.weight > 0 else -1.0, c) for c in tier]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [c for _, c in keyed]


async def _fleet_turn(key: str, redis: Redis) -> int:
    """The fleet's next round-robin turn of ``key`` (Redis ``INCR``)."""
    return int(await redis.incr(key))
