"""Channel order for one request: best priority tier first, weighted random inside a tier."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import groupby

from burncloud.gateway.snapshot import Candidate


def order_candidates(
    candidates: Sequence[Candidate], rng: random.Random | None = None
) -> list[Candidate]:
    """Candidates in the order to try them: tiers by priority, weighted shuffle within."""
    rng = rng or random
    ordered: list[Candidate] = []
    for _, tier in groupby(candidates, key=lambda c: c.priority):
        ordered.extend(_weighted_shuffle(list(tier), rng))
    return ordered


def _weighted_shuffle(tier: list[Candidate], rng: random.Random) -> list[Candidate]:
    if len(tier) == 1:
        return tier
    if all(c.weight <= 0 for c in tier):
        rng.shuffle(tier)
        return tier
    # Efraimidis-Spirakis: key u^(1/w), descending; weight-0 channels go last.
    keyed = [(rng.random() ** (1.0 / c.weight) if c.weight > 0 else -1.0, c) for c in tier]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [c for _, c in keyed]
