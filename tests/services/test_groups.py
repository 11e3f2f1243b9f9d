from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services import groups
from burncloud.services.settings import read_config_version


async def set_group(db: Database, name: str, ratio: str) -> groups.Group:
    async with db.transaction() as tx:
        return await groups.set_group(tx, name, ratio)


async def delete_group(db: Database, name: str) -> None:
    async with db.transaction() as tx:
        await groups.delete_group(tx, name)


async def test_fresh_database_has_the_default_group_at_ratio_1(db: Database) -> None:
    assert await groups.load_group_ratios(db) == {"default": Decimal(1)}


async def test_ratio_is_stored_as_a_normalised_decimal_string(db: Database) -> None:
    await set_group(db, "vip", "0.80")
    await set_group(db, "big", "1E+2")
    stored = await db.fetch_all("SELECT name, ratio FROM user_groups ORDER BY name")
    assert {row["name"]: row["ratio"] for row in stored}["vip"] == "0.8"
    assert {row["name"]: row["ratio"] for row in stored}["big"] == "100"
    assert await groups.get_ratio(db, "vip") == Decimal("0.8")


async def test_set_group_updates_the_ratio_and_bumps_the_config_version(db: Database) -> None:
    before = await read_config_version(db)
    await set_group(db, "vip", "0.8")
    await set_group(db, "vip", "1.5")
    assert await groups.get_ratio(db, "vip") == Decimal("1.5")
    assert await read_config_version(db) == before + 2


@pytest.mark.parametrize("ratio", ["-0.1", "NaN", "Infinity", "abc", ""])
async def test_invalid_ratio_is_refused(db: Database, ratio: str) -> None:
    with pytest.raises(InvalidRequest, match="ratio"):
        await set_group(db, "vip", ratio)


async def test_group_name_with_a_comma_is_refused(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="group name"):
        await set_group(db, "a,b", "1")


async def test_unknown_group_ratio_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="nope"):
        await groups.get_ratio(db, "nope")


async def test_default_group_cannot_be_deleted(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="default"):
        await delete_group(db, "default")


async def test_deleting_an_unknown_group_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await delete_group(db, "nope")


async def test_group_with_users_cannot_be_deleted(db: Database) -> None:
    await set_group(db, "vip", "0.8")
    await db.execute(
        "INSERT INTO users (name, group_name, invite_code, created_at)"
        " VALUES ('ann', 'vip', 'code1', 0)"
    )
    with pytest.raises(InvalidRequest, match="1 user"):
        await delete_group(db, "vip")
    assert "vip" in await groups.load_group_ratios(db)


async def test_group_served_by_a_channel_cannot_be_deleted(db: Database) -> None:
    await set_group(db, "vip", "0.8")
    await set_group(db, "vipplus", "0.5")
    await db.execute(
        "INSERT INTO channels (type, name, key_hint, base_url, models, groups,"
        " created_at, updated_at) VALUES ('openai', 'c', 'x', 'http://h', 'gpt-4',"
        " 'default,vip', 0, 0)"
    )
    with pytest.raises(InvalidRequest, match="channel"):
        await delete_group(db, "vip")
    await delete_group(db, "vipplus")  # a name that merely contains "vip" is not served
    assert set(await groups.load_group_ratios(db)) == {"default", "vip"}
