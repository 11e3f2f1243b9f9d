"""Syncing stored prices with a catalog: the diff, field by field, and applying it in one
transaction (SQLite, and PostgreSQL with BURNCLOUD_TEST_ENGINE=postgresql)."""

from __future__ import annotations

from typing import Any

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import prices
from burncloud.services.channels import add_channel
from burncloud.services.price_catalog import Catalog, catalog_data, parse_catalog
from burncloud.services.price_sync import (
    channel_keys,
    diff_catalogs,
    price_fields,
    read_catalog,
    sync_prices,
    wanted_catalog,
)
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice
from burncloud.services.settings import read_config_version

BOX = SecretBox.from_passphrase("test-secret")
SONNET = Price(
    "sonnet",
    input=parse_usd("3"),
    output=parse_usd("15"),
    cache_write=parse_usd("3.75"),
    tiers=(Tier(200_000, Rates(input=parse_usd("6"))),),
    units=(UnitPrice("call", parse_usd("10"), "web_search"),),
)


async def save(db: Database, *entries: Price, channel_id: int | None = None) -> None:
    async with db.transaction() as tx:
        for price in entries:
            await prices.save_price(tx, price, channel_id)


async def channel(db: Database, name: str, models: list[str]) -> int:
    found = await add_channel(db, BOX, type="openai", name=name, key="sk-test-0001", models=models)
    return found.id


async def stored(db: Database) -> dict[str, Any]:
    catalog, _ = await read_catalog(db)
    return catalog_data(catalog)


def catalog(data: dict[str, object]) -> Catalog:
    return parse_catalog(data)


async def test_export_then_import_changes_nothing(db: Database) -> None:
    cid = await channel(db, "reseller", ["sonnet"])
    await save(db, SONNET, Price("haiku", parse_usd("1"), parse_usd("5")))
    async with db.transaction() as tx:
        await prices.set_alias(tx, "sonnet-latest", "sonnet")
    await save(db, Price("sonnet", parse_usd("0.9"), parse_usd("4.5")), channel_id=cid)
    current, _ = await read_catalog(db)
    before = await read_config_version(db)
    diff = await sync_prices(db, catalog(catalog_data(current)), prune=True)
    assert diff.changes == () and diff.kept == 0 and diff.summary() == "no changes"
    assert await read_config_version(db) == before  # nothing was written
    exported = await stored(db)
    assert exported["channels"] == {"reseller": {"sonnet": {"input": "0.9", "output": "4.5"}}}
    assert exported["prices"]["sonnet-latest"] == {"alias": "sonnet"}


async def test_the_diff_names_each_field_old_and_new(db: Database) -> None:
    await save(db, SONNET, Price("old", 1, 2))
    wanted = catalog(
        {
            "prices": {
                "sonnet": {
                    "input": "3",
                    "output": "15",
                    "cached": "0.3",
                    "tiers": [{"above": 200000, "input": "6.5"}],
                },
                "new": {"input": "1", "output": "2"},
            }
        }
    )
    current, keys = await read_catalog(db)
    diff = diff_catalogs(current, wanted, keys)
    assert [change.describe() for change in diff.changes] == [
        "+ new: input 1, output 2",
        "~ sonnet: cached - -> 0.3, above 200000 input 6 -> 6.5,"
        " cache_write 3.75 -> -, unit call web_search 10 -> -",
    ]
    assert diff.kept == 1 and diff.summary() == (
        "1 added, 1 changed, 0 removed; 1 stored prices not in the file kept (--prune deletes them)"
    )
    pruned = diff_catalogs(current, wanted, keys, prune=True)
    assert [c.describe() for c in pruned.changes if c.action == "removed"] == ["- old"]
    assert pruned.kept == 0
    assert pruned.to_json()["removed"] == 1


async def test_applying_replaces_whole_prices_and_prunes(db: Database) -> None:
    await save(db, SONNET, Price("old", 1, 2))
    before = (await prices.get_price(db, "sonnet")).version
    wanted = catalog({"prices": {"sonnet": {"input": "3", "output": "15", "cached": "0.3"}}})
    diff = await sync_prices(db, wanted, prune=True)
    assert diff.counts() == {"changed": 1, "removed": 1}
    assert await stored(db) == {
        "format": "burncloud-prices/1",
        "prices": {"sonnet": {"input": "3", "output": "15", "cached": "0.3"}},
        "channels": {},
    }
    after = (await prices.get_price(db, "sonnet")).version
    assert before is not None and after is not None and after > before  # a new version


async def test_a_dry_run_applies_nothing(db: Database) -> None:
    wanted = catalog({"prices": {"m": {"input": "1", "output": "2"}}})
    diff = await sync_prices(db, wanted, dry_run=True)
    assert [change.action for change in diff.changes] == ["added"]
    assert await prices.raw_price_table(db) == {}


