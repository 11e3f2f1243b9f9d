"""Channel health end to end: upstream refusals auto-disable, the prober revives, operators win.

A real router sits in front of a healthy FakeOpenAI (channel 1, priority 0) and a second
fake as channel 2 at priority 10, so every request tries channel 2 first while it is in
rotation. Whether a request reached a fake is read from the fake's own request log: the
prober's requests are told apart by their ``max_tokens: 1``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.services.channel_health import auto_disable
from burncloud.services.channels import add_channel, disable_channel
from tests.fakes import FakeOpenAI, RecordedRequest
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    logged_rows,
    running_router,
    wait_for_reload,
)

BOX = SecretBox.from_passphrase(SECRET)
WRONG_KEY = "sk-wrong-Zq7DistinctiveKey-5521"
QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details."


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeOpenAI, FakeOpenAI]]:
    """Healthy (channel 1), watched (channel 2) and a spare."""
    async with AsyncExitStack() as stack:
        a, b, c = [await stack.enter_async_context(FakeOpenAI()) for _ in range(3)]
        yield a, b, c


async def add(router: RunningRouter, fake: FakeOpenAI, name: str, **fields: Any) -> int:
    """Add an openai gpt-4 channel to ``fake`` (reload not awaited); its id."""
    fields.setdefault("key", fake.key)
    db = await open_database(router.db_url)
    try:
        channel = await add_channel(
            db, BOX, type="openai", name=name, base_url=fake.base_url, models=["gpt-4"], **fields
        )
    finally:
        await db.close()
    return channel.id


async def with_db(router: RunningRouter, action: Callable[[Any], Awaitable[Any]]) -> Any:
    db = await open_database(router.db_url)
    try:
        return await action(db)
    finally:
        await db.close()


async def status_of(router: RunningRouter, channel_id: int) -> tuple[str, str]:
    row = await with_db(
        router,
        lambda db: db.fetch_one(
            "SELECT status, status_reason FROM channels WHERE id = :id", {"id": channel_id}
        ),
    )
    return row["status"], row["status_reason"]


async def until_status(
    router: RunningRouter, channel_id: int, status: str, within: float
) -> tuple[str, str]:
    """Poll the channel row until its status is ``status``; (status, reason)."""
    deadline = time.monotonic() + within
    while (found := await status_of(router, channel_id))[0] != status:
        assert time.monotonic() < deadline, f"channel {channel_id} still {found} after {within} s"
        await asyncio.sleep(0.02)
    return found


async def chat(router: RunningRouter, text: str) -> httpx.Response:
    """One client request whose user text is ``text`` (and its request id)."""
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": text}]}
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            f"{router.base_url}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {router.key}", "x-request-id": text},
        )


def client_texts(fake: FakeOpenAI) -> list[str]:
    """The user texts of the client requests a fake saw (the prober's are left out)."""
    return [r.json["messages"][-1]["content"] for r in fake.requests if not is_probe(r)]


def is_probe(request: RecordedRequest) -> bool:
    return isinstance(request.json, dict) and request.json.get("max_tokens") == 1


def refuse_401(fake: FakeOpenAI) -> dict[str, Any]:
    fake.fail_with(401)
    return {}


def wrong_key(fake: FakeOpenAI) -> dict[str, Any]:
    return {"key": WRONG_KEY}


def out_of_quota(fake: FakeOpenAI) -> dict[str, Any]:
    fake.fail_with(429, QUOTA_MESSAGE, type="insufficient_quota", code="insufficient_quota")
    return {}


@pytest.mark.parametrize(
    ("arrange", "upstream_status"),
    [
        pytest.param(refuse_401, 401, id="401"),
        pytest.param(wrong_key, 401, id="wrong-key"),
        pytest.param(out_of_quota, 429, id="insufficient-quota"),
    ],
)
async def test_a_channel_the_upstream_refuses_is_auto_disabled(
    tmp_path, fakes, arrange, upstream_status: int
) -> None:
    healthy, refused, _ = fakes
    async with running_router(tmp_path, healthy) as router:
        await add(router, refused, "refused", priority=10, **arrange(refused))
        await wait_for_reload(router)
        response = await chat(router, "first")
        answered = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "Hello! You said: first"
        _, reason = await until_status(router, 2, "auto_disabled", within=1.0)
        assert time.monotonic() - answered < 1.0
        await wait_for_reload(router)
        for n in range(5):
            assert (await chat(router, f"after{n}")).status_code == 200
    assert reason and WRONG_KEY not in reason and "sk-" not in reason
    if upstream_status == 429:
        assert QUOTA_MESSAGE in reason
    assert client_texts(refused) == ["first"]  # and nothing after it was disabled
    assert client_texts(healthy) == ["first"] + [f"after{n}" for n in range(5)]
    rows = {
        row["request_id"]: orjson.loads(row["route"]) for row in await logged_rows(router.db_url)
    }
    assert [(a["id"], a["status"]) for a in rows["first"]["attempts"]] == [
        (2, upstream_status),
        (1, 200),
    ]
    assert rows["after4"]["candidates"] == [{"id": 1, "priority": 0, "weight": 1}]


async def test_the_prober_re_enables_a_channel_once_it_answers(tmp_path, fakes) -> None:
    healthy, flaky, _ = fakes
    flaky.fail_with(401)
    async with running_router(tmp_path, healthy, probe_seconds=0.2) as router:
        await add(router, flaky, "flaky", priority=10)
        await wait_for_reload(router)
        assert (await chat(router, "first")).status_code == 200
        await until_status(router, 2, "auto_disabled", within=1.0)
        # Probes while the key is still refused leave it disabled.
        await flaky.wait_until(lambda: sum(map(is_probe, flaky.requests)) >= 2, within=2.0)
        assert (await status_of(router, 2))[0] == "auto_disabled"
        flaky.clear_faults()
        assert await until_status(router, 2, "enabled", within=2.0) == ("enabled", "")
        await wait_for_reload(router)
        response = await chat(router, "back")
    assert response.status_code == 200
    assert client_texts(flaky) == ["first", "back"]
    assert client_texts(healthy) == ["first"]
    probe = next(r for r in flaky.requests if is_probe(r))
    assert probe.json == {
        "model": "gpt-4",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 1,
    }


async def test_an_operator_disabled_channel_is_never_probed_or_revived(tmp_path, fakes) -> None:
    healthy, parked, refused = fakes
    refused.fail_with(401)
    async with running_router(tmp_path, healthy, probe_seconds=0.2) as router:
        await add(router, parked, "parked", priority=10)
        await add(router, refused, "refused", priority=10)
        await with_db(router, lambda db: disable_channel(db, 2, "maintenance"))
        await with_db(router, lambda db: auto_disable(db, 3, 3, "refused its key"))
        # The auto-disabled channel's probes are the prober's clock: five rounds, about 1 s.
        await refused.wait_until(lambda: refused.request_count >= 5, within=3.0)
        assert parked.request_count == 0
        assert await status_of(router, 2) == ("disabled", "maintenance")
        assert await status_of(router, 3) == ("auto_disabled", "refused its key")
        await wait_for_reload(router)
        assert (await chat(router, "served")).status_code == 200
    assert parked.request_count == 0
    assert client_texts(healthy) == ["served"]
    assert all(map(is_probe, refused.requests))
