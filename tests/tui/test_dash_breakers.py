"""Breaker states come from the routers' shared-state file; without it they are unknown."""

from __future__ import annotations

from pathlib import Path

from burncloud_tui.breakers import BreakerReader

from burncloud.gateway.fleet.health import HealthBook, Outcome
from burncloud.gateway.fleet.shared_state import MmapState


def test_the_worst_breaker_of_each_channel(tmp_path: Path) -> None:
    path = tmp_path / "router.state"
    reader = BreakerReader(path)
    try:
        assert not reader.known()
        assert reader.worst(1, ["gpt-4o"], [1]) == ""
        with MmapState.create(path) as state:
            now = HealthBook(state)
            for _ in range(3):
                now.record(1, "gpt-4o", Outcome.FAILURE, key_id=1)
                now.record(4, "gpt-4o", Outcome.FAILURE, key_id=41)
            earlier = HealthBook(state, clock=lambda: 0.0)  # cooled down long ago: probing
            for _ in range(3):
                earlier.record(2, "gpt-4o", Outcome.FAILURE, key_id=2)
            assert HealthBook(state, clock=lambda: 10.0).available(2, "gpt-4o", 2)
            assert reader.known()
            assert reader.worst(1, ["gpt-4o-mini", "gpt-4o"], [1]) == "open"
            assert reader.worst(2, ["gpt-4o", "gpt-4o-mini"], [2]) == "half_open"
            assert reader.worst(3, ["gpt-4o"], [3]) == "closed"
            assert reader.worst(3, [], [3]) == ""
            assert reader.worst(4, ["gpt-4o"], [41, 42]) == "closed"  # up while a key is
    finally:
        reader.close()
        reader.close()


def test_a_file_that_is_not_a_state_file_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "router.state"
    path.write_bytes(b"not a state file")
    reader = BreakerReader(path)
    assert not reader.known()
    assert reader.worst(1, ["gpt-4o"], [1]) == ""