async def test_aliases_are_set_after_their_targets_and_removed_before_them(db: Database) -> None:
    wanted = catalog(
        {
            "prices": {
                "a": {"alias": "b"},  # a -> b -> c, all new: c, then b, then a
                "b": {"alias": "c"},
                "c": {"input": "1", "output": "2"},
            }
        }
    )
    await sync_prices(db, wanted)
    assert (await prices.get_price(db, "a")).input == parse_usd("1")
    emptied = await sync_prices(db, catalog({"prices": {}}), prune=True)
    assert [change.model for change in emptied.changes] == ["a", "b", "c"]
    assert await prices.raw_price_table(db) == {}


async def test_a_price_can_become_an_alias_and_back(db: Database) -> None:
    await save(db, Price("x", 1, 2), Price("y", 3, 4))
    await sync_prices(db, catalog({"prices": {"x": {"alias": "y"}}}))
    assert (await prices.raw_price_table(db))["x"].alias_of == "y"
    await sync_prices(db, catalog({"prices": {"x": {"input": "5", "output": "6"}}}))
    assert (await prices.get_price(db, "x")).input == parse_usd("5")


async def test_pruning_refuses_an_alias_whose_target_would_go(db: Database) -> None:
    await save(db, Price("y", 3, 4))
    with pytest.raises(InvalidRequest, match="alias of y, which the file does not price"):
        await sync_prices(db, catalog({"prices": {"x": {"alias": "y"}}}), prune=True)


async def test_one_bad_entry_applies_nothing(db: Database) -> None:
    await channel(db, "c", ["served"])
    wanted = catalog(
        {
            "prices": {"m": {"input": "1", "output": "2"}},
            "channels": {"c": {"not-served": {"input": "1", "output": "1"}}},
        }
    )
    with pytest.raises(InvalidRequest, match="does not serve 'not-served'"):
        await sync_prices(db, wanted)
    assert await prices.raw_price_table(db) == {}


async def test_channels_are_keyed_by_name_or_by_id_when_names_repeat(db: Database) -> None:
    first = await channel(db, "twin", ["m"])
    second = await channel(db, "twin-2", ["m"])
    # names were not unique before channels refused a taken one: older databases repeat them
    await db.execute("UPDATE channels SET name = 'twin' WHERE id = :id", {"id": second})
    solo = await channel(db, "solo", ["m"])
    odd = await channel(db, f"#{first}", ["m"])  # a name that reads as another's id
    keys = await channel_keys(db)
    assert keys.keys == {first: f"#{first}", second: f"#{second}", solo: "solo", odd: f"#{odd}"}
    assert keys.resolve(f"#{first}") == first
    assert keys.resolve(f"#{solo}") == keys.resolve("solo") == solo
    with pytest.raises(InvalidRequest, match="are all named 'twin': key them by #ID"):
        keys.resolve("twin")
    with pytest.raises(InvalidRequest, match="no channel 'nope'"):
        keys.resolve("nope")
    price = {"m": {"input": "1", "output": "1"}}
    await sync_prices(
        db, catalog({"prices": {}, "channels": {f"#{solo}": price, f"#{second}": price}})
    )
    assert set((await stored(db))["channels"]) == {"solo", f"#{second}"}
    with pytest.raises(InvalidRequest, match="appears twice in the file"):
        await sync_prices(
            db, catalog({"prices": {}, "channels": {"solo": price, f"#{solo}": price}})
        )


async def test_channel_prices_the_file_leaves_out_are_kept_unless_pruned(db: Database) -> None:
    cid = await channel(db, "c", ["m"])
    await save(db, Price("m", 1, 1), channel_id=cid)
    kept = await sync_prices(db, catalog({"prices": {}}))
    assert kept.changes == () and kept.kept == 1
    pruned = await sync_prices(db, catalog({"prices": {}}), prune=True)
    assert [c.describe() for c in pruned.changes] == ["- m (channel c)"]
    assert await prices.load_channel_prices(db) == {}


def test_price_fields_flatten_tiers_and_units() -> None:
    assert price_fields(SONNET) == {
        "input": "3",
        "output": "15",
        "cache_write": "3.75",
        "above 200000 input": "6",
        "unit call web_search": "10",
    }
    assert price_fields(Price("a", 0, 0, alias_of="b")) == {"alias": "b"}


def test_the_wanted_catalog_of_each_format() -> None:
    wanted, litellm = wanted_catalog('{"prices": {"m": {"input": 1, "output": 2}}}', "json")
    assert litellm is None and set(wanted.prices) == {"m"}
    text = '{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}'
    wanted, litellm = wanted_catalog(text, "litellm", ["m"])
    assert litellm is not None and wanted.prices["m"] == Price("m", 10**9, 2 * 10**9)
    with pytest.raises(InvalidRequest, match="only selects models of LiteLLM's file"):
        wanted_catalog("prices: {}", "yaml", ["m"])
    with pytest.raises(InvalidRequest, match="unknown format 'csv'"):
        wanted_catalog("", "csv")
