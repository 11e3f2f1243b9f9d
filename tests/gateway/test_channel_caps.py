"""A channel's own caps: admitted, refused with the trace's reason, released and settled;
exact across routers through Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from burncloud.errors import InvalidRequest, RateLimited
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.rate_limit import CONCURRENCY, RPM, TPM, SharedRateLimiter
from burncloud.gateway.fleet.redis_link import RedisLink
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.relay.channel_caps import (
    NO_HOLD,
    CapGate,
    CapHold,
    CapRefusal,
    all_capped_error,
)
from burncloud.gateway.snapshot import Upstream
from burncloud.services.channels import ChannelCaps
from tests.redis_support import REDIS_URL, redis_prefix

T0 = 1_750_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def caps(
    rpm: int | None = None, tpm: int | None = None, concurrency: int | None = None
) -> ChannelCaps:
    return ChannelCaps(rpm, tpm, concurrency)


def channel(channel_id: int = 7, limits: ChannelCaps | None = None) -> Upstream:
    return Upstream(
        id=channel_id,
        type="openai",
        name=f"ch{channel_id}",
        base_url="http://127.0.0.1:1/v1",
        key="sk-test",
        model_map={},
        config={},
        caps=limits,
    )


def local_caps(clock: Clock) -> tuple[CapGate, LocalState]:
    state = LocalState()
    limiter = FleetRateLimiter(SharedRateLimiter(state, clock), None)
    return CapGate(limiter, clock), state


async def test_a_channel_without_caps_is_admitted_without_touching_the_state() -> None:
    clock = Clock()
    gate, state = local_caps(clock)
    for _ in range(100):
        assert await gate.admit(channel(limits=None), 10_000) is NO_HOLD
        assert await gate.admit(channel(limits=caps(rpm=0, tpm=0)), 10_000) is NO_HOLD
    assert state.read("rl:channel:7") == (0.0, 0.0, 0.0, 0.0)
    NO_HOLD.end(5)  # nothing to undo


async def test_a_channel_at_its_rpm_cap_is_refused_with_the_wait() -> None:
    clock = Clock()
    gate, _ = local_caps(clock)
    capped = channel(limits=caps(rpm=2))
    first, second = await gate.admit(capped, 10), await gate.admit(capped, 10)
    assert isinstance(first, CapHold) and isinstance(second, CapHold)
    refused = await gate.admit(capped, 10)
    assert isinstance(refused, CapRefusal)
    assert (refused.limit, refused.retry_after, refused.retryable) == (RPM, 30, True)
    assert refused.reason == "channel at its 2 RPM cap, retry in 30 s"
    assert refused.trace() == {"id": 7, "reason": refused.reason, "cap": "rpm"}
    other = await gate.admit(channel(8, caps(rpm=2)), 10)  # caps are per channel
    assert isinstance(other, CapHold)
    clock.now += 30  # one more request fits every 30 s
    assert isinstance(await gate.admit(capped, 10), CapHold)
    assert isinstance(await gate.admit(capped, 10), CapRefusal)


async def test_concurrency_is_held_until_the_attempt_releases_it_once() -> None:
    clock = Clock()
    gate, _ = local_caps(clock)
    capped = channel(limits=caps(concurrency=1))
    hold = await gate.admit(capped, 0)
    assert isinstance(hold, CapHold)
    busy = await gate.admit(capped, 0)
    assert isinstance(busy, CapRefusal) and busy.limit == CONCURRENCY
    assert busy.reason == "channel at its 1 concurrent requests cap, retry in 1 s"
    hold.release()
    again = await gate.admit(capped, 0)
    assert isinstance(again, CapHold)
    hold.release()  # a second release of the first hold frees nothing
    hold.end(0)
    assert isinstance(await gate.admit(capped, 0), CapRefusal)


async def test_tpm_counts_the_estimate_until_settled_to_what_was_used() -> None:
    clock = Clock()
    gate, state = local_caps(clock)
    capped = channel(limits=caps(tpm=1000))
    hold = await gate.admit(capped, 900)
    assert isinstance(hold, CapHold)
    refused = await gate.admit(capped, 200)
    assert isinstance(refused, CapRefusal) and refused.limit == TPM
    hold.end(100)  # it used 100 tokens, not 900
    assert state.read("rl:channel:7")[1] == pytest.approx(100)
    hold.settle(5000)  # settled once: a second settlement counts nothing
    assert state.read("rl:channel:7")[1] == pytest.approx(100)
    assert isinstance(await gate.admit(capped, 800), CapHold)


async def test_a_failed_attempt_settles_to_no_tokens() -> None:
    clock = Clock()
    gate, state = local_caps(clock)
    hold = await gate.admit(channel(limits=caps(rpm=10, tpm=1000)), 400)
    assert isinstance(hold, CapHold)
    hold.end(0)
    rpm_level, tpm_level, *_ = state.read("rl:channel:7")
    assert (rpm_level, tpm_level) == (1.0, 0.0)  # the request still counts against RPM


async def test_a_request_larger_than_the_tpm_cap_never_fits() -> None:
    gate, _ = local_caps(Clock())
    refused = await gate.admit(channel(limits=caps(tpm=100)), 500)
    assert isinstance(refused, CapRefusal) and not refused.retryable
    assert refused.reason == "request needs about 500 tokens, more than the channel's 100 TPM cap"
    error = all_capped_error([refused])
    assert isinstance(error, InvalidRequest) and error.status == 400


def test_every_channel_capped_is_a_429_with_the_soonest_retry() -> None:
    refusals = [
        CapRefusal(1, RPM, 30, True, "a"),
        CapRefusal(2, CONCURRENCY, 1, True, "b"),
        CapRefusal(3, TPM, 60, False, "c"),
    ]
    error = all_capped_error(refusals)
    assert isinstance(error, RateLimited) and error.status == 429
    assert error.headers == {"Retry-After": "1"}
    assert error.message == "every channel serving this request is at its rate cap; retry in 1 s"


@pytest.fixture
async def two_routers() -> AsyncIterator[list[tuple[CapGate, FleetRateLimiter]]]:
    """Two routers' caps: their own limiters and Redis clients, one Redis."""
    with redis_prefix() as prefix:
        links = [RedisLink(REDIS_URL, prefix, timeout=5.0) for _ in range(2)]
        limiters = []
        for link in links:
            await link.start()
            limiters.append(FleetRateLimiter(SharedRateLimiter(LocalState()), link))
        yield [(CapGate(limiter), limiter) for limiter in limiters]
        for limiter, link in zip(limiters, links, strict=True):
            await limiter.drain()
            await link.close()


async def test_caps_are_exact_across_routers(
    two_routers: list[tuple[CapGate, FleetRateLimiter]],
) -> None:
    capped = channel(limits=caps(rpm=5, concurrency=3))
    verdicts = [await two_routers[i % 2][0].admit(capped, 0) for i in range(8)]
    holds = [v for v in verdicts if isinstance(v, CapHold)]
    assert len(holds) == 3  # 3 over both routers (each counting alone would admit 6)
    refused = [v for v in verdicts if isinstance(v, CapRefusal)]
    assert {r.limit for r in refused} == {CONCURRENCY}
    for hold in holds:
        hold.end(0)
    for _, limiter in two_routers:
        await limiter.drain()  # the releases go to Redis in the background
    started = time.time()
    later = [await two_routers[i % 2][0].admit(capped, 0) for i in range(4)]
    assert time.time() - started < 12  # well inside one RPM refill (12 s)
    assert [isinstance(v, CapHold) for v in later] == [True, True, False, False]
    assert {v.limit for v in later if isinstance(v, CapRefusal)} == {RPM}
