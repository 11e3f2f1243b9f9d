"""Budgets and plans through the router, driven with the openai SDK: the 402 a client
gets when a window is spent, plans' models, group and limits, and exactness across
worker processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import openai
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services import budgets, plans
from burncloud.services.budgets import TOKEN, BudgetSpec
from burncloud.services.channels import update_channel
from burncloud.services.prices import set_price
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    running_router,
    seed,
    wait_for_reload,
)
from tests.gateway.router_process import router_process

MESSAGES = [{"role": "user", "content": "hi"}]
ANSWER = 6_000_000  # 100 answer tokens at 60 USD per 1M (input free): reserved = billed


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-up", completion_tokens=100) as fake:
        yield fake


async def configure(db_url: str, *steps) -> None:  # type: ignore[no-untyped-def]
    """Output-only gpt-4 price, then each step(tx) in one transaction."""
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            await set_price(tx, "gpt-4", 0, parse_usd("60"))
            for step in steps:
                await step(tx)
    finally:
        await db.close()


def token_budget(token_id: int, usd: str, period: str, model: str = ""):  # type: ignore[no-untyped-def]
    async def step(tx) -> None:  # type: ignore[no-untyped-def]
        await budgets.set_budget(tx, TOKEN, token_id, parse_usd(usd), period, model)

    return step


async def ask(router: RunningRouter, model: str = "gpt-4") -> openai.types.chat.ChatCompletion:
    client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
    try:
        return await client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=100)
    finally:
        await client.close()


async def test_a_spent_daily_budget_is_a_402_budget_exceeded_with_retry_after(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with running_router(tmp_path, upstream) as router:
        await configure(router.db_url, token_budget(router.token_id, "0.012", "day"))
        await wait_for_reload(router)
        await ask(router)
        await ask(router)
        with pytest.raises(openai.APIStatusError) as refused:
            await ask(router)
    error = refused.value
    assert error.status_code == 402 and upstream.request_count == 2
    body = error.response.json()["error"]
    assert body["code"] == "budget_exceeded" and body["type"] == "insufficient_quota_error"
    assert "this API key's daily budget of 0.012 USD" in body["message"]
    assert "resets at" in body["message"]
    assert 0 < int(error.response.headers["retry-after"]) <= 86400
    rows = await logged_rows(router.db_url)
    assert [row["status"] for row in rows] == [200, 200, 402]


async def test_a_model_budget_limits_only_its_model(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with running_router(tmp_path, upstream) as router:
        await configure(
            router.db_url,
            token_budget(router.token_id, "0", "month", "gpt-4"),
            token_budget(router.token_id, "100", "month", "o3"),
        )
        await wait_for_reload(router)
        with pytest.raises(openai.APIStatusError, match="monthly budget for gpt-4"):
            await ask(router)
    assert upstream.request_count == 0


async def test_the_answer_is_capped_to_what_the_budget_has_left(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.completion_tokens = 20
    async with running_router(tmp_path, upstream) as router:
        await configure(router.db_url, token_budget(router.token_id, "0.0012", "week"))
        await wait_for_reload(router)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        await client.chat.completions.create(model="gpt-4", messages=MESSAGES, max_tokens=1000)
        await client.close()
    assert upstream.last_request.json["max_tokens"] == 20  # 0.0012 USD at 60 USD per 1M


async def test_a_plan_limits_models_prices_by_its_group_and_changes_from_the_next_request(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async def plan_for_admin(tx) -> None:  # type: ignore[no-untyped-def]
        await tx.execute("INSERT INTO user_groups (name, ratio, updated_at) VALUES ('pro', '2', 0)")
        await plans.create_plan(
            tx, "coding", budgets=[BudgetSpec.parse("0.024/5h")], models=["o3"], group="pro"
        )
        await plans.assign_plan(tx, "admin", "coding")

    async with running_router(tmp_path, upstream) as router:
        await configure(router.db_url, plan_for_admin)
        db = await open_database(router.db_url)
        try:
            await update_channel(db, None, 1, groups=["default", "pro"])
        finally:
            await db.close()
        await wait_for_reload(router)
        with pytest.raises(openai.PermissionDeniedError, match="'coding' plan does not include"):
            await ask(router)

        async def allow_gpt4(tx) -> None:  # type: ignore[no-untyped-def]
            await plans.update_plan(tx, "coding", plans.PlanChanges(models=["gpt-4", "o3"]))

        await configure(router.db_url, allow_gpt4)
        await wait_for_reload(router)
        await ask(router)  # 0.012 USD at the group's ratio of 2
        await ask(router)
        with pytest.raises(openai.APIStatusError, match="the plan's 5-hour budget"):
            await ask(router)
    rows = [row for row in await logged_rows(router.db_url) if row["status"] == 200]
    assert [row["cost"] for row in rows] == [2 * ANSWER, 2 * ANSWER]


async def _burst(urls: list[str], key: str, count: int) -> list[int]:
    body = {"model": "gpt-4", "messages": MESSAGES, "max_tokens": 100}
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:

        async def one(i: int) -> int:
            url = f"{urls[i % len(urls)]}/chat/completions"
            async with http.post(url, json=body, headers=headers) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(i) for i in range(count))))


@pytest.mark.slow
def test_500_requests_on_a_daily_budget_for_50_answer_exactly_50_with_2_workers(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path}/budgets.db"
    with running_fake_openai("sk-up", completion_tokens=100) as fake:
        token_id, key = asyncio.run(seed(db_url, fake))
        asyncio.run(configure(db_url, token_budget(token_id, "0.3", "day")))  # 50 answers
        with router_process(db_url, workers=2) as (base_url, _):
            statuses = asyncio.run(_burst([base_url], key, 500))
        answered = len(fake.requests)
    assert statuses.count(200) == 50 and statuses.count(402) == 450
    assert answered == 50
    rows = asyncio.run(_windows(db_url))
    assert [(row["amount"], row["remaining"], row["used"]) for row in rows] == [
        (50 * ANSWER, 0, 50 * ANSWER)
    ]


async def _windows(db_url: str) -> list:
    db = await open_database(db_url)
    try:
        return await db.fetch_all("SELECT * FROM budget_windows")
    finally:
        await db.close()
