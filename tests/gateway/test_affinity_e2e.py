"""Session affinity through real routers: 200 conversations of 5 turns over 3 equal
channels, one killed mid-run; on one router, and on two routers sharing one Redis."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import rows_once_logged, running_router, serving, wait_for_reload
from tests.gateway.test_failover import add
from tests.redis_support import REDIS_URL, redis_prefix

CONVERSATIONS, TURNS, KILLED_AT = 200, 5, 2


@pytest.fixture
async def fakes() -> AsyncIterator[list[FakeOpenAI]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(FakeOpenAI()) for _ in range(3)]


async def converse(base_urls: list[str], key: str, fakes: list[FakeOpenAI]) -> None:
    """Every conversation's turns in order (turn t of conversation c through router
    ``(c + t) % len(base_urls)``); channel 2 (fakes[1]) fails from turn KILLED_AT on."""
    clients = [
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
            limits=httpx.Limits(max_connections=32),
        )
        for url in base_urls
    ]  # fmt: skip
    try:
        for turn in range(TURNS):
            if turn == KILLED_AT:
                fakes[1].fail_with(500, "down")

            async def one(c: int, turn: int = turn) -> None:
                http = clients[(c + turn) % len(clients)]
                body = {
                    "model": "gpt-4",
                    "messages": [{"role": "user", "content": f"turn {turn}"}],
                    "user": f"conversation-{c}",
                }
                response = await http.post(
                    "/chat/completions", json=body, headers={"x-request-id": f"c{c}t{turn}"}
                )
                assert response.status_code == 200, response.text

            await asyncio.gather(*(one(c) for c in range(CONVERSATIONS)))
    finally:
        for http in clients:
            await http.aclose()


def landed(rows: list[dict[str, Any]]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """Per conversation, each turn's channel and route trace's affinity, in turn order."""
    found: dict[int, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        c, t = row["request_id"][1:].split("t")
        found[int(c)].append((int(t), row["channel_id"], orjson.loads(row["route"])["affinity"]))
    return {c: [(ch, aff) for _, ch, aff in sorted(turns)] for c, turns in found.items()}


def check(turns_of: dict[int, list[tuple[int, dict[str, Any]]]]) -> float:
    assert len(turns_of) == CONVERSATIONS
    firsts = Counter(turns[0][0] for turns in turns_of.values())
    assert all(40 <= firsts[ch] <= 95 for ch in (1, 2, 3)), firsts
    on_first = 0
    for turns in turns_of.values():
        channels = [ch for ch, _ in turns]
        first = channels[0]
        assert turns[0][1]["result"] == "new" and turns[0][1]["channel"] is None
        if first != 2:
            assert channels == [first] * TURNS
            assert all(aff["hit"] and aff["result"] == "kept" for _, aff in turns[1:])
        else:
            moved = channels[KILLED_AT]
            assert channels == [2] * KILLED_AT + [moved] * (TURNS - KILLED_AT) and moved != 2
            assert turns[KILLED_AT][1]["result"] == "moved"
        on_first += channels.count(first)
    share = on_first / (CONVERSATIONS * TURNS)
    moved = firsts[2]
    print(f"\naffinity: {share:.1%} of turns on their conversation's first channel;"
          f" {moved} conversations moved off the killed channel")  # fmt: skip
    assert share == pytest.approx(1 - moved * (TURNS - KILLED_AT) / (CONVERSATIONS * TURNS))
    return share


async def test_conversations_stick_to_their_channel_and_move_only_off_a_dead_one(
    tmp_path, fakes
) -> None:
    async with running_router(tmp_path, fakes[0]) as router:
        for fake, name in zip(fakes[1:], "bc", strict=True):
            await add(router, fake.base_url, name)
        await wait_for_reload(router)
        await converse([router.base_url], router.key, fakes)
        check(landed(await rows_once_logged(router.db_url, CONVERSATIONS * TURNS)))


async def test_two_routers_through_redis_keep_each_conversation_on_one_channel(
    tmp_path, fakes
) -> None:
    with redis_prefix() as prefix:
        async with running_router(
            tmp_path, fakes[0], redis_url=REDIS_URL, redis_prefix=prefix
        ) as router:
            for fake, name in zip(fakes[1:], "bc", strict=True):
                await add(router, fake.base_url, name)
            await wait_for_reload(router)
            async with serving(router.db_url, redis_url=REDIS_URL, redis_prefix=prefix) as second:
                await converse([router.base_url, second], router.key, fakes)
            check(landed(await rows_once_logged(router.db_url, CONVERSATIONS * TURNS)))
