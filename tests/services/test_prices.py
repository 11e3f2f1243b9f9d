from __future__ import annotations

import pytest

from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import parse_usd
from burncloud.services import prices
from burncloud.services.pricing import Price
from burncloud.services.settings import read_config_version

USD30, USD60 = parse_usd("30"), parse_usd("60")


async def set_price(db: Database, model: str, input: int = USD30, output: int = USD60) -> Price:
    async with db.transaction() as tx:
        return await prices.set_price(tx, model, input, output)


async def set_alias(db: Database, model: str, target: str) -> Price:
    async with db.transaction() as tx:
        return await prices.set_alias(tx, model, target)


async def delete(db: Database, model: str) -> None:
    async with db.transaction() as tx:
        await prices.delete_price(tx, model)


async def test_set_price_is_read_back_exactly(db: Database) -> None:
    async with db.transaction() as tx:
        await prices.set_price(tx, "gpt-4", USD30, USD60, parse_usd("15"))
    assert await prices.get_price(db, "gpt-4") == Price(
        model="gpt-4", input=USD30, output=USD60, cached=parse_usd("15")
    )


async def test_set_price_replaces_an_existing_price(db: Database) -> None:
    await set_price(db, "gpt-4")
    await set_price(db, "gpt-4", parse_usd("1"), parse_usd("2"))
    price = await prices.get_price(db, "gpt-4")
    assert (price.input, price.output) == (parse_usd("1"), parse_usd("2"))


async def test_every_write_bumps_the_config_version(db: Database) -> None:
    before = await read_config_version(db)
    await set_price(db, "gpt-4")
    await set_alias(db, "gpt-4-turbo", "gpt-4")
    await delete(db, "gpt-4-turbo")
    assert await read_config_version(db) == before + 3


async def test_unknown_model_is_not_found_naming_it(db: Database) -> None:
    with pytest.raises(NotFound, match="gpt-5"):
        await prices.get_price(db, "gpt-5")


async def test_negative_price_is_refused(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="output"):
        await set_price(db, "m", USD30, -1)


async def test_model_name_with_spaces_is_refused(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="model name"):
        await set_price(db, "gpt 4")


async def test_alias_reads_as_its_targets_price(db: Database) -> None:
    await set_price(db, "gpt-4")
    returned = await set_alias(db, "gpt-4-turbo", "gpt-4")
    stored = await prices.get_price(db, "gpt-4-turbo")
    assert returned == stored
    assert (stored.input, stored.output, stored.alias_of) == (USD30, USD60, "gpt-4")


async def test_alias_chain_follows_a_price_change_at_its_end(db: Database) -> None:
    await set_price(db, "c")
    await set_alias(db, "b", "c")
    await set_alias(db, "a", "b")
    await set_price(db, "c", parse_usd("1"), parse_usd("2"))
    table = await prices.load_price_table(db)
    assert table["a"].input == parse_usd("1")
    assert table["a"].alias_of == "b"


async def test_alias_to_unknown_model_is_refused(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="gpt-9"):
        await set_alias(db, "a", "gpt-9")
    assert await prices.list_prices(db) == []


async def test_alias_to_itself_is_refused(db: Database) -> None:
    await set_price(db, "a")
    with pytest.raises(InvalidRequest, match="itself"):
        await set_alias(db, "a", "a")


async def test_alias_cycle_is_refused_and_nothing_changes(db: Database) -> None:
    await set_price(db, "c")
    await set_alias(db, "b", "c")
    await set_alias(db, "a", "b")
    with pytest.raises(InvalidRequest, match="cycle: c -> b -> c"):
        await set_alias(db, "c", "b")
    with pytest.raises(InvalidRequest, match="cycle: c -> a -> b -> c"):
        await set_alias(db, "c", "a")
    assert (await prices.get_price(db, "c")).alias_of is None
    assert (await prices.get_price(db, "a")).input == USD30


async def test_set_price_turns_an_alias_back_into_a_priced_model(db: Database) -> None:
    await set_price(db, "gpt-4")
    await set_alias(db, "mini", "gpt-4")
    await set_price(db, "mini", parse_usd("1"), parse_usd("2"))
    mini = await prices.get_price(db, "mini")
    assert (mini.alias_of, mini.input) == (None, parse_usd("1"))


async def test_deleting_an_aliased_model_is_refused(db: Database) -> None:
    await set_price(db, "gpt-4")
    await set_alias(db, "gpt-4-turbo", "gpt-4")
    with pytest.raises(InvalidRequest, match="gpt-4-turbo alias it"):
        await delete(db, "gpt-4")
    assert (await prices.get_price(db, "gpt-4")).input == USD30


async def test_delete_removes_the_price(db: Database) -> None:
    await set_price(db, "gpt-4")
    await delete(db, "gpt-4")
    with pytest.raises(NotFound):
        await prices.get_price(db, "gpt-4")


async def test_deleting_an_unknown_model_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="nope"):
        await delete(db, "nope")


async def test_price_table_leaves_out_broken_aliases(db: Database) -> None:
    await set_price(db, "gpt-4")
    await db.execute(
        "INSERT INTO prices (model, alias_of, updated_at) VALUES ('orphan', 'gone', 0)"
    )
    table = await prices.load_price_table(db)
    assert set(table) == {"gpt-4"}


async def test_list_is_sorted_by_model(db: Database) -> None:
    for model in ("zeta", "alpha", "mid"):
        await set_price(db, model)
    assert [p.model for p in await prices.list_prices(db)] == ["alpha", "mid", "zeta"]
