"""Model sync: the diff by upstream name, applying it through update_channel, the record
of each sync, the channel-models alert, and the per-channel claim of automatic syncs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import UpstreamError
from burncloud.money import parse_usd
from burncloud.services import channels, model_sync
from burncloud.services.audit import AuditFilter, list_changes
from burncloud.services.model_listing import HttpxGetter, UpstreamModels
from burncloud.services.model_sync import (
    channel_models,
    claim_due_syncs,
    offered_models,
    plan_sync,
    stored_syncs,
    sync_channel_models,
)
from burncloud.services.prices import set_price
from burncloud.services.settings import read_config_version
from tests.fakes.model_lists import OPENAI_KEY, FakeOpenAIModels

BOX = SecretBox.from_passphrase("test-secret")
T0 = 1_767_225_600
HOUR = 3600


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_sync, "now", lambda: T0)


@pytest.fixture
async def getter() -> AsyncIterator[HttpxGetter]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield HttpxGetter(client)


async def add(db: Database, base_url: str, models: list[str], **fields: object) -> channels.Channel:
    return await channels.add_channel(
        db,
        BOX,
        type="openai",
        name=str(fields.pop("name", "main")),
        key=OPENAI_KEY,
        models=models,
        base_url=base_url,
        **fields,  # type: ignore[arg-type]
    )


async def price(db: Database, *models: str) -> None:
    async with db.transaction() as tx:
        for model in models:
            await set_price(tx, model, parse_usd("1"), parse_usd("2"))


async def events(db: Database) -> list[dict]:
    return await db.fetch_all("SELECT kind, dedupe_key, text, data FROM alert_events ORDER BY id")


def test_the_diff_adds_what_no_model_reaches_and_removes_what_vanished() -> None:
    diff = plan_sync(["gpt-4o", "old"], {}, ["gpt-4o", "gpt-5", "gpt-4.1"])
    assert diff.added == ("gpt-4.1", "gpt-5")
    assert diff.vanished == diff.removed == ("old",)
    assert diff.models == ("gpt-4o", "gpt-4.1", "gpt-5") and diff.changed


def test_a_mapped_model_is_offered_while_its_upstream_name_is() -> None:
    mapped = {"smart": "gpt-4o-2024-11-20", "gone": "gpt-3.5-turbo-0125"}
    diff = plan_sync(["smart", "gone", "gpt-4o"], mapped, ["gpt-4o-2024-11-20", "gpt-4o"])
    assert diff.added == ()  # both offered names are reached, one through the map
    assert diff.removed == ("gone",)
    assert diff.model_map == {"smart": "gpt-4o-2024-11-20"}  # the map entry left with it


def test_an_offered_name_the_channel_already_uses_for_another_model_is_not_added_twice() -> None:
    diff = plan_sync(["gpt-4o"], {"gpt-4o": "gpt-4o-2024-11-20"}, ["gpt-4o", "gpt-4o-2024-11-20"])
    assert (diff.added, diff.removed, diff.changed) == ((), (), False)


def test_add_only_keeps_what_vanished() -> None:
    diff = plan_sync(["a", "b"], {}, ["a", "c"], add_only=True)
    assert (diff.added, diff.vanished, diff.removed) == (("c",), ("b",), ())
    assert diff.models == ("a", "b", "c")


def test_an_upstream_that_lists_nothing_never_empties_a_channel() -> None:
    with pytest.raises(UpstreamError, match="lists no models"):
        plan_sync(["a"], {}, [])


async def test_a_sync_applies_the_diff_through_the_channel_and_records_it(
    db: Database, getter: HttpxGetter
) -> None:
    await price(db, "gpt-4o")
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-4o-mini", "o3-mini"]) as fake:
        channel = await add(db, fake.api_base, ["gpt-4o", "gpt-3.5-turbo"])
        version = await read_config_version(db)
        result = await sync_channel_models(db, BOX, channel.id, getter)
    assert (result.added, result.removed) == (("gpt-4o-mini", "o3-mini"), ("gpt-3.5-turbo",))
    assert result.unpriced == ("gpt-4o-mini", "o3-mini") and result.applied
    after = await channels.get_channel(db, channel.id)
    assert after.models == ("gpt-4o", "gpt-4o-mini", "o3-mini")
    assert await read_config_version(db) > version  # routers reload
    kind = AuditFilter(kind="channel", object_id=str(channel.id))
    (change,) = [c for c in await list_changes(db, kind) if c.action == "update"]
    assert change.changes["models"] == ("gpt-4o,gpt-3.5-turbo", "gpt-4o,gpt-4o-mini,o3-mini")
    record = (await stored_syncs(db))[channel.id]
    assert (record.synced_at, record.added, record.removed, record.error) == (
        T0,
        ("gpt-4o-mini", "o3-mini"),
        ("gpt-3.5-turbo",),
        "",
    )
    assert await events(db) == []  # a sync by hand raises no alert


async def test_a_dry_run_changes_and_records_nothing(db: Database, getter: HttpxGetter) -> None:
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        channel = await add(db, fake.api_base, ["gpt-4o", "old"])
        version = await read_config_version(db)
        result = await sync_channel_models(db, BOX, channel.id, getter, dry_run=True)
    assert (result.added, result.removed, result.applied) == (("gpt-5",), ("old",), False)
    assert result.models == ("gpt-4o", "gpt-5")
    assert (await channels.get_channel(db, channel.id)).models == ("gpt-4o", "old")
    assert await read_config_version(db) == version
    assert await stored_syncs(db) == {}


async def test_add_only_keeps_the_vanished_models(db: Database, getter: HttpxGetter) -> None:
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        channel = await add(db, fake.api_base, ["gpt-4o", "old"])
        result = await sync_channel_models(db, BOX, channel.id, getter, add_only=True)
    assert (result.added, result.vanished, result.removed) == (("gpt-5",), ("old",), ())
    assert (await channels.get_channel(db, channel.id)).models == ("gpt-4o", "old", "gpt-5")


async def test_an_automatic_sync_raises_channel_models_when_models_come_and_go(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeOpenAIModels(models=["gpt-4o", "gpt-5"]) as fake:
        channel = await add(db, fake.api_base, ["gpt-4o", "old"])
        await sync_channel_models(db, BOX, channel.id, getter, alert=True)
        await sync_channel_models(db, BOX, channel.id, getter, alert=True)  # nothing new
    (event,) = await events(db)
    assert (event["kind"], event["dedupe_key"]) == (
        "channel-models",
        f"channel-models:{channel.id}:{T0}",
    )
    assert "new model(s), added: gpt-5" in event["text"] and "removed: old" in event["text"]
    assert "not served until priced" in event["text"]
    data = orjson.loads(event["data"])
    assert (data["added"], data["removed"], data["unpriced"]) == (["gpt-5"], ["old"], ["gpt-5"])


async def test_a_failed_listing_is_recorded_and_leaves_the_channel(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeOpenAIModels(status=503) as fake:
        channel = await add(db, fake.api_base, ["gpt-4o"])
        with pytest.raises(UpstreamError, match="HTTP 503"):
            await sync_channel_models(db, BOX, channel.id, getter, alert=True)
    record = (await stored_syncs(db))[channel.id]
    assert record.synced_at == T0 and "HTTP 503" in record.error
    assert (await channels.get_channel(db, channel.id)).models == ("gpt-4o",)
    assert await events(db) == []


async def test_models_are_listed_with_their_upstream_names_and_prices(db: Database) -> None:
    await price(db, "smart")
    channel = await add(
        db, "http://127.0.0.1:9/v1", ["smart", "raw"], model_map={"smart": "gpt-4o"}
    )
    listed = [m.to_json() for m in await channel_models(db, channel.id)]
    assert listed == [
        {"model": "smart", "upstream": "gpt-4o", "priced": True},
        {"model": "raw", "upstream": "raw", "priced": False},
    ]
    offered = UpstreamModels(channel.id, ("gpt-4o", "new"), "upstream")
    seen = [m.to_json() for m in await offered_models(db, channel, offered)]
    assert seen == [
        {"model": "gpt-4o", "served_as": "smart", "priced": True},
        {"model": "new", "served_as": None, "priced": False},
    ]


async def test_an_automatic_sync_is_claimed_once_per_interval(db: Database) -> None:
    due = await add(db, "http://127.0.0.1:9/v1", ["a"], auto_sync=HOUR)
    await add(db, "http://127.0.0.1:9/v1", ["a"], name="manual")
    off = await add(db, "http://127.0.0.1:9/v1", ["a"], name="off", auto_sync=HOUR)
    await channels.disable_channel(db, off.id)
    assert await claim_due_syncs(db, T0) == [due.id]
    assert await claim_due_syncs(db, T0) == []  # the second router of the round
    assert await claim_due_syncs(db, T0 + HOUR - 1) == []
    assert await claim_due_syncs(db, T0 + HOUR) == [due.id]


async def test_a_failed_automatic_sync_is_tried_again_sooner(db: Database) -> None:
    channel = await add(db, "http://127.0.0.1:9/v1", ["a"], auto_sync=24 * HOUR)
    assert await claim_due_syncs(db, T0) == [channel.id]
    await model_sync.record_failure(db, channel.id, T0, "channel 1: unreachable")
    assert await claim_due_syncs(db, T0 + HOUR - 1) == []
    assert await claim_due_syncs(db, T0 + HOUR) == [channel.id]
