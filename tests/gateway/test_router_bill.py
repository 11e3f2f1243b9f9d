"""End to end: an Anthropic upstream's recorded cache writes (5 minutes and 1 hour) billed
through the router as Anthropic bills them; each row's bill explains its cost, and its
upstream cost follows the channel's cost ratio. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import openai
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.log_bills import logged_bill
from burncloud.services.prices import save_price
from burncloud.services.pricing import Price
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.quota_db import BACKENDS, _drop_schema, _new_schema, require_postgres
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

# Claude Sonnet 4.5's list price, USD per 1M tokens (anthropic.com/pricing): input 3,
# output 15, cache reads 0.30, 5-minute cache writes 3.75 (1.25x), 1-hour writes 6 (2x).
LIST = {"input": "3", "output": "15", "cached": "0.30", "5m": "3.75", "1h": "6"}
COST_RATIO = Decimal("0.3")


def provider_bill(uncached: int, read: int, write_5m: int, write_1h: int, out: int) -> int:
    """Anthropic's formula, by hand: each kind's tokens at its own price per 1M tokens."""
    usd = (
        uncached * Decimal(LIST["input"])
        + read * Decimal(LIST["cached"])
        + write_5m * Decimal(LIST["5m"])
        + write_1h * Decimal(LIST["1h"])
        + out * Decimal(LIST["output"])
    ) / 10**6
    return parse_usd(usd)


# The recorded answers' usage blocks (tests/fixtures/anthropic/*.src name their origin).
FIVE_MINUTES = provider_bill(uncached=3, read=1_111, write_5m=418, write_1h=0, out=33)
ONE_HOUR = provider_bill(uncached=13, read=0, write_5m=0, write_1h=3_913, out=4)


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/router.db"
        return
    await require_postgres()
    url = await _new_schema()
    try:
        yield url
    finally:
        await _drop_schema(url)


async def _price_gpt4_as_sonnet(db_url: str) -> int:
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            price = await save_price(
                tx,
                Price(
                    "gpt-4",
                    input=parse_usd(LIST["input"]),
                    output=parse_usd(LIST["output"]),
                    cached=parse_usd(LIST["cached"]),
                    cache_write=parse_usd(LIST["5m"]),
                    cache_write_1h=parse_usd(LIST["1h"]),
                ),
            )
        assert price.version is not None
        return price.version
    finally:
        await db.close()


async def test_cache_writes_are_billed_as_anthropic_bills_them(tmp_path, db_url: str) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic(
            stream_fixture="anthropic_stream_cache_write_1h.sse",
            answer_fixture="anthropic_nonstream_cache_write_5m_and_read.json",
        ) as fake,
        running_router(tmp_path, unused, db_url=db_url) as router,
    ):
        version = await _price_gpt4_as_sonnet(router.db_url)
        await point_channel_at(
            router, "anthropic", fake.base_url, fake.key, cost_ratio=str(COST_RATIO)
        )
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        messages = [{"role": "user", "content": "What is Python?"}]
        await client.chat.completions.create(
            model="gpt-4", messages=messages, extra_headers={"x-request-id": "five-minutes"}
        )
        stream = await client.chat.completions.create(
            model="gpt-4",
            messages=messages,
            stream=True,
            extra_headers={"x-request-id": "one-hour"},
        )
        [chunk async for chunk in stream]
        await client.close()

    rows = {row["request_id"]: row for row in await logged_rows(db_url)}
    five, hour = rows["five-minutes"], rows["one-hour"]
    assert (five["cache_write_tokens"], five["cache_write_1h_tokens"]) == (418, 0)
    assert (hour["cache_write_tokens"], hour["cache_write_1h_tokens"]) == (3_913, 3_913)
    assert (five["cost"], hour["cost"]) == (FIVE_MINUTES, ONE_HOUR) == (2_404_800, 23_577_000)
    assert five["price_version"] == hour["price_version"] == version
    assert five["group_ratio"] == hour["group_ratio"] == "1"
    # the channel costs us 0.3 of the list price: rounded once, like the caller's cost
    assert (five["upstream_cost"], hour["upstream_cost"]) == (721_440, 7_073_100)
    db = await open_database(db_url)
    try:
        for request_id, row in rows.items():
            bill = await logged_bill(db, request_id)
            assert bill.subtotal == row["cost"] and bill.ratio == 1
            assert bill.margin == row["cost"] - row["upstream_cost"]
        hour_bill = await logged_bill(db, "one-hour")
    finally:
        await db.close()
    assert [line.describe() for line in hour_bill.lines] == [
        "13 input tokens x $3/1M = $0.000039",
        "3,913 1h cache-write tokens x $6/1M = $0.023478",
        "4 output tokens x $15/1M = $0.00006",
    ]
