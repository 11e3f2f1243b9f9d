"""Automatic disable and re-enable of channel keys and channels, on SQLite and PostgreSQL:
operators win, and a channel is up while any of its keys is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.services import channels
from burncloud.services.channel_health import (
    MAX_REASON,
    auto_disable,
    auto_disabled_keys,
    auto_enable,
)
from burncloud.services.channel_keys import add_keys, list_keys, set_key_status
from burncloud.services.settings import read_config_version
from tests.gateway.quota_db import BACKENDS, database_factory

BOX = SecretBox.from_passphrase("test-secret")
BAD_KEY = "401 invalid_api_key: Incorrect API key provided"


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


async def add(db: Database, name: str = "main") -> channels.Channel:
    return await channels.add_channel(
        db, BOX, type="openai", name=name, key="sk-upstream-0001", models=["a", "b"]
    )


async def key_of(db: Database, channel_id: int, index: int = 0) -> int:
    """The id of the channel's ``index``-th key."""
    return (await list_keys(db, channel_id))[index].id


async def status(db: Database, channel_id: int) -> tuple[str, str, list[int]]:
    """The channel's status, reason, and the enabled flags of its abilities."""
    channel = await channels.get_channel(db, channel_id)
    rows = await db.fetch_all(
        "SELECT enabled FROM abilities WHERE channel_id = :id ORDER BY model", {"id": channel_id}
    )
    return channel.status, channel.status_reason, [row["enabled"] for row in rows]


async def test_an_enabled_channel_is_auto_disabled_with_its_reason(db: Database) -> None:
    ch = await add(db)
    before = await read_config_version(db)
    assert await auto_disable(
        db, ch.id, await key_of(db, ch.id), "401  invalid_api_key:\n Incorrect API key provided"
    )
    assert await status(db, ch.id) == ("auto_disabled", BAD_KEY, [0, 0])
    assert await read_config_version(db) == before + 1


async def test_an_operator_disabled_channel_is_never_auto_disabled(db: Database) -> None:
    ch = await add(db)
    await channels.disable_channel(db, ch.id, "maintenance")
    before = await read_config_version(db)
    assert not await auto_disable(db, ch.id, await key_of(db, ch.id), BAD_KEY)
    assert await status(db, ch.id) == ("disabled", "maintenance", [0, 0])
    assert await read_config_version(db) == before


async def test_auto_disable_keeps_the_first_reason_and_skips_unknown_channels(
    db: Database,
) -> None:
    ch = await add(db)
    assert await auto_disable(db, ch.id, await key_of(db, ch.id), BAD_KEY)
    before = await read_config_version(db)
    assert not await auto_disable(db, ch.id, await key_of(db, ch.id), "429 insufficient_quota")
    assert not await auto_disable(db, ch.id + 100, 1, BAD_KEY)
    assert await status(db, ch.id) == ("auto_disabled", BAD_KEY, [0, 0])
    assert await read_config_version(db) == before


async def test_a_long_upstream_message_is_cut_to_the_reason_limit(db: Database) -> None:
    ch = await add(db)
    assert await auto_disable(db, ch.id, await key_of(db, ch.id), "x" * 5000)
    assert (await channels.get_channel(db, ch.id)).status_reason == "x" * MAX_REASON


async def test_racing_routers_auto_disable_once(db: Database) -> None:
    ch = await add(db)
    before = await read_config_version(db)
    key = await key_of(db, ch.id)
    changed = await asyncio.gather(*(auto_disable(db, ch.id, key, f"r{i}") for i in range(4)))
    assert sorted(changed) == [False, False, False, True]
    assert await read_config_version(db) == before + 1
    assert (await channels.get_channel(db, ch.id)).status_reason == f"r{changed.index(True)}"


async def test_an_auto_disabled_channel_is_re_enabled(db: Database) -> None:
    ch = await add(db)
    await auto_disable(db, ch.id, await key_of(db, ch.id), BAD_KEY)
    before = await read_config_version(db)
    assert await auto_enable(db, ch.id, await key_of(db, ch.id))
    assert await status(db, ch.id) == ("enabled", "", [1, 1])
    assert await read_config_version(db) == before + 1


async def test_auto_enable_never_re_enables_an_operator_disabled_channel(db: Database) -> None:
    ch = await add(db)
    await auto_disable(db, ch.id, await key_of(db, ch.id), BAD_KEY)
    await channels.disable_channel(db, ch.id, "key revoked by finance")
    before = await read_config_version(db)
    assert not await auto_enable(db, ch.id, await key_of(db, ch.id))
    assert await status(db, ch.id) == ("disabled", "key revoked by finance", [0, 0])
    assert await read_config_version(db) == before


async def test_auto_enable_leaves_an_enabled_channel_alone(db: Database) -> None:
    ch = await add(db)
    before = await read_config_version(db)
    assert not await auto_enable(db, ch.id, await key_of(db, ch.id))
    assert not await auto_enable(db, ch.id + 100, 1)
    assert await read_config_version(db) == before


async def test_only_auto_disabled_keys_of_channels_not_operator_disabled_are_listed(
    db: Database,
) -> None:
    ids = [(await add(db, f"c{i}")).id for i in range(4)]
    await auto_disable(db, ids[3], await key_of(db, ids[3]), "a")
    await auto_disable(db, ids[1], await key_of(db, ids[1]), "b")
    await auto_disable(db, ids[2], await key_of(db, ids[2]), "c")
    await channels.disable_channel(db, ids[2], "operator")
    listed = await auto_disabled_keys(db)
    assert [(d.channel.id, d.key.status, d.key.status_reason) for d in listed] == [
        (ids[1], "auto_disabled", "b"),
        (ids[3], "auto_disabled", "a"),
    ]


async def test_one_bad_key_of_three_leaves_the_channel_serving_and_raises_its_alert(
    db: Database,
) -> None:
    ch = await add(db)
    await add_keys(db, BOX, ch.id, ["sk-upstream-0002", "sk-upstream-0003"])
    bad = await key_of(db, ch.id, 1)
    before = await read_config_version(db)
    assert await auto_disable(db, ch.id, bad, BAD_KEY)
    assert await status(db, ch.id) == ("enabled", "", [1, 1])
    assert [(k.status, k.status_reason) for k in await list_keys(db, ch.id)] == [
        ("enabled", ""),
        ("auto_disabled", BAD_KEY),
        ("enabled", ""),
    ]
    assert await read_config_version(db) == before + 1
    events = await db.fetch_all("SELECT kind, dedupe_key, data FROM alert_events")
    assert [(e["kind"], e["dedupe_key"].split(":")[:2]) for e in events] == [
        ("channel-disabled", ["channel-key-disabled", str(bad)])
    ]


async def test_the_last_key_going_takes_the_channel_and_its_return_brings_it_back(
    db: Database,
) -> None:
    ch = await add(db)
    await add_keys(db, BOX, ch.id, ["sk-upstream-0002"])
    first, second = await key_of(db, ch.id, 0), await key_of(db, ch.id, 1)
    await set_key_status(db, ch.id, first, "disabled", "rotated out")
    assert await auto_disable(db, ch.id, second, BAD_KEY)
    assert await status(db, ch.id) == ("auto_disabled", BAD_KEY, [0, 0])
    assert await auto_enable(db, ch.id, second)
    assert await status(db, ch.id) == ("enabled", "", [1, 1])
    kinds = [row["kind"] for row in await db.fetch_all("SELECT kind FROM alert_events ORDER BY id")]
    assert kinds == ["channel-disabled", "channel-enabled"]
