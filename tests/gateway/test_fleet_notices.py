"""Notices between a fleet's routers (Redis pub/sub), and the round robin and breakers that
the fleet shares through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from burncloud.gateway.fleet.health import BreakerState, HealthBook, Outcome, breaker_key
from burncloud.gateway.fleet.notices import FleetNotices, announce_config_change
from burncloud.gateway.fleet.redis_link import RedisLink
from burncloud.gateway.fleet.shared_state import LocalState, Record
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import Candidate, Upstream
from tests.redis_support import REDIS_URL, private_redis, redis_prefix


@dataclass
class Heard:
    configs: int = 0
    breakers: list[tuple[str, Record]] = field(default_factory=list)
    recalls: list[tuple[str, int]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, kind: str) -> Callable[..., None]:
        def record(*args: object) -> None:
            if kind == "config":
                self.configs += 1
            elif kind == "breaker":
                self.breakers.append(args)  # type: ignore[arg-type]
            else:
                self.recalls.append(args[0])  # type: ignore[arg-type]
            self.changed.set()

        return record

    async def wait(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not check():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    with redis_prefix() as prefix:
        yield prefix


async def _router(prefix: str, name: str, url: str = REDIS_URL):
    link = RedisLink(url, prefix)
    await link.start()
    heard = Heard()
    notices = FleetNotices(
        link, name, heard.note("config"), heard.note("breaker"), heard.note("recall")
    )
    await notices.start()
    async with asyncio.timeout(5):
        await notices.subscribed.wait()
    return link, notices, heard


@pytest.fixture
async def two(prefix: str) -> AsyncIterator[list[tuple[RedisLink, FleetNotices, Heard]]]:
    routers = [await _router(prefix, name) for name in ("a", "b")]
    yield routers
    for link, notices, _ in routers:
        await notices.stop()
        await link.close()


async def test_a_breaker_opening_reaches_the_other_router_not_itself(two) -> None:
    (_, a, heard_a), (_, _, heard_b) = two
    opened = (1.0, 3.0, 1_900_000_000.5, 5.0)
    a.breaker_opened("cb:7:gpt-4", opened)
    await heard_b.wait(lambda: heard_b.breakers != [])
    assert heard_b.breakers == [("cb:7:gpt-4", opened)]
    assert heard_a.breakers == []


async def test_config_notices_from_a_router_and_from_the_cli(two, prefix: str) -> None:
    (_, a, heard_a), (_, _, heard_b) = two
    start_a, start_b = heard_a.configs, heard_b.configs  # one each at subscription
    a.config_changed()
    await heard_b.wait(lambda: heard_b.configs == start_b + 1)
    assert await announce_config_change(REDIS_URL, prefix)
    await heard_a.wait(lambda: heard_a.configs == start_a + 1)
    await heard_b.wait(lambda: heard_b.configs == start_b + 2)


async def test_a_recall_names_the_subject(two) -> None:
    (_, a, _), (_, _, heard_b) = two
    a.recall(("token", 12))
    await heard_b.wait(lambda: heard_b.recalls != [])
    assert heard_b.recalls == [("token", 12)]


async def test_the_cli_notice_reports_a_missing_redis(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        server.kill()
        assert not await announce_config_change(server.url, "x:")


async def test_a_subscriber_comes_back_with_redis_and_looks_for_changes(tmp_path) -> None:
    with private_redis(tmp_path) as server:
        link, notices, heard = await _router("x:", "a", server.url)
        try:
            before = heard.configs
            server.kill()
            server.restart()
            # resubscribed: it cannot know what it missed, so it reloads once
            await heard.wait(lambda: heard.configs > before)
            async with asyncio.timeout(5):
                await notices.subscribed.wait()
        finally:
            await notices.stop()
            await link.close()


def _candidate(channel_id: int) -> Candidate:
    upstream = Upstream(channel_id, "openai", f"c{channel_id}", "http://x/v1", "k", {}, {})
    return Candidate(upstream, 0, 0)


async def test_zero_weight_tiers_rotate_strictly_across_routers(two) -> None:
    (link_a, _, _), (link_b, _, _) = two
    candidates = tuple(_candidate(i) for i in (1, 2, 3))
    selectors = [ChannelSelector(LocalState(), link=link) for link in (link_a, link_b)]
    firsts = [
        (await selectors[i % 2].fleet_order("g", "m", candidates))[0].upstream.id for i in range(9)
    ]
    assert firsts == [1, 2, 3] * 3  # one counter for both, not one per router


async def test_rotation_falls_back_to_this_machine_without_redis() -> None:
    candidates = tuple(_candidate(i) for i in (1, 2))
    selector = ChannelSelector(LocalState())
    firsts = [(await selector.fleet_order("g", "m", candidates))[0].upstream.id for _ in range(4)]
    assert firsts == [1, 2, 1, 2]


def test_an_adopted_opening_keeps_the_channel_out_until_it_ends() -> None:
    now = [1000.0]
    book = HealthBook(LocalState(), clock=lambda: now[0])
    assert book.available(5, "m", 1)
    book.adopt(breaker_key(5, "m", 1), (1.0, 3.0, 1010.0, 5.0))
    assert not book.available(5, "m", 1)
    assert book.state(5, "m", 1).state is BreakerState.OPEN
    book.adopt(breaker_key(5, "m", 1), (1.0, 3.0, 1004.0, 5.0))  # an older, shorter one
    now[0] = 1005.0
    assert not book.available(5, "m", 1)  # the longer opening stands
    now[0] = 1010.0
    assert book.available(5, "m", 1)  # its probe


def test_a_breaker_this_router_opens_is_announced_once() -> None:
    opened: list[tuple[str, Record]] = []
    book = HealthBook(LocalState(), on_open=lambda key, rec: opened.append((key, rec)))
    for _ in range(5):
        book.record(9, "m", Outcome.FAILURE, key_id=1)
    assert [key for key, _ in opened] == [breaker_key(9, "m", 1)]
    assert opened[0][1][0] == 1.0  # the open state
