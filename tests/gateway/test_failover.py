"""Load balancing and failover across real fake upstreams behind one in-process router.

Each test puts two or three FakeOpenAI servers behind the router as separate channels and
checks where requests went three ways: the fakes' own request logs, what the client got,
and the routing decision stored in each request's log row (``logs.route``).
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import httpx
import openai
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.fleet import health
from burncloud.gateway.relay import routing
from burncloud.services.channels import add_channel, update_channel
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    free_port,
    logged_rows,
    running_router,
    wait_for_reload,
)

BOX = SecretBox.from_passphrase(SECRET)
GPT4 = {"models": ["gpt-4"]}
CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def fakes() -> AsyncIterator[list[FakeOpenAI]]:
    """Three healthy upstreams: A (seeded channel 1), B and C."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(FakeOpenAI()) for _ in range(3)]


async def add(router: RunningRouter, base_url: str, name: str, **fields: Any) -> int:
    """Add an openai channel for gpt-4 at ``base_url`` (reload not awaited); its id."""
    db = await open_database(router.db_url)
    try:
        channel = await add_channel(
            db,
            BOX,
            type="openai",
            name=name,
            key="sk-canary-upstream",
            base_url=base_url,
            **GPT4,
            **fields,
        )
    finally:
        await db.close()
    return channel.id


async def change(router: RunningRouter, channel_id: int, **fields: Any) -> None:
    """Update a channel's fields (reload not awaited)."""
    db = await open_database(router.db_url)
    try:
        await update_channel(db, BOX, channel_id, **fields)
    finally:
        await db.close()


def client(router: RunningRouter, timeout: float = 10.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=router.base_url,
        headers={"Authorization": f"Bearer {router.key}"},
        timeout=timeout,
        limits=httpx.Limits(max_connections=64),
    )


async def chat(http: httpx.AsyncClient, request_id: str, **extra: Any) -> httpx.Response:
    """POST a chat completion tagged with ``request_id`` (to find its log row)."""
    return await http.post(
        "/chat/completions", json={**CHAT, **extra}, headers={"x-request-id": request_id}
    )


async def routes_by_id(router: RunningRouter) -> dict[str, dict[str, Any]]:
    """Each logged request's row, with its ``route`` parsed, by request id."""
    rows = await logged_rows(router.db_url)
    return {row["request_id"]: {**row, "route": orjson.loads(row["route"])} for row in rows}


def attempts(row: dict[str, Any]) -> list[tuple[int, int | None]]:
    return [(a["id"], a["status"]) for a in row["route"]["attempts"]]


