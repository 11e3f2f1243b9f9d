"""Rate limits counted in Redis: exact across routers, and a fallback when Redis goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.rate_limit import (
    CONCURRENCY,
    RPM,
    SLACK,
    TPM,
    Limits,
    SharedRateLimiter,
)
from burncloud.gateway.fleet.redis_link import COMMAND_TIMEOUT, RedisLink
from burncloud.gateway.fleet.shared_state import LocalState
from tests.redis_support import REDIS_URL, private_redis, redis_prefix, redis_time


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    with redis_prefix() as prefix:
        yield prefix


async def limiter_on(
    url: str, prefix: str, silence: float = COMMAND_TIMEOUT
) -> tuple[FleetRateLimiter, RedisLink]:
    link = RedisLink(url, prefix, timeout=silence)
    await link.start()
    return FleetRateLimiter(SharedRateLimiter(LocalState()), link), link


@pytest.fixture
async def two_routers(prefix: str) -> AsyncIterator[list[FleetRateLimiter]]:
    """Two limiters as two routers would hold them: separate clients, one Redis. These
    tests are about counting while Redis is up: a deadline long enough that a CPU-starved
    test machine does not count as Redis going away (the tests below cover that)."""
    pairs = [await limiter_on(REDIS_URL, prefix, silence=5.0) for _ in range(2)]
    yield [limiter for limiter, _ in pairs]
    for limiter, link in pairs:
        await limiter.drain()
        await link.close()


async def test_a_burst_over_two_routers_admits_exactly_the_limit(two_routers) -> None:
    limits = Limits(rpm=60)
    tasks = [
        two_routers[i % 2].admit_all([("token:1", limits)], 0, time.time()) for i in range(600)
    ]
    began = redis_time()
    verdicts = await asyncio.gather(*tasks)
    took = redis_time() - began  # on the clock Redis dates admissions by
    assert all(v.shared for v in verdicts if v.admitted)  # Redis counted every one
    admitted = sum(v.admitted for v in verdicts)
    # GCRA: the burst of 60, then one more per whole second the burst lasted. Exactly 60
    # when it is through within a second (~0.3 s here); a starved machine may take longer.
    assert 60 <= admitted <= 60 + int(took + SLACK), f"{admitted} in {took:.2f} s"
    refused = [v for v in verdicts if not v.admitted]
    assert {v.limit for v in refused} == {RPM}
    assert all(v.retry_after == 1 for v in refused)  # one more fits every second


async def test_all_subjects_or_none(two_routers) -> None:
    a, b = two_routers
    token, user = ("token:7", Limits(rpm=5)), ("user:3", Limits(rpm=2))
    assert (await a.admit_all([token, user], 0, time.time())).admitted
    assert (await b.admit_all([token, user], 0, time.time())).admitted
    refused = await a.admit_all([token, user], 0, time.time())
    assert not refused.admitted and refused.subject == "user:3"
    # the refused request counted nothing against the token: 3 more fit, not 2
    assert [(await b.admit_all([token], 0, time.time())).admitted for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


async def test_concurrency_is_shared_and_released(two_routers) -> None:
    a, b = two_routers
    limits = Limits(max_concurrency=2)
    first = await a.admit_all([("token:2", limits)], 0, time.time())
    assert (await b.admit_all([("token:2", limits)], 0, time.time())).admitted
    busy = await b.admit_all([("token:2", limits)], 0, time.time())
    assert not busy.admitted and busy.limit == CONCURRENCY
    a.release(first)
    await a.drain()
    assert (await b.admit_all([("token:2", limits)], 0, time.time())).admitted


async def test_tokens_per_minute_settle_to_the_actual_count(two_routers) -> None:
    a, b = two_routers
    limits = Limits(tpm=1000)
    estimated = await a.admit_all([("token:3", limits)], 900, time.time())
    assert estimated.admitted
    assert not (await b.admit_all([("token:3", limits)], 200, time.time())).admitted
    a.settle(estimated, 100)  # it used 100, not 900
    await a.drain()
    assert (await b.admit_all([("token:3", limits)], 800, time.time())).admitted
    too_big = await b.admit_all([("token:3", limits)], 1001, time.time())
    assert not too_big.admitted and too_big.limit == TPM and not too_big.retryable


async def test_records_expire_and_empty_ones_are_deleted(prefix: str) -> None:
    limiter, link = await limiter_on(REDIS_URL, prefix)
    try:
        concurrent = await limiter.admit_all([("user:9", Limits(max_concurrency=1))], 0, 0)
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        key = prefix + "rl:user:9"
        ttl = await client.pttl(key)
        assert 590_000 < ttl <= 600_000
        limiter.release(concurrent)
        await limiter.drain()
        assert not await client.exists(key)  # nothing counted any more: no key left
        await client.aclose()
    finally:
        await link.close()


async def test_unlimited_subjects_never_touch_redis(prefix: str) -> None:
    limiter, link = await limiter_on(REDIS_URL, prefix)
    try:
        assert (await limiter.admit_all([("token:5", Limits())], 10, 0)).admitted
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        assert [k async for k in client.scan_iter(match=prefix + "*")] == []
        await client.aclose()
    finally:
        await link.close()


async def test_an_unreachable_redis_falls_back_to_this_machines_limits(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        server.kill()
        started = time.monotonic()
        limiter, link = await limiter_on(server.url, "x:")
        try:
            verdicts = [
                await limiter.admit_all([("token:1", Limits(rpm=3))], 0, time.time())
                for _ in range(5)
            ]
            assert [v.admitted for v in verdicts] == [True, True, True, False, False]
            assert not any(v.shared for v in verdicts)
            assert time.monotonic() - started < 1.0
        finally:
            await link.close()


async def test_redis_going_away_degrades_within_a_second_and_comes_back(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        limiter, link = await limiter_on(server.url, "x:")
        link_events: list[bool] = []
        back = asyncio.Event()
        link.on_change(link_events.append)
        link.on_change(lambda up: back.set() if up else None)
        try:
            limits = [("token:1", Limits(rpm=1000))]
            assert (await limiter.admit_all(limits, 0, time.time())).shared
            server.kill()
            started = time.monotonic()
            verdicts = await asyncio.gather(
                *(limiter.admit_all(limits, 0, time.time()) for _ in range(50))
            )
            assert time.monotonic() - started < 1.0
            assert all(v.admitted and not v.shared for v in verdicts)
            assert link_events == [False]
            server.restart()
            async with asyncio.timeout(5):
                await back.wait()
            assert link_events == [False, True]
            assert (await limiter.admit_all(limits, 0, time.time())).shared
        finally:
            await link.close()
