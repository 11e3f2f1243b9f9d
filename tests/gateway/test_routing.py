"""Channel order: priority tiers, weighted random inside a tier, round robin for weight 0."""

from __future__ import annotations

import random
from collections import Counter

from burncloud.gateway.fleet.shared_state import LocalState, MmapState
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import Candidate, Upstream


def _candidate(channel_id: int, priority: int, weight: int) -> Candidate:
    upstream = Upstream(channel_id, "openai", f"c{channel_id}", "http://x/v1", "k", {}, {})
    return Candidate(upstream, priority, weight)


def _ids(order: list[Candidate]) -> list[int]:
    return [c.upstream.id for c in order]


def test_higher_priority_tier_is_always_tried_first() -> None:
    candidates = (_candidate(1, 10, 1), _candidate(2, 10, 1), _candidate(3, 0, 100))
    for seed in range(50):
        order = ChannelSelector(LocalState(), random.Random(seed)).order("g", "m", candidates)
        assert set(_ids(order[:2])) == {1, 2} and _ids(order)[2] == 3


def test_first_picks_follow_the_weights_within_three_points_over_2000() -> None:
    candidates = (_candidate(1, 0, 5), _candidate(2, 0, 3), _candidate(3, 0, 2))
    selector = ChannelSelector(LocalState(), random.Random(1))
    firsts = Counter(selector.order("g", "m", candidates)[0].upstream.id for _ in range(2000))
    for channel_id, share in ((1, 0.5), (2, 0.3), (3, 0.2)):
        assert abs(firsts[channel_id] / 2000 - share) < 0.03


def test_every_channel_appears_once_so_none_is_tried_twice() -> None:
    candidates = tuple(_candidate(i, i % 2, i % 3) for i in range(1, 9))
    selector = ChannelSelector(LocalState(), random.Random(1))
    for _ in range(100):
        assert sorted(_ids(selector.order("g", "m", candidates))) == list(range(1, 9))


def test_weight_zero_tier_rotates_strictly() -> None:
    candidates = (_candidate(1, 0, 0), _candidate(2, 0, 0), _candidate(3, 0, 0))
    selector = ChannelSelector(LocalState())
    firsts = [selector.order("g", "m", candidates)[0].upstream.id for _ in range(7)]
    assert firsts == [1, 2, 3, 1, 2, 3, 1]
    assert _ids(selector.order("g", "m", candidates)) == [2, 3, 1]  # the rest follow in turn


def test_round_robin_is_shared_by_workers_on_one_state_file(tmp_path) -> None:
    path = tmp_path / "state"
    creator = MmapState.create(path)
    other = MmapState.open(path)
    try:
        a, b = ChannelSelector(creator), ChannelSelector(other)
        candidates = (_candidate(1, 0, 0), _candidate(2, 0, 0))
        turns = [(a if i % 3 else b).order("g", "m", candidates)[0].upstream.id for i in range(6)]
        assert turns == [1, 2, 1, 2, 1, 2]
    finally:
        creator.close()
        other.close()


def test_round_robin_counters_are_per_model_and_group() -> None:
    candidates = (_candidate(1, 0, 0), _candidate(2, 0, 0))
    selector = ChannelSelector(LocalState())
    assert selector.order("g", "a", candidates)[0].upstream.id == 1
    assert selector.order("g", "b", candidates)[0].upstream.id == 1
    assert selector.order("vip", "a", candidates)[0].upstream.id == 1
    assert selector.order("g", "a", candidates)[0].upstream.id == 2
