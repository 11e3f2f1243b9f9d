from __future__ import annotations

import random
from collections import Counter

from burncloud.gateway.routing import order_candidates
from burncloud.gateway.snapshot import Candidate, Upstream


def _candidate(channel_id: int, priority: int, weight: int) -> Candidate:
    upstream = Upstream(channel_id, "openai", f"c{channel_id}", "http://x/v1", "k", {}, {})
    return Candidate(upstream, priority, weight)


def test_higher_priority_tier_is_always_tried_first() -> None:
    candidates = (_candidate(1, 10, 1), _candidate(2, 10, 1), _candidate(3, 0, 100))
    for seed in range(50):
        order = order_candidates(candidates, random.Random(seed))
        assert {c.upstream.id for c in order[:2]} == {1, 2}
        assert order[2].upstream.id == 3


def test_first_pick_follows_the_weights() -> None:
    candidates = (_candidate(1, 0, 3), _candidate(2, 0, 1))
    rng = random.Random(42)
    firsts = Counter(order_candidates(candidates, rng)[0].upstream.id for _ in range(4000))
    assert abs(firsts[1] / 4000 - 0.75) < 0.03
