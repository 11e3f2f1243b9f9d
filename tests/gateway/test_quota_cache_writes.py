"""Exact quota with the new kinds: a burst whose every answer writes its whole prompt to an
Anthropic one-hour cache (2x the input price) lets exactly the affordable number through,
and the quota never goes below zero. A reservation priced at the input price would let
more through and overdraw."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import httpx

from burncloud.db import open_database
from burncloud.money import format_usd, parse_usd
from burncloud.services.prices import save_price
from burncloud.services.pricing import Price, Usage, ceiling_cost, cost
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

BODY = json.dumps(
    {"model": "gpt-4", "messages": [{"role": "user", "content": "hi " * 40}], "max_tokens": 100}
).encode()
PROMPT = len(BODY) // 3 + 1  # the router's reservation estimate of this body's prompt
PRICE = Price(
    "gpt-4",
    input=parse_usd("1"),
    output=parse_usd("10"),
    cache_write_1h=parse_usd("6"),
)
# Every answer: the whole prompt written to the one-hour cache, 100 tokens out.
USAGE = Usage(PROMPT, 100, cache_write_tokens=PROMPT, cache_write_1h_tokens=PROMPT)
ONE = Decimal(1)
EACH = cost(USAGE, PRICE, ONE)
AFFORDABLE = 20


def _answer(tmp_path: Path) -> str:
    """A Messages API answer with that usage (a test double's answer, not a recording)."""
    path = tmp_path / "answer.json"
    path.write_text(
        json.dumps(
            {
                "id": "msg_cache_writes",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "hello"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 0,
                    "cache_creation_input_tokens": PROMPT,
                    "cache_read_input_tokens": 0,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 0,
                        "ephemeral_1h_input_tokens": PROMPT,
                    },
                    "output_tokens": 100,
                },
            }
        )
    )
    return str(path)  # absolute: FakeAnthropic's fixture folder / it is this path


async def _lowest_quota_during(burst: asyncio.Task[list[int]], db_url: str, token_id: int) -> int:
    db = await open_database(db_url)
    lowest = 0
    try:
        while not burst.done():
            value = await db.fetch_value(
                "SELECT quota FROM tokens WHERE id = :id", {"id": token_id}
            )
            lowest = min(lowest, value)
            await asyncio.sleep(0.01)
    finally:
        await db.close()
    return lowest


async def test_a_burst_of_one_hour_cache_writes_spends_the_quota_exactly(tmp_path: Path) -> None:
    # The reservation covers the prompt at the dearest input-side price: exactly the cost.
    assert ceiling_cost(PROMPT, 100, PRICE, ONE) == EACH
    assert cost(Usage(PROMPT, 100), PRICE, ONE) < EACH  # at the input price: too little
    quota = format_usd(EACH * AFFORDABLE)
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic(answer_fixture=_answer(tmp_path)) as fake,
        running_router(tmp_path, unused, quota=quota) as router,
    ):
        db = await open_database(router.db_url)
        try:
            async with db.transaction() as tx:
                await save_price(tx, PRICE)
        finally:
            await db.close()
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        headers = {"Authorization": f"Bearer {router.key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(timeout=60) as client:

            async def one() -> int:
                url = f"{router.base_url}/chat/completions"
                return (await client.post(url, content=BODY, headers=headers)).status_code

            async def burst() -> list[int]:
                return list(await asyncio.gather(*(one() for _ in range(4 * AFFORDABLE))))

            running = asyncio.create_task(burst())
            lowest = await _lowest_quota_during(running, router.db_url, router.token_id)
            statuses = await running
    rows = [row for row in await logged_rows(router.db_url) if row["token_id"] == router.token_id]
    assert statuses.count(200) == AFFORDABLE and statuses.count(402) == 3 * AFFORDABLE
    assert lowest >= 0
    answered = [row for row in rows if row["status"] == 200]
    assert {row["cost"] for row in answered} == {EACH}
    assert {row["cache_write_1h_tokens"] for row in answered} == {PROMPT}
    db = await open_database(router.db_url)
    try:
        token = await db.fetch_one(
            "SELECT quota, used FROM tokens WHERE id = :id", {"id": router.token_id}
        )
    finally:
        await db.close()
    assert token is not None
    assert (token["quota"], token["used"]) == (0, EACH * AFFORDABLE)