async def test_weights_3_to_1_split_traffic_75_25(tmp_path, fakes, monkeypatch) -> None:
    monkeypatch.setattr(routing, "new_rng", lambda: random.Random(1))
    a, b, _ = fakes
    async with running_router(tmp_path, a) as router:
        await change(router, 1, weight=3)
        await add(router, b.base_url, "b", weight=1)
        await wait_for_reload(router)
        # aiohttp, not httpx: httpx's pool costs ~10 ms a request at this concurrency.
        connector = aiohttp.TCPConnector(limit=32)
        headers = {"Authorization": f"Bearer {router.key}"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

            async def one(n: int) -> int:
                url = f"{router.base_url}/chat/completions"
                async with http.post(url, json=CHAT, headers={"x-request-id": f"w{n}"}) as r:
                    await r.read()
                    return r.status

            statuses = await asyncio.gather(*(one(n) for n in range(2000)))
    assert Counter(statuses) == {200: 2000}
    share_a, share_b = a.request_count / 2000, b.request_count / 2000
    print(f"\nweights 3:1 over 2000 requests: A {share_a:.2%}, B {share_b:.2%}")
    assert a.request_count + b.request_count == 2000
    assert abs(share_a - 0.75) <= 0.03 and abs(share_b - 0.25) <= 0.03


async def test_weight_0_tier_rotates_strictly(tmp_path, fakes) -> None:
    async with running_router(tmp_path, fakes[0]) as router:
        await change(router, 1, weight=0)
        for fake, name in zip(fakes[1:], "bc", strict=True):
            await add(router, fake.base_url, name, weight=0)
        await wait_for_reload(router)
        async with client(router) as http:
            for n in range(9):
                response = await chat(
                    http, f"rr{n}", messages=[{"role": "user", "content": f"n{n}"}]
                )
                assert response.status_code == 200
    seen = [[r.json["messages"][0]["content"] for r in fake.requests] for fake in fakes]
    start = [s[0] for s in seen].index("n0")  # the fake the rotation began with
    for n in range(9):
        assert f"n{n}" in seen[(start + n) % 3], seen
    assert [len(s) for s in seen] == [3, 3, 3]


async def test_higher_priority_takes_all_until_it_fails(tmp_path, fakes) -> None:
    low, high, _ = fakes
    async with running_router(tmp_path, low) as router:
        await add(router, high.base_url, "high", priority=10, weight=1)
        await wait_for_reload(router)
        async with client(router) as http:
            for n in range(10):
                assert (await chat(http, f"h{n}")).status_code == 200
            assert (high.request_count, low.request_count) == (10, 0)
            high.fail_with(500)
            for n in range(2):
                assert (await chat(http, f"f{n}")).status_code == 200
    assert (high.request_count, low.request_count) == (12, 2)
    rows = await routes_by_id(router)
    assert attempts(rows["h0"]) == [(2, 200)]
    assert attempts(rows["f1"]) == [(2, 500), (1, 200)]


def _refused(fake: FakeOpenAI) -> dict[str, Any]:
    return {"base_url": f"http://127.0.0.1:{free_port()}/v1"}


def _stalled(fake: FakeOpenAI) -> dict[str, Any]:
    fake.stall_before_headers = 5.0
    return {"config": {"first_byte_timeout": "0.3"}}


def _failing(status: int, retry_after: int | None = None):
    def arrange(fake: FakeOpenAI) -> dict[str, Any]:
        fake.fail_with(status, retry_after=retry_after)
        return {}

    return arrange


@pytest.mark.parametrize(
    ("arrange", "upstream_status", "reached"),
    [
        pytest.param(_refused, None, 0, id="connection-refused"),
        pytest.param(_stalled, None, 1, id="first-byte-timeout"),
        pytest.param(_failing(429, retry_after=2), 429, 1, id="429-retry-after"),
        pytest.param(_failing(500), 500, 1, id="500"),
        pytest.param(_failing(503), 503, 1, id="503"),
    ],
)
async def test_a_failed_attempt_fails_over_to_the_next_channel(
    tmp_path, fakes, arrange, upstream_status: int | None, reached: int
) -> None:
    healthy, failing, _ = fakes
    async with running_router(tmp_path, healthy) as router:
        fields = {"base_url": failing.base_url, **arrange(failing)}
        await add(router, name="failing", priority=10, **fields)
        await wait_for_reload(router)
        async with client(router) as http:
            response = await chat(http, "fo")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: hi"
    assert (failing.request_count, healthy.request_count) == (reached, 1)
    row = (await routes_by_id(router))["fo"]
    assert row["status"] == 200 and row["channel_id"] == 1
    assert row["route"]["candidates"] == [
        {"id": 2, "priority": 10, "weight": 1},
        {"id": 1, "priority": 0, "weight": 1},
    ]
    assert row["route"]["skipped"] == []
    assert attempts(row) == [(2, upstream_status), (1, 200)]
    assert "error" in row["route"]["attempts"][0]


async def test_every_channel_failing_returns_the_last_error_once_each(tmp_path, fakes) -> None:
    for fake, status in zip(fakes, (500, 503, 502), strict=True):
        fake.fail_with(status, f"down {status}")
    async with running_router(tmp_path, fakes[0]) as router:
        for fake, name in zip(fakes[1:], "bc", strict=True):
            await add(router, fake.base_url, name)
        await wait_for_reload(router)
        async with client(router) as http:
            response = await chat(http, "all")
    assert [fake.request_count for fake in fakes] == [1, 1, 1]
    row = (await routes_by_id(router))["all"]
    tried = row["route"]["attempts"]
    assert sorted(a["id"] for a in tried) == [1, 2, 3]
    assert response.status_code >= 500
    assert response.json()["error"]["message"] == tried[-1]["error"]
    assert row["status"] == response.status_code


async def test_failover_attempts_caps_the_channels_tried(tmp_path, fakes) -> None:
    for fake in fakes:
        fake.fail_with(500)
    async with running_router(tmp_path, fakes[0], failover_attempts=2) as router:
        for fake, name in zip(fakes[1:], "bc", strict=True):
            await add(router, fake.base_url, name)
        await wait_for_reload(router)
        async with client(router) as http:
            response = await chat(http, "cap")
    assert response.status_code == 502
    assert sorted(fake.request_count for fake in fakes) == [0, 1, 1]
    row = (await routes_by_id(router))["cap"]
    assert [status for _, status in attempts(row)] == [500, 500]


async def test_a_400_is_the_clients_answer_and_not_held_against_the_channel(
    tmp_path, fakes
) -> None:
    healthy, strict, _ = fakes
    strict.fail_with(400, "Invalid 'temperature': decimal above maximum value.")
    async with running_router(tmp_path, healthy) as router:
        await add(router, strict.base_url, "strict", priority=10)
        await wait_for_reload(router)
        async with client(router) as http:
            responses = [await chat(http, f"bad{n}") for n in range(5)]
    assert [r.status_code for r in responses] == [400] * 5
    assert "temperature" in responses[0].json()["error"]["message"]
    assert (strict.request_count, healthy.request_count) == (5, 0)  # never skipped
    rows = await routes_by_id(router)
    for n in range(5):
        assert attempts(rows[f"bad{n}"]) == [(2, 400)]
        assert rows[f"bad{n}"]["route"]["skipped"] == []


async def _until_reached(http: httpx.AsyncClient, fake: FakeOpenAI, count: int) -> str:
    """Send requests until ``fake`` has seen ``count``; the id of the one that got there."""
    deadline = time.monotonic() + 5.0
    for n in range(10_000):
        request_id = f"poll{n}"
        assert (await chat(http, request_id)).status_code == 200
        if fake.request_count >= count:
            return request_id
        assert time.monotonic() < deadline, "the breaker never let a probe through"
        await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


async def test_breaker_opens_after_3_failures_skips_then_probes_closed(
    tmp_path, fakes, monkeypatch
) -> None:
    # The breakers' cool-down is 5 s by default; the router's HealthBook builds its policy
    # from health.BreakerPolicy() at start, so a shorter default takes effect here.
    monkeypatch.setattr(
        health, "BreakerPolicy", functools.partial(health.BreakerPolicy, base_cooldown=1.0)
    )
    backup, flaky, _ = fakes
    flaky.fail_with(500, times=3)
    async with running_router(tmp_path, backup) as router:
        await add(router, flaky.base_url, "flaky", priority=10)
        await wait_for_reload(router)
        async with client(router) as http:
            for n in range(3):
                assert (await chat(http, f"fail{n}")).status_code == 200
            for n in range(3):
                assert (await chat(http, f"skip{n}")).status_code == 200
            assert (flaky.request_count, backup.request_count) == (3, 6)
            probe = await _until_reached(http, flaky, 4)
            assert (await chat(http, "after")).status_code == 200
    rows = await routes_by_id(router)
    assert attempts(rows["fail2"]) == [(2, 500), (1, 200)]
    for n in range(3):
        (skip,) = rows[f"skip{n}"]["route"]["skipped"]
        assert skip["id"] == 2 and skip["reason"].startswith("breaker open, retry in ")
        assert attempts(rows[f"skip{n}"]) == [(1, 200)]
    assert attempts(rows[probe]) == [(2, 200)]
    assert attempts(rows["after"]) == [(2, 200)] and rows["after"]["route"]["skipped"] == []
    assert flaky.request_count == 5


@pytest.mark.faults
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("die_after_chunks", "the upstream stream broke off"),
        ("error_after_chunks", "upstream overloaded"),
    ],
)
async def test_a_stream_failing_midway_is_not_retried_and_bills_what_was_sent(
    tmp_path, fakes, fault: str, error: str
) -> None:
    backup, breaking, _ = fakes
    setattr(breaking, fault, 3)  # the role chunk, "Hello!", " You", then the fault
    async with running_router(tmp_path, backup) as router:
        await add(router, breaking.base_url, "breaking", priority=10)
        await wait_for_reload(router)
        sdk = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        received: list[str] = []
        async with sdk:
            stream = await sdk.chat.completions.create(**CHAT, stream=True)  # type: ignore[call-overload]
            with pytest.raises(openai.APIError) as raised:
                async for chunk in stream:
                    received.extend(c.delta.content or "" for c in chunk.choices)
    assert error in str(raised.value)
    assert "".join(received) == "Hello! You"
    assert (breaking.request_count, backup.request_count) == (1, 0)
    (row,) = await logged_rows(router.db_url)
    assert row["status"] == 502 and row["error"] == error
    assert row["channel_id"] == 2 and row["estimated"] == 1
    assert row["completion_tokens"] == 3  # "Hello", "!", " You"
    assert row["cost"] == (row["prompt_tokens"] * 30 + 3 * 60) * 1000 > 0
    assert attempts({"route": orjson.loads(row["route"])}) == [(2, 502)]


