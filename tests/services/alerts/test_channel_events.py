"""Channel alerts: an auto-disable and a re-enable raise their event in the transaction
that changes the status, once however many routers race; an operator's change raises none."""

from __future__ import annotations

import asyncio

import orjson

from burncloud.db import Database
from burncloud.services import channels
from burncloud.services.alerts import hooks
from burncloud.services.channel_health import auto_disable, auto_enable
from tests.gateway.quota_db import OpenDb
from tests.services.alerts.conftest import BOX

REASON = "401 invalid_api_key: Incorrect API key provided"


async def _channel(db: Database) -> channels.Channel:
    return await channels.add_channel(
        db, BOX, type="openai", name="main", key="sk-upstream-0001", models=["gpt-4o"]
    )


async def _events(db: Database) -> list[dict]:
    return await db.fetch_all("SELECT kind, text, data FROM alert_events ORDER BY id")


async def test_auto_disable_and_enable_raise_their_events_for_subscribers(db: Database) -> None:
    hook, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/", events="channel-disabled")
    ch = await _channel(db)
    assert await auto_disable(db, ch.id, ch.id, REASON)
    assert await auto_enable(db, ch.id, ch.id)
    events = await _events(db)
    assert [(e["kind"], e["text"]) for e in events] == [
        ("channel-disabled", f"Channel 'main' (id {ch.id}, openai) was auto-disabled: {REASON}."),
        (
            "channel-enabled",
            f"Channel 'main' (id {ch.id}, openai) answered a probe and is back in rotation"
            " (it was auto-disabled).",
        ),
    ]
    assert orjson.loads(events[0]["data"])["reason"] == REASON
    rows = await db.fetch_all("SELECT hook_id FROM alert_deliveries")
    assert rows == [{"hook_id": hook.id}]  # it wanted only channel-disabled


async def test_an_operator_change_raises_no_channel_event(db: Database) -> None:
    ch = await _channel(db)
    await channels.disable_channel(db, ch.id, "maintenance")
    assert not await auto_disable(db, ch.id, ch.id, REASON)
    await channels.enable_channel(db, ch.id)
    assert await _events(db) == []


async def test_routers_racing_to_disable_a_channel_raise_one_event(connect: OpenDb) -> None:
    routers = [await connect() for _ in range(3)]
    ch = await _channel(routers[0])
    moved = await asyncio.gather(*(auto_disable(db, ch.id, ch.id, REASON) for db in routers))
    assert moved.count(True) == 1
    assert len(await _events(routers[0])) == 1
