"""Log retention: old log rows go in small batches, the rollups stay, so the stats over
any window read the same before and after; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.upkeep.log_pruner import LogPruner
from burncloud.services import stats
from burncloud.services.log_retention import DAY, count_older, prune_logs
from tests.services.test_stats import NOW, World, build_world, sdb  # noqa: F401 (fixture)

WEEK = 7 * DAY


async def old_rows(db: Database, count: int, at: int) -> None:
    """``count`` plain log rows at ``at`` (no rollup: only their deletion is looked at)."""
    rows = [
        {"at": at, "id": f"old-{n}", "err": "upstream said no " * 8, "model": "gpt-4"}
        for n in range(count)
    ]
    await db.execute_many(
        "INSERT INTO logs (created_at, request_id, model, status, error)"
        " VALUES (:at, :id, :model, 500, :err)",
        rows,
    )


async def test_stats_over_a_week_read_the_same_after_the_old_rows_are_pruned(
    sdb: Database,  # noqa: F811 (fixture)
) -> None:
    world: World = await build_world(sdb, NOW)
    since = NOW - WEEK
    totals = await stats.window_totals(world.db, since)
    by_model = await stats.breakdown(world.db, since, "model")
    by_user = await stats.breakdown(world.db, since, "user")
    hours = await stats.hourly_spend(world.db, NOW, 24)
    cutoff = NOW - 3600  # r8 and r7, the day's first requests
    assert await count_older(world.db, cutoff) == 2

    pruned = await prune_logs(world.db, cutoff, batch=1, pause=0)

    assert pruned.rows == 2
    assert await count_older(world.db, cutoff) == 0
    assert await world.db.fetch_value("SELECT COUNT(*) FROM logs") == 6
    after = await stats.window_totals(world.db, since)
    assert (after.requests, after.errors, after.cost, after.margin) == (
        totals.requests,
        totals.errors,
        totals.cost,
        totals.margin,
    )
    for by, before in (("model", by_model), ("user", by_user)):
        assert _counted(await stats.breakdown(world.db, since, by)) == _counted(before)
    assert await stats.hourly_spend(world.db, NOW, 24) == hours


def _counted(rows: list[stats.GroupRow]) -> list[tuple[object, ...]]:
    """What the rollup counts (latency percentiles are a sample of the rows still kept)."""
    return [(r.key, r.requests, r.errors, r.prompt_tokens, r.cost, r.margin) for r in rows]


async def test_pruning_reports_the_rows_and_the_space_they_held(
    sdb: Database,  # noqa: F811 (fixture)
) -> None:
    await old_rows(sdb, 3_000, NOW - 100 * DAY)
    await old_rows(sdb, 10, NOW)
    pages = await sdb.fetch_value("PRAGMA page_count") if sdb.dialect == "sqlite" else 0
    pruned = await prune_logs(sdb, NOW - 90 * DAY, batch=500, pause=0)
    assert pruned.rows == 3_000
    assert pruned.bytes_freed > 3_000 * 100  # every row held its error text
    assert await sdb.fetch_value("SELECT COUNT(*) FROM logs") == 10
    if sdb.dialect == "sqlite":  # a new file is incremental: the pages went back to the disk
        assert await sdb.fetch_value("PRAGMA freelist_count") == 0
        assert await sdb.fetch_value("PRAGMA page_count") < pages - 3_000 * 100 // 4096
    again = await prune_logs(sdb, NOW - 90 * DAY)
    assert (again.rows, again.bytes_freed) == (0, 0)


@pytest.mark.parametrize(("days", "left"), [(90, 10), (0, 3_010)])
async def test_the_router_prunes_past_its_retention_and_0_keeps_everything(
    sdb: Database,  # noqa: F811 (fixture)
    days: int,
    left: int,
) -> None:
    await old_rows(sdb, 3_000, NOW - 91 * DAY)
    await old_rows(sdb, 10, NOW - 89 * DAY)
    pruner = LogPruner(sdb, LocalState(), days, clock=lambda: NOW)
    await pruner.start()
    try:
        if days:
            await pruner.prune_once()
    finally:
        await pruner.stop()
    assert await sdb.fetch_value("SELECT COUNT(*) FROM logs") == left