@pytest.mark.faults
async def test_a_client_leaving_a_waiting_request_cancels_the_upstream(tmp_path, fakes) -> None:
    slow = fakes[0]
    slow.stall_before_headers = 10.0
    async with running_router(tmp_path, slow) as router:
        async with client(router, timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                await chat(http, "gone")
            left = time.monotonic()
        await slow.wait_until(lambda: slow.cancelled == 1, within=1.0)
        assert time.monotonic() - left < 1.0
    (row,) = await logged_rows(router.db_url)
    assert (row["request_id"], row["status"]) == ("gone", 499)
    assert row["completion_tokens"] == 0 and row["estimated"] == 1


@pytest.mark.faults
async def test_a_client_leaving_a_stream_closes_the_upstream(tmp_path, fakes) -> None:
    slow = fakes[0]
    slow.stall_after_headers = 10.0
    async with running_router(tmp_path, slow) as router:
        async with client(router) as http:
            body = {**CHAT, "stream": True}
            headers = {"x-request-id": "gone"}
            async with http.stream("POST", "/chat/completions", json=body, headers=headers) as r:
                assert r.status_code == 200
                await slow.wait_until(lambda: slow.open_streams == 1)
        left = time.monotonic()  # the client closed its connection mid-stream
        await slow.wait_until(lambda: slow.open_streams == 0 and slow.cancelled == 1, within=1.0)
        assert time.monotonic() - left < 1.0
    (row,) = await logged_rows(router.db_url)
    assert (row["request_id"], row["status"]) == ("gone", 499)


async def test_retry_after_keeps_a_rate_limited_channel_skipped(tmp_path, fakes) -> None:
    backup, limited, _ = fakes
    limited.fail_with(429, retry_after=2, times=1)
    async with running_router(tmp_path, backup) as router:
        await add(router, limited.base_url, "limited", priority=10)
        await wait_for_reload(router)
        async with client(router) as http:
            assert (await chat(http, "limited")).status_code == 200
            assert (await chat(http, "next")).status_code == 200
    assert (limited.request_count, backup.request_count) == (1, 2)
    rows = await routes_by_id(router)
    assert attempts(rows["limited"]) == [(2, 429), (1, 200)]
    (skip,) = rows["next"]["route"]["skipped"]
    assert skip["id"] == 2 and "retry in 2 s" in skip["reason"]
    assert attempts(rows["next"]) == [(1, 200)]
