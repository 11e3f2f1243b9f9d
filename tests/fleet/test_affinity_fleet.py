"""Session pins across a fleet: two routers' books over one Redis, each with its own
machine table, and what each falls back to when Redis is gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from burncloud.gateway.fleet.affinity_store import ExpiringTable
from burncloud.gateway.fleet.redis_link import RedisLink
from burncloud.gateway.relay.affinity import AffinityBook, Sticky, scoped_session
from tests.gateway.test_affinity import (
    HOUR,
    Clock,
    check_conversations,
    converse,
)
from tests.redis_support import REDIS_URL, private_redis, redis_prefix

SESSION = scoped_session(1, "default", "m", "bob")


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    with redis_prefix() as prefix:
        yield prefix


async def book_on(
    url: str, prefix: str, ttl: float = HOUR, clock: Clock | None = None
) -> tuple[AffinityBook, RedisLink]:
    """A router's book: its own link and machine table, the fleet's Redis."""
    link = RedisLink(url, prefix, timeout=5.0)  # a starved test machine is not a dead Redis
    await link.start()
    book = AffinityBook(ExpiringTable.anonymous(1024), link, ttl, *([clock] if clock else []))
    return book, link


@pytest.fixture
async def routers(prefix: str) -> AsyncIterator[list[AffinityBook]]:
    pairs = [await book_on(REDIS_URL, prefix) for _ in range(2)]
    yield [book for book, _ in pairs]
    for book, link in pairs:
        await book.drain()
        await link.close()


async def stored(prefix: str, session_key: str) -> tuple[bytes | str | None, int]:
    """The pin as Redis holds it, and its time to live in milliseconds."""
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        key = prefix + session_key
        return await client.get(key), await client.pttl(key)
    finally:
        await client.aclose()


async def test_a_pin_made_on_one_router_is_found_on_the_other(routers) -> None:
    a, b = routers
    assert await b.lookup(SESSION) is None
    a.remember(SESSION, 3, 31)
    await a.drain()
    found = await b.lookup(SESSION)
    assert found == Sticky(3, 31) and found is not None and found.since > 0


async def test_a_release_on_one_router_frees_the_session_on_the_other(routers) -> None:
    a, b = routers
    b.remember(SESSION, 3, 31)  # b's own table holds it too
    await b.drain()
    assert await a.lookup(SESSION) == Sticky(3, 31)
    a.release(SESSION)
    await a.drain()
    assert await b.lookup(SESSION) is None  # while Redis is up, it alone holds the pins
    assert await a.lookup(SESSION) is None


async def test_redis_holds_the_pin_for_the_ttl_and_a_fresh_pin_is_not_rewritten(
    prefix: str,
) -> None:
    clock = Clock()
    book, link = await book_on(REDIS_URL, prefix, HOUR, clock)
    try:
        book.remember(SESSION, 3, 31)
        await book.drain()
        value, ttl = await stored(prefix, SESSION.key)
        assert value == f"3:31:{clock.now:.3f}".encode() and HOUR * 1000 - 5000 < ttl <= HOUR * 1000
        seen = await book.lookup(SESSION)
        clock.now += 59  # under an hour's sixtieth: the pin stays as written
        book.remember(SESSION, 3, 31, seen)
        await book.drain()
        assert (await stored(prefix, SESSION.key))[0] == value
        clock.now += 1  # a minute since it was written: refreshed
        book.remember(SESSION, 3, 31, seen)
        await book.drain()
        assert (await stored(prefix, SESSION.key))[0] == f"3:31:{clock.now:.3f}".encode()
        book.remember(SESSION, 3, 32, await book.lookup(SESSION))  # another key: written
        await book.drain()
        assert (await stored(prefix, SESSION.key))[0] == f"3:32:{clock.now:.3f}".encode()
    finally:
        await link.close()


async def test_a_pin_vanishes_from_redis_when_its_ttl_passes(prefix: str) -> None:
    book, link = await book_on(REDIS_URL, prefix, ttl=0.2)
    try:
        book.remember(SESSION, 3, 31)
        await book.drain()
        assert (await stored(prefix, SESSION.key))[0] is not None
        await asyncio.sleep(0.3)
        assert await stored(prefix, SESSION.key) == (None, -2)
        assert await book.lookup(SESSION) is None  # its own table's copy expired too
    finally:
        await link.close()


async def test_conversations_over_two_routers_stay_on_their_first_channel(routers) -> None:
    landed = await converse(routers)  # every other turn through the other router
    assert check_conversations(landed) == 1.0


async def test_a_channel_killed_mid_run_moves_only_its_conversations_on_both_routers(
    routers,
) -> None:
    landed = await converse(routers, dead=2)
    moved = sum(turns[0][0] == 2 for turns in landed.values())
    share = check_conversations(landed, dead=2)
    assert 40 <= moved <= 95 and share == pytest.approx(1 - moved * 3 / 1000)


async def test_while_redis_is_down_each_router_keeps_its_own_pins(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        a, link_a = await book_on(server.url, "aff:")
        b, link_b = await book_on(server.url, "aff:")
        try:
            a.remember(SESSION, 3, 31)
            await a.drain()
            assert await b.lookup(SESSION) == Sticky(3, 31)  # through Redis
            server.kill()
            assert link_a.up and link_b.up  # not noticed yet: the GETs below find out
            assert await a.lookup(SESSION) == Sticky(3, 31)  # from its own table
            assert await b.lookup(SESSION) is None  # b only ever read it from Redis
            assert not link_a.up and not link_b.up
            b.remember(SESSION, 4, 41)  # b's own pin now; no write is even attempted
            assert await b.lookup(SESSION) == Sticky(4, 41)
            a.release(SESSION)
            assert await a.lookup(SESSION) is None
        finally:
            await link_a.close()
            await link_b.close()
