"""Idle rate-limit records are freed; live ones and other kinds of record are kept."""

from __future__ import annotations

import pytest

from burncloud.gateway.fleet.health import HealthBook, Outcome
from burncloud.gateway.fleet.rate_limit import STALE_AFTER, Limits, SharedRateLimiter
from burncloud.gateway.fleet.shared_state import EMPTY, LocalState, MmapState, SharedState
from burncloud.gateway.fleet.state_sweeper import StateSweeper
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import Candidate, Upstream

NOW = 1_800_000_000.0


@pytest.fixture(params=["local", "mmap"])
def state(request: pytest.FixtureRequest, tmp_path) -> SharedState:
    if request.param == "local":
        return LocalState()
    # A small table, so paging (4096 slots per page) is not exercised here but wrapping is.
    made = MmapState.create(tmp_path / "state", slots=512)
    request.addfinalizer(made.close)
    return made


async def test_idle_limiter_records_go_and_everything_else_stays(state: SharedState) -> None:
    clock = [NOW]
    limiter = SharedRateLimiter(state, clock=lambda: clock[0])
    limits = Limits(rpm=10, tpm=1000)
    for subject in range(40):
        assert limiter.admit(f"token:{subject}", limits, 5, NOW).admitted
    book = HealthBook(state, clock=lambda: clock[0])
    book.record(7, "gpt-4", Outcome.FAILURE, key_id=1)  # a breaker record with one failure
    candidates = (
        Candidate(Upstream(1, "openai", "a", "http://a/v1", "k", {}, {}), 0, 0),
        Candidate(Upstream(2, "openai", "b", "http://b/v1", "k", {}, {}), 0, 0),
    )
    ChannelSelector(state).order("g", "m", candidates)  # a round-robin turn
    clock[0] = NOW + STALE_AFTER - 1
    assert limiter.admit("token:0", limits, 5, clock[0]).admitted  # token 0 stays busy

    freed = await StateSweeper(state, clock=lambda: NOW + STALE_AFTER + 1).sweep_once()

    assert freed == 39
    assert state.read("rl:token:5") == EMPTY
    assert state.read("rl:token:0") != EMPTY
    assert book.state(7, "gpt-4", 1).failures == 1
    assert ChannelSelector(state).order("g", "m", candidates)[0].upstream.id == 2


async def test_a_full_table_has_room_again_after_a_sweep(tmp_path) -> None:
    state = MmapState.create(tmp_path / "state", slots=64)
    try:
        limiter = SharedRateLimiter(state, clock=lambda: NOW)
        for subject in range(64):
            assert limiter.admit(f"user:{subject}", Limits(rpm=5), 0, NOW).admitted
        sweeper = StateSweeper(state, clock=lambda: NOW + STALE_AFTER)
        assert await sweeper.sweep_once() == 64
        for subject in range(64, 128):  # every slot is usable again
            assert limiter.admit(f"user:{subject}", Limits(rpm=5), 0, NOW).admitted
        assert state.read("rl:user:100") != EMPTY
    finally:
        state.close()
