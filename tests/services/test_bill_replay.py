"""Replaying logged requests at other prices: each row billed again as the router bills,
summed by model or user, against hand-computed provider formulas.

    row  user   model          usage                                      logged  upstream
    r1   alice  gpt-4o         1,000 in (200 cached), 100 out             4.0     1.0
    r2   bob    gpt-4o         2,000 in                                   2.0     -
    r3   bob    sonnet-latest  3,400 in (1,000 cached, 2,300 written,     20.0    15.0
                               1,000 of them for 1h), 500 out, 2 searches
    r4   alice  unknown        10 in                                      1.0     0.5
    r5   -      gpt-4o         nothing (failed before the upstream)       0       -
    r6   alice  gpt-4o         like r1, but before the window             9.0     1.0

(USD thousandths; '-' an unknown upstream cost. alice is in 'default' (ratio 1), bob in
'vip' (ratio 0.5).)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from burncloud.db import Database
from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.money import parse_usd
from burncloud.services.bill_replay import replay_bills
from burncloud.services.groups import set_group
from burncloud.services.pricing import Price, UnitPrice
from burncloud.services.users import add_user

SINCE = 1_700_000_000
MILLI = 1_000_000  # nano-USD in a thousandth of a USD
PRICES = {
    "gpt-4o": Price(
        "gpt-4o",
        input=parse_usd("2.5"),
        output=parse_usd("10"),
        cached=parse_usd("1.25"),
        request=parse_usd("0.001"),
    ),
    "sonnet": Price(
        "sonnet",
        input=parse_usd("3"),
        output=parse_usd("15"),
        cache_write=parse_usd("3.75"),
        cache_write_1h=parse_usd("6"),
        units=(UnitPrice("call", parse_usd("10"), "web_search"),),
    ),
    "sonnet-latest": Price("sonnet-latest", 0, 0, alias_of="sonnet"),
}
# The providers' formulas, by hand: tokens x USD per 1M of their kind, + the flat price.
R1 = (Decimal(800) * Decimal("2.5") + 200 * Decimal("1.25") + 100 * 10) / 10**6 + Decimal("0.001")
R2 = ((Decimal(2_000) * Decimal("2.5")) / 10**6 + Decimal("0.001")) * Decimal("0.5")
R3 = (  # cached reads have no price of their own: input's
    (Decimal(100) * 3 + 1_000 * 3 + 1_300 * Decimal("3.75") + 1_000 * 6 + 500 * 15) / 10**6
    + Decimal(2) * 10 / 1_000
) * Decimal("0.5")


@pytest.fixture
async def world(db: Database) -> dict[str, int]:
    async with db.transaction() as tx:
        await set_group(tx, "vip", "0.5")
    alice = (await add_user(db, name="alice")).id
    bob = (await add_user(db, name="bob", group="vip")).id
    rows = [
        dict(user_id=alice, model="gpt-4o", prompt_tokens=1_000, cached_tokens=200,
             completion_tokens=100, cost=4 * MILLI, upstream_cost=MILLI),
        dict(user_id=bob, model="gpt-4o", prompt_tokens=2_000, cost=2 * MILLI),
        dict(user_id=bob, model="sonnet-latest", prompt_tokens=3_400, cached_tokens=1_000,
             cache_write_tokens=2_300, cache_write_1h_tokens=1_000, completion_tokens=500,
             units='[{"per":"call","quantity":"2","variant":"web_search"}]',
             cost=20 * MILLI, upstream_cost=15 * MILLI),
        dict(user_id=alice, model="unknown", prompt_tokens=10, cost=MILLI,
             upstream_cost=MILLI // 2),
        dict(user_id=None, model="gpt-4o", status=500, cost=0),
        dict(user_id=alice, model="gpt-4o", prompt_tokens=1_000, completion_tokens=100,
             cost=9 * MILLI, upstream_cost=MILLI, created_at=SINCE - 1),
    ]  # fmt: skip
    for n, row in enumerate(rows, 1):
        await insert_log(db, f"r{n}", **row)
    return {"alice": alice, "bob": bob}


async def insert_log(db: Database, request_id: str, **values: Any) -> None:
    row = {"created_at": SINCE, "request_id": request_id, "status": 200, **values}
    columns = ", ".join(row)
    params = ", ".join(f":{name}" for name in row)
    async with db.transaction() as tx:
        await tx.execute(f"INSERT INTO logs ({columns}) VALUES ({params})", row)


def nano(usd: Decimal) -> int:
    return parse_usd(usd)


async def test_by_model_each_row_is_billed_again_at_the_file_prices(
    db: Database, world: dict[str, int]
) -> None:
    replay = await replay_bills(db, PRICES, SINCE, "model")
    gpt, sonnet, unknown = replay.rows
    assert (gpt.label, sonnet.label, unknown.label) == ("gpt-4o", "sonnet-latest", "unknown")
    assert (gpt.requests, gpt.logged, gpt.replayed) == (3, 6 * MILLI, nano(R1) + nano(R2))
    assert (gpt.upstream, gpt.unknown_cost) == (MILLI, 2)  # r2 and r5 unknown
    assert gpt.margin == 4 * MILLI - MILLI  # r1 only: its cost is known
    assert gpt.replayed_margin == nano(R1) - MILLI
    assert sonnet.replayed == nano(R3) == 20_837_500
    assert sonnet.difference == nano(R3) - 20 * MILLI
    assert sonnet.replayed_margin == nano(R3) - 15 * MILLI
    assert (unknown.requests, unknown.unpriced, unknown.logged, unknown.margin) == (1, 1, 0, None)
    assert replay.unpriced_models == ["unknown"]


async def test_the_total_is_the_sum_of_the_rows(db: Database, world: dict[str, int]) -> None:
    total = (await replay_bills(db, PRICES, SINCE, "model")).total
    replayed = nano(R1) + nano(R2) + nano(R3)
    assert (total.requests, total.unpriced, total.logged) == (5, 1, 26 * MILLI)
    assert (total.replayed, total.difference) == (replayed, replayed - 26 * MILLI)
    assert (total.upstream, total.unknown_cost) == (16 * MILLI, 2)
    assert total.margin == 24 * MILLI - 16 * MILLI
    assert total.replayed_margin == nano(R1) + nano(R3) - 16 * MILLI
    assert total.to_json()["difference"] == "0.0020875"
    assert total.to_json()["margin"] == "0.008"


async def test_by_user_with_the_group_ratio_of_each_user(
    db: Database, world: dict[str, int]
) -> None:
    rows = {row.label: row for row in (await replay_bills(db, PRICES, SINCE, "user")).rows}
    assert set(rows) == {"alice", "bob", "(no user)"}
    assert rows["alice"].key == str(world["alice"])
    assert (rows["alice"].requests, rows["alice"].unpriced) == (2, 1)
    assert rows["alice"].replayed == nano(R1)
    assert rows["bob"].replayed == nano(R2) + nano(R3)  # ratio 0.5
    assert (rows["(no user)"].requests, rows["(no user)"].replayed) == (1, 0)  # no usage: 0


async def test_a_row_is_replayed_at_the_group_ratio_it_was_billed_with(
    db: Database, world: dict[str, int]
) -> None:
    """Bob's group is at 0.5 now; a row logged at 2 keeps 2 (older rows, without a stored
    ratio, take the group's ratio now, as above)."""
    await insert_log(
        db, "stored", user_id=world["bob"], model="gpt-4o", prompt_tokens=2_000,
        cost=8 * MILLI, group_ratio="2",
    )  # fmt: skip
    rows = {row.label: row for row in (await replay_bills(db, PRICES, SINCE, "user")).rows}
    assert rows["bob"].replayed == nano(R2) + nano(R3) + nano(R2) * 4  # R2 is at ratio 0.5


