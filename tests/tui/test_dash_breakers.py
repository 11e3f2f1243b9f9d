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
        assert reader.worst(1, ["gpt-4o"]) == ""
        with MmapState.create(path) as state:
            now = HealthBook(state)
            for _ in range(3):
                now.record(1, "gpt-4o", Outcome.FAILURE)
            earlier = HealthBook(state, clock=lambda: 0.0)  # cooled down long ago: probing
            for _ in range(3):
                earlier.record(2, "gpt-4o", Outcome.FAILURE)
            assert HealthBook(state, clock=lambda: 10.0).available(2, "gpt-4o")
            assert reader.known()
            assert reader.worst(1, ["gpt-4o-mini", "gpt-4o"]) == "open"
            assert reader.worst(2, ["gpt-4o", "gpt-4o-mini"]) == "half_open"
            assert reader.worst(3, ["gpt-4o"]) == "closed"
            assert reader.worst(3, []) == ""
    finally:
        reader.close()
        reader.close()


def test_a_file_that_is_not_a_state_file_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "router.state"
    path.write_bytes(b"not a state file")
    reader = BreakerReader(path)
    assert not reader.known()
    assert reader.worst(1, ["gpt-4o"]) == ""
