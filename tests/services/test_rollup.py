"""Pruning the per-minute rollup: old minutes go, hours stay, windows stay whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.services import stats
from burncloud.services.rollup import MINUTES_KEPT, minutes_kept_from, prune_minutes
from tests.gateway.quota_db import BACKENDS, database_factory
from tests.services.test_stats import DAY, M, NoLedger, record

NOW = DAY + 10 * 86400 + 12 * 3600  # noon, ten days on
OLD = DAY + 3 * 3600 + 30 * 60  # 03:30 on DAY: far past the minutes kept


@pytest.fixture(params=BACKENDS)
async def sdb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


async def write(db, *records) -> None:
    writer = LogWriter(db, NoLedger())
    for rec in records:
        writer.submit(rec)
    await writer.flush()


async def test_minutes_past_their_keep_are_deleted_and_hours_kept(sdb) -> None:
    recent = NOW - 600
    await write(
        sdb,
        record(OLD, None, None, "m", (1, 1), 2 * M, 10, 200),
        record(recent, None, None, "m", (1, 1), 3 * M, 10, 200),
    )
    assert await minutes_kept_from(sdb) == 0
    deleted = await prune_minutes(sdb, NOW)
    assert deleted > 0
    kept_from = await minutes_kept_from(sdb)
    assert kept_from == NOW - MINUTES_KEPT and kept_from % 3600 == 0
    minutes = {row["minute"] for row in await sdb.fetch_all("SELECT minute FROM log_minutes")}
    assert minutes == {recent - recent % 60}
    hours = {row["hour"] for row in await sdb.fetch_all("SELECT hour FROM log_hours")}
    assert OLD - OLD % 3600 in hours
    assert await prune_minutes(sdb, NOW) == 0  # idempotent: every worker may run it


async def test_a_window_starting_in_pruned_minutes_starts_at_its_hour(sdb) -> None:
    await write(sdb, record(OLD, None, None, "m", (1, 1), 2 * M, 10, 200))
    since = OLD - 60  # 03:29: before pruning the window counts from that minute
    assert (await stats.window_totals(sdb, since)).requests == 1
    await prune_minutes(sdb, NOW)
    # now from 03:00 (the hour holds 03:30), rather than missing the pruned minutes
    assert (await stats.window_totals(sdb, since)).requests == 1
    assert (await stats.window_totals(sdb, OLD + 60)).requests == 1  # 03:31 -> 03:00
    assert (await stats.window_totals(sdb, OLD - OLD % 3600 + 3600)).requests == 0


async def test_the_log_writer_prunes_in_the_background(sdb) -> None:
    await write(sdb, record(OLD, None, None, "m", (1, 1), 2 * M, 10, 200))
    ticks = iter(range(0, 10**9, 10**6))  # every reading of its clock is 1e6 s later
    writer = LogWriter(sdb, NoLedger(), interval=0.01, clock=lambda: float(next(ticks)))
    await writer.start()
    for _ in range(200):
        if await minutes_kept_from(sdb):
            break
        await asyncio.sleep(0.01)
    await writer.stop()
    assert await minutes_kept_from(sdb) > OLD
    assert await sdb.fetch_all("SELECT minute FROM log_minutes") == []