async def test_a_user_whose_group_is_gone_bills_at_ratio_one(
    db: Database, world: dict[str, int]
) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE users SET group_name = 'gone' WHERE name = 'bob'")
    bob = next(r for r in (await replay_bills(db, PRICES, SINCE, "user")).rows if r.label == "bob")
    assert bob.replayed == nano(R2 * 2) + nano(R3 * 2)


async def test_nothing_changes_and_a_negative_difference_is_signed(
    db: Database, world: dict[str, int]
) -> None:
    before = await db.fetch_all("SELECT * FROM logs ORDER BY id")
    cheap = {"gpt-4o": Price("gpt-4o", 0, 0)}
    replay = await replay_bills(db, cheap, SINCE, "model")
    assert replay.total.replayed == 0
    assert replay.total.to_json()["difference"] == "-0.006"
    assert replay.total.to_json()["replayed_margin"] == "-0.001"
    assert await db.fetch_all("SELECT * FROM logs ORDER BY id") == before


async def test_rows_are_read_page_by_page(
    db: Database, world: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("burncloud.services.bill_replay.PAGE", 2)
    total = (await replay_bills(db, PRICES, SINCE, "model")).total
    assert (total.requests, total.replayed) == (5, nano(R1) + nano(R2) + nano(R3))


async def test_unreadable_units_name_the_row(db: Database) -> None:
    await insert_log(db, "bad", model="gpt-4o", prompt_tokens=1, units="[{}]")
    with pytest.raises(BurncloudError, match=r"log row \d+ has unreadable units"):
        await replay_bills(db, PRICES, SINCE, "model")


async def test_by_must_be_model_or_user(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="by must be one of model, user"):
        await replay_bills(db, PRICES, SINCE, "channel")
