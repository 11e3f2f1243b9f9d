from __future__ import annotations

from dataclasses import replace

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import ConfigError, InvalidRequest, NotFound
from burncloud.money import parse_usd
from burncloud.services import prices
from burncloud.services.channels import add_channel, delete_channel
from burncloud.services.price_definitions import price_at_version, to_definition
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice
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
        saved = await prices.set_price(tx, "gpt-4", USD30, USD60, parse_usd("15"))
    assert saved.version is not None
    assert await prices.get_price(db, "gpt-4") == Price(
        model="gpt-4", input=USD30, output=USD60, cached=parse_usd("15"), version=saved.version
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


# Versions: every change is a new immutable definition row.

BOX = SecretBox.from_passphrase("test-secret")
FULL = Price(
    model="claude",
    input=parse_usd("3"),
    output=parse_usd("15"),
    cached=parse_usd("0.3"),
    cache_write=parse_usd("3.75"),
    cache_write_1h=parse_usd("6"),
    request=parse_usd("0.001"),
    tiers=(Tier(200_000, Rates(input=parse_usd("6"), output=parse_usd("22.5"))),),
    units=(UnitPrice("call", parse_usd("10"), "web_search"),),
)


async def save(db: Database, price: Price, channel_id: int | None = None) -> Price:
    async with db.transaction() as tx:
        return await prices.save_price(tx, price, channel_id)


async def version_rows(db: Database) -> list[dict[str, object]]:
    rows = await db.fetch_all("SELECT * FROM price_versions ORDER BY id")
    return [dict(row) for row in rows]


async def test_a_saved_price_reads_back_whole_with_its_version(db: Database) -> None:
    saved = await save(db, FULL)
    assert saved == replace(FULL, version=saved.version)
    assert (await prices.load_price_table(db))["claude"] == saved
    assert await price_at_version(db, saved.version or 0) == saved
    row = await db.fetch_one("SELECT * FROM prices WHERE model = 'claude'")
    assert row is not None
    assert (row["input_price"], row["output_price"], row["cached_price"], row["version_id"]) == (
        FULL.input,
        FULL.output,
        FULL.cached,
        saved.version,
    )


async def test_a_change_writes_a_new_version_and_keeps_the_old_one(db: Database) -> None:
    first = await save(db, FULL)
    second = await save(db, replace(FULL, input=parse_usd("4")))
    assert second.version != first.version
    assert (await price_at_version(db, first.version or 0)).input == parse_usd("3")
    assert (await price_at_version(db, second.version or 0)).input == parse_usd("4")
    rows = await version_rows(db)
    assert [(row["model"], row["channel_id"]) for row in rows] == [("claude", None)] * 2
    assert rows[0]["definition"] == to_definition(FULL)


async def test_saving_the_same_price_again_keeps_its_version(db: Database) -> None:
    first = await save(db, FULL)
    again = await save(db, replace(FULL, version=None))
    assert again.version == first.version
    assert len(await version_rows(db)) == 1


async def test_an_invalid_price_is_refused_and_nothing_is_written(db: Database) -> None:
    bad = replace(FULL, tiers=(Tier(10, Rates()),))
    with pytest.raises(InvalidRequest, match="names no price"):
        await save(db, bad)
    assert await version_rows(db) == []
    assert await prices.list_prices(db) == []


async def test_an_alias_bills_at_its_targets_version_and_has_none_of_its_own(db: Database) -> None:
    target = await save(db, FULL)
    await set_alias(db, "claude-latest", "claude")
    assert (await prices.get_price(db, "claude-latest")).version == target.version
    raw = await prices.raw_price_table(db)
    assert raw["claude-latest"] == Price(
        model="claude-latest", input=0, output=0, alias_of="claude"
    )


async def test_a_priced_model_made_an_alias_drops_its_version(db: Database) -> None:
    await save(db, FULL)
    await set_price(db, "other")
    await set_alias(db, "claude", "other")
    row = await db.fetch_one("SELECT * FROM prices WHERE model = 'claude'")
    assert row is not None and (row["version_id"], row["input_price"]) == (None, None)


async def test_save_price_with_an_alias_makes_an_alias(db: Database) -> None:
    await save(db, FULL)
    saved = await save(db, Price(model="c2", input=0, output=0, alias_of="claude"))
    assert (saved.alias_of, saved.input) == ("claude", FULL.input)


# A channel's own cost price.


async def channel(db: Database, models: tuple[str, ...] = ("claude", "gpt-4")) -> int:
    added = await add_channel(
        db, BOX, type="anthropic", name="c", key="sk-ant-0001", models=list(models)
    )
    return added.id


async def test_a_channel_cost_price_is_apart_from_the_list_price(db: Database) -> None:
    listed = await save(db, FULL)
    channel_id = await channel(db)
    cost = await save(db, replace(FULL, input=parse_usd("1"), tiers=()), channel_id)
    assert (await prices.get_price(db, "claude")) == listed
    assert await prices.get_price(db, "claude", channel_id) == cost
    assert await prices.load_channel_prices(db) == {channel_id: {"claude": cost}}
    assert await prices.list_channel_prices(db, channel_id) == [cost]
    rows = await version_rows(db)
    assert [row["channel_id"] for row in rows] == [None, channel_id]


async def test_a_channel_cost_price_needs_a_channel_serving_the_model(db: Database) -> None:
    channel_id = await channel(db, ("gpt-4",))
    with pytest.raises(NotFound, match="no channel with id 99"):
        await save(db, FULL, 99)
    with pytest.raises(InvalidRequest, match="does not serve 'claude'"):
        await save(db, FULL, channel_id)
    with pytest.raises(InvalidRequest, match="cannot be an alias"):
        await save(db, Price(model="gpt-4", input=0, output=0, alias_of="x"), channel_id)
    with pytest.raises(NotFound, match="has no cost price"):
        await prices.get_price(db, "gpt-4", channel_id)
    assert await version_rows(db) == []


async def test_deleting_a_channel_cost_price_leaves_the_list_price(db: Database) -> None:
    await save(db, FULL)
    channel_id = await channel(db)
    await save(db, FULL, channel_id)
    async with db.transaction() as tx:
        await prices.delete_price(tx, "claude", channel_id)
    assert await prices.load_channel_prices(db) == {}
    assert (await prices.get_price(db, "claude")).input == FULL.input
    with pytest.raises(NotFound, match="channel"):
        async with db.transaction() as tx:
            await prices.delete_price(tx, "claude", channel_id)


async def test_deleting_a_channel_deletes_its_cost_prices_not_their_history(db: Database) -> None:
    channel_id = await channel(db)
    await save(db, FULL, channel_id)
    await delete_channel(db, channel_id)
    assert await prices.load_channel_prices(db) == {}
    assert len(await version_rows(db)) == 1


async def test_channel_price_writes_bump_the_config_version(db: Database) -> None:
    channel_id = await channel(db)
    before = await read_config_version(db)
    await save(db, FULL, channel_id)
    async with db.transaction() as tx:
        await prices.delete_price(tx, "claude", channel_id)
    assert await read_config_version(db) == before + 2


# Prices stored before versions existed.


async def insert_unversioned(db: Database, model: str, updated_at: int = 1_700_000_000) -> None:
    await db.execute(
        "INSERT INTO prices (model, input_price, output_price, cached_price, updated_at)"
        " VALUES (:m, 30, 60, NULL, :t)",
        {"m": model, "t": updated_at},
    )


async def test_an_unversioned_price_reads_from_its_columns(db: Database) -> None:
    await insert_unversioned(db, "old")
    assert await prices.get_price(db, "old") == Price(model="old", input=30, output=60)


async def test_the_backfill_versions_each_unversioned_price_once(db: Database) -> None:
    await insert_unversioned(db, "old")
    await set_price(db, "new")
    await set_alias(db, "old-alias", "old")
    before = await read_config_version(db)
    assert await prices.backfill_price_versions(db) == 1
    assert await read_config_version(db) == before + 1
    old = await prices.get_price(db, "old")
    assert old.version is not None and (old.input, old.output) == (30, 60)
    assert await price_at_version(db, old.version) == old
    assert (await prices.get_price(db, "old-alias")).version == old.version
    row = await db.fetch_one(
        "SELECT created_at FROM price_versions WHERE id = :v", {"v": old.version}
    )
    assert row is not None and row["created_at"] == 1_700_000_000  # when the price was set
    assert await prices.backfill_price_versions(db) == 0
    assert await read_config_version(db) == before + 1


async def test_an_unreadable_stored_definition_is_a_clear_error(db: Database) -> None:
    saved = await save(db, FULL)
    await db.execute(
        "UPDATE price_versions SET definition = '[]' WHERE id = :v", {"v": saved.version}
    )
    with pytest.raises(ConfigError, match=r"price version \d+ of 'claude' is unreadable"):
        await prices.load_price_table(db)
