"""Fleet alerts: a router joins once however many workers start, leaves once when it stops
or goes silent, and joins again when it comes back."""

from __future__ import annotations

import asyncio

from burncloud.db import Database
from burncloud.services.alerts.presence import (
    HEARTBEAT,
    KEEP_LEFT,
    STALE_AFTER,
    check_in,
    leave,
    notice_silent,
)
from tests.gateway.quota_db import OpenDb
from tests.services.alerts.conftest import T0

NAME = "host-a:3000"


async def _events(db: Database) -> list[str]:
    rows = await db.fetch_all("SELECT text FROM alert_events ORDER BY id")
    return [row["text"] for row in rows]


async def test_a_router_joins_once_and_leaves_once(db: Database) -> None:
    assert await check_in(db, NAME, T0, starting=True)
    assert not await check_in(db, NAME, T0 + 1, starting=True)  # its second worker
    assert not await check_in(db, NAME, T0 + HEARTBEAT, starting=False)
    assert await leave(db, NAME, T0 + 100)
    assert not await leave(db, NAME, T0 + 101)  # its other worker stopping
    assert not await check_in(db, NAME, T0 + 102, starting=False)  # one still draining
    assert await _events(db) == [
        f"Router {NAME} joined the fleet.",
        f"Router {NAME} left the fleet: it stopped.",
    ]
    assert await check_in(db, NAME, T0 + 500, starting=True)  # restarted
    assert len(await _events(db)) == 3


async def test_a_silent_router_leaves_and_joins_again_when_it_answers(db: Database) -> None:
    await check_in(db, NAME, T0, starting=True)
    await check_in(db, "host-b:3000", T0 + STALE_AFTER, starting=True)
    assert await notice_silent(db, T0 + STALE_AFTER) == 0
    assert await notice_silent(db, T0 + STALE_AFTER + 1) == 1
    assert await notice_silent(db, T0 + STALE_AFTER + 2) == 0
    assert await check_in(db, NAME, T0 + STALE_AFTER + 30, starting=False)  # it was cut off
    assert await _events(db) == [
        f"Router {NAME} joined the fleet.",
        "Router host-b:3000 joined the fleet.",
        f"Router {NAME} left the fleet: it stopped answering (no heartbeat).",
        f"Router {NAME} joined the fleet.",
    ]
    row = await db.fetch_one("SELECT * FROM routers WHERE name = :n", {"n": NAME})
    assert row is not None and (row["left_at"], row["started_at"]) == (None, T0 + STALE_AFTER + 30)


async def test_a_killed_router_restarting_before_anyone_noticed_leaves_then_joins(
    db: Database,
) -> None:
    await check_in(db, NAME, T0, starting=True)
    assert await check_in(db, NAME, T0 + STALE_AFTER + 5, starting=True)
    events = await db.fetch_all("SELECT dedupe_key FROM alert_events ORDER BY id")
    assert [row["dedupe_key"] for row in events] == [
        f"fleet:join:{NAME}:{T0}",
        f"fleet:leave:{NAME}:{T0}",
        f"fleet:join:{NAME}:{T0 + STALE_AFTER + 5}",
    ]


async def test_routers_that_left_long_ago_are_forgotten(db: Database) -> None:
    await check_in(db, NAME, T0, starting=True)
    await leave(db, NAME, T0 + 10)
    await notice_silent(db, T0 + 10 + KEEP_LEFT)
    assert await db.fetch_value("SELECT COUNT(*) FROM routers") == 1
    await notice_silent(db, T0 + 11 + KEEP_LEFT)
    assert await db.fetch_value("SELECT COUNT(*) FROM routers") == 0


async def test_workers_starting_at_once_make_one_joining(connect: OpenDb) -> None:
    workers = [await connect() for _ in range(4)]
    joined = await asyncio.gather(*(check_in(db, NAME, T0, starting=True) for db in workers))
    assert joined.count(True) == 1
    assert len(await _events(workers[0])) == 1
