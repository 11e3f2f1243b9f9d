"""Editing one part of a price: base rates, a tier, a unit; the rest is kept."""

from __future__ import annotations

import asyncio

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import parse_usd
from burncloud.services import price_edits, prices
from burncloud.services.channels import add_channel
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

BOX = SecretBox.from_passphrase("test-secret")
BASE = Rates(input=parse_usd("3"), output=parse_usd("15"), cache_write=parse_usd("3.75"))
TIER = Tier(200_000, Rates(input=parse_usd("6")))
SEARCH = UnitPrice("call", parse_usd("10"), "web_search")


async def rates(db: Database, model: str, given: Rates = BASE, channel: int | None = None):
    async with db.transaction() as tx:
        return await price_edits.set_rates(tx, model, given, channel)


async def tier(db: Database, model: str, new: Tier = TIER, channel: int | None = None) -> Price:
    async with db.transaction() as tx:
        return await price_edits.set_tier(tx, model, new, channel)


async def unit(db: Database, model: str, new: UnitPrice = SEARCH) -> Price:
    async with db.transaction() as tx:
        return await price_edits.set_unit(tx, model, new)


async def test_setting_rates_keeps_tiers_and_units_and_replaces_every_kind(db: Database) -> None:
    await rates(db, "m")
    await tier(db, "m")
    await unit(db, "m")
    price = await rates(db, "m", Rates(input=parse_usd("1"), output=parse_usd("2")))
    assert (price.input, price.output, price.cache_write) == (parse_usd("1"), parse_usd("2"), None)
    assert (price.tiers, price.units) == ((TIER,), (SEARCH,))
    assert await prices.get_price(db, "m") == price


async def test_setting_rates_needs_input_and_output(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="input and output"):
        await rates(db, "m", Rates(input=1))


async def test_setting_rates_makes_an_alias_a_priced_model_without_tiers(db: Database) -> None:
    await rates(db, "target")
    await tier(db, "target")
    async with db.transaction() as tx:
        await prices.set_alias(tx, "a", "target")
    price = await rates(db, "a")
    assert (price.alias_of, price.tiers) == (None, ())


async def test_a_tier_at_the_same_threshold_is_replaced_and_tiers_stay_sorted(
    db: Database,
) -> None:
    await rates(db, "m")
    await tier(db, "m", Tier(500, Rates(input=9)))
    await tier(db, "m", TIER)
    price = await tier(db, "m", Tier(500, Rates(output=7)))
    assert price.tiers == (Tier(500, Rates(output=7)), TIER)


async def test_deleting_a_tier_keeps_the_others(db: Database) -> None:
    await rates(db, "m")
    await tier(db, "m", Tier(500, Rates(input=9)))
    await tier(db, "m")
    async with db.transaction() as tx:
        price = await price_edits.delete_tier(tx, "m", 500)
    assert price.tiers == (TIER,)
    with pytest.raises(NotFound, match="no tier above 500"):
        async with db.transaction() as tx:
            await price_edits.delete_tier(tx, "m", 500)


async def test_a_tier_needs_a_priced_model(db: Database) -> None:
    with pytest.raises(NotFound, match="set its input and output prices first"):
        await tier(db, "nope")
    await rates(db, "target")
    async with db.transaction() as tx:
        await prices.set_alias(tx, "a", "target")
    with pytest.raises(InvalidRequest, match="alias of 'target'"):
        await tier(db, "a")


async def test_a_tier_naming_nothing_is_refused(db: Database) -> None:
    await rates(db, "m")
    with pytest.raises(InvalidRequest, match="names no price"):
        await tier(db, "m", Tier(100, Rates()))


async def test_units_are_keyed_by_unit_and_variant(db: Database) -> None:
    await rates(db, "m")
    await unit(db, "m")
    await unit(db, "m", UnitPrice("call", parse_usd("25"), "web_fetch"))
    price = await unit(db, "m", UnitPrice("call", parse_usd("12"), "web_search"))
    assert price.units == (
        UnitPrice("call", parse_usd("25"), "web_fetch"),
        UnitPrice("call", parse_usd("12"), "web_search"),
    )
    async with db.transaction() as tx:
        price = await price_edits.delete_unit(tx, "m", "call", "web_fetch")
    assert price.units == (UnitPrice("call", parse_usd("12"), "web_search"),)
    with pytest.raises(NotFound, match=r"no price per call \(web_fetch\)"):
        async with db.transaction() as tx:
            await price_edits.delete_unit(tx, "m", "call", "web_fetch")


async def test_edits_of_a_channel_cost_price_leave_the_list_price(db: Database) -> None:
    channel = await add_channel(db, BOX, type="anthropic", name="c", key="sk-a-1", models=["m"])
    await rates(db, "m")
    await rates(db, "m", Rates(input=1, output=2), channel.id)
    cost = await tier(db, "m", TIER, channel.id)
    assert cost.tiers == (TIER,) and cost.input == 1
    assert (await prices.get_price(db, "m")).tiers == ()


async def test_concurrent_edits_of_one_price_all_survive(db: Database) -> None:
    """Each edit reads, changes and saves the whole price: without taking turns, one
    would overwrite another's tier (PostgreSQL runs these truly at once)."""
    await rates(db, "m")
    await asyncio.gather(*(tier(db, "m", Tier(above, Rates(input=above))) for above in range(5)))
    assert [t.above for t in (await prices.get_price(db, "m")).tiers] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("per", "parts", "variant"),
    [
        ("image", {"size": "1024x1024", "quality": "standard"}, "1024x1024/standard"),
        ("call", {"tool": "web_search"}, "web_search"),
        ("minute", {}, ""),
        ("characters", {}, ""),
        ("search", {}, ""),
    ],
)
def test_a_unit_variant_is_built_from_its_parts(per: str, parts: dict, variant: str) -> None:
    assert price_edits.unit_variant(per, **parts) == variant


@pytest.mark.parametrize(
    ("per", "parts", "message"),
    [
        ("image", {"size": "1024x1024"}, "needs its quality"),
        ("call", {}, "needs its tool"),
        ("minute", {"tool": "x"}, "takes no tool"),
        ("image", {"size": "1024x1024", "quality": "a/b"}, "invalid quality"),
        ("call", {"tool": "web search"}, "invalid tool"),
        ("second", {}, "unknown unit 'second'"),
    ],
)
def test_a_bad_unit_variant_is_refused(per: str, parts: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        price_edits.unit_variant(per, **parts)
