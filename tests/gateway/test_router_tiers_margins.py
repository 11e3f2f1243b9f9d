"""Through the router: a context tier applies to a prompt one token over its threshold, not to
one at it or one token under it, for a request converted either way (OpenAI door to an
Anthropic upstream, Anthropic door to an OpenAI upstream); and two channels at cost ratios
0.3 and 1.0 serving 100 requests give `stats --by channel` revenue, upstream cost and margin
equal to the log rows' sums."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import orjson
import pytest
from typer.testing import CliRunner

from burncloud.cli.app import app
from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.money import parse_signed_usd, parse_usd
from burncloud.services.channels import add_channel, update_channel
from burncloud.services.prices import save_price
from burncloud.services.pricing import Price, Rates, Tier
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
    wait_for_reload,
)

M = Decimal(10**6)
BASE = {"input": Decimal(3), "output": Decimal(15)}
ABOVE = {"input": Decimal(6), "output": Decimal("22.5")}
# The recorded Anthropic answer: 3 uncached + 418 cache-written + 1,111 cached = 1,532
# prompt tokens, 33 out. The OpenAI fake is told to report the same totals.
PROMPT, OUT = 1_532, 33


def tiered(above: int) -> Price:
    """Input and output only (cache kinds fall back to input), a tier above ``above``."""
    rates = Rates(input=parse_usd(ABOVE["input"]), output=parse_usd(ABOVE["output"]))
    return Price(
        "gpt-4",
        input=parse_usd(BASE["input"]),
        output=parse_usd(BASE["output"]),
        tiers=(Tier(above, rates),),
    )


def by_hand(prices: dict[str, Decimal]) -> int:
    return parse_usd((PROMPT * prices["input"] + OUT * prices["output"]) / M)


async def _set_price(router: RunningRouter, price: Price) -> None:
    db = await open_database(router.db_url)
    try:
        async with db.transaction() as tx:
            await save_price(tx, price)
    finally:
        await db.close()
    await wait_for_reload(router)


@pytest.mark.parametrize(
    ("above", "prices"), [(PROMPT - 1, ABOVE), (PROMPT, BASE), (PROMPT + 1, BASE)]
)
async def test_openai_door_to_an_anthropic_upstream(
    tmp_path: Path, above: int, prices: dict[str, Decimal]
) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic(answer_fixture="anthropic_nonstream_cache_write_5m_and_read.json") as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        await _set_price(router, tiered(above))
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        answer = await client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "What is Python?"}]
        )
        await client.close()
    assert answer.usage is not None and answer.usage.prompt_tokens == PROMPT
    [row] = await logged_rows(router.db_url)
    assert row["cost"] == by_hand(prices)


@pytest.mark.parametrize(
    ("above", "prices"), [(PROMPT - 1, ABOVE), (PROMPT, BASE), (PROMPT + 1, BASE)]
)
async def test_anthropic_door_to_an_openai_upstream(
    tmp_path: Path, above: int, prices: dict[str, Decimal]
) -> None:
    async with (
        FakeOpenAI(prompt_tokens=PROMPT, completion_tokens=OUT) as fake,
        running_router(tmp_path, fake) as router,
    ):
        await _set_price(router, tiered(above))
        client = anthropic.AsyncAnthropic(
            api_key=router.key, base_url=router.base_url.removesuffix("/v1")
        )
        answer = await client.messages.create(
            model="gpt-4", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
        await client.close()
    assert answer.usage.input_tokens == PROMPT
    [row] = await logged_rows(router.db_url)
    assert row["cost"] == by_hand(prices)


async def _two_channels(router: RunningRouter, fake: FakeOpenAI) -> dict[str, int]:
    """The seeded channel as the reseller at 0.3 of the list price, a direct one at 1.0."""
    db = await open_database(router.db_url)
    box = SecretBox.from_passphrase(SECRET)
    try:
        await update_channel(db, box, 1, cost_ratio="0.3")
        direct = await add_channel(
            db,
            box,
            type="openai",
            name="direct",
            key=fake.key,
            base_url=fake.base_url,
            models=["gpt-4"],
            cost_ratio="1.0",
        )
    finally:
        await db.close()
    await wait_for_reload(router)
    return {"reseller": 1, "direct": direct.id}


async def _logged_sums(db_url: str) -> dict[str, tuple[int, int, int]]:
    rows = await logged_rows(db_url)
    sums: dict[str, tuple[int, int, int]] = {}
    for row in rows:
        requests, revenue, upstream = sums.get(str(row["channel_id"]), (0, 0, 0))
        sums[str(row["channel_id"])] = (
            requests + 1,
            revenue + row["cost"],
            upstream + row["upstream_cost"],
        )
    return sums


async def test_margins_by_channel_are_the_sums_of_the_logged_requests(tmp_path: Path) -> None:
    async with (
        FakeOpenAI(prompt_tokens=1_200, completion_tokens=300, cached_tokens=200) as fake,
        running_router(tmp_path, fake) as router,
    ):
        channels = await _two_channels(router, fake)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        gate = asyncio.Semaphore(10)

        async def one() -> None:
            async with gate:
                await client.chat.completions.create(
                    model="gpt-4", messages=[{"role": "user", "content": "hi"}]
                )

        await asyncio.gather(*(one() for _ in range(100)))
        await client.close()
    sums = await _logged_sums(router.db_url)
    assert set(sums) == {str(cid) for cid in channels.values()}  # both served some
    assert sum(requests for requests, _, _ in sums.values()) == 100
    args = ["stats", "--by", "channel", "--json", "--db", router.db_url]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)  # the CLI runs its own loop
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in orjson.loads(result.stdout)["rows"]}
    for key, (requests, revenue, upstream) in sums.items():
        row = rows[key]
        assert row["requests"] == requests
        assert parse_usd(row["revenue"]) == revenue
        assert parse_usd(row["upstream_cost"]) == upstream
        assert parse_signed_usd(row["margin"]) == revenue - upstream
    # gpt-4 at 30 / 60: 1,200 in (no cached price: all at input) and 300 out is $0.054;
    # the reseller charges us 0.3 of it, the direct channel all of it
    each = parse_usd("0.054")
    reseller, direct = (sums[str(channels[name])] for name in ("reseller", "direct"))
    assert (reseller[1], reseller[2]) == (each * reseller[0], each * reseller[0] * 3 // 10)
    assert (direct[1], direct[2]) == (each * direct[0], each * direct[0])
