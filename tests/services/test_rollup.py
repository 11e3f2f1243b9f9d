"""The rollup: pruning (old minutes go, hours stay, windows stay whole), and the migration
that gave it margins and the group dimension."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database, open_database
from burncloud.db.migrations import migrate
from burncloud.db.schema import MARGINS, MIGRATIONS, ROLLUP, render
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.services import stats
from burncloud.services.margins import Margin
from burncloud.services.rollup import MINUTES_KEPT, minutes_kept_from, prune_minutes
from tests.db.old_schema import migrate_to
from tests.gateway.quota_db import (
    BACKENDS,
    _drop_schema,
    _new_schema,
    database_factory,
    require_postgres,
)
from tests.gateway.test_logwriter import assert_rollup_matches_logs
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


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database, SQLite or PostgreSQL, to build an old schema in."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    await require_postgres()
    url = await _new_schema()
    try:
        yield url
    finally:
        await _drop_schema(url)


async def _at_version_before_margins(url: str) -> Database:
    """A database at the schema before MARGINS, with alice in 'default' and bob in 'vip'."""
    db = await open_database(url, migrate=False)
    await migrate_to(db, MIGRATIONS.index(MARGINS))
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO user_groups (name, ratio, updated_at) VALUES ('vip', '1', 0)")
        await tx.execute_many(
            "INSERT INTO users (id, name, group_name, invite_code, created_at)"
            " VALUES (:id, :name, :group, :name, 0)",
            [
                {"id": 1, "name": "alice", "group": "default"},
                {"id": 2, "name": "bob", "group": "vip"},
            ],
        )
    return db


async def _log_and_roll_up(
    db: Database, rows: list[tuple[int, int | None, int, int | None]]
) -> None:
    """Log rows (time, user, cost, upstream cost) as that schema's router did, and its rollup
    as migration 4's backfill adds them up (what its log writer would have written)."""
    await db.execute_many(
        "INSERT INTO logs (created_at, request_id, user_id, token_id, channel_id, model,"
        " prompt_tokens, completion_tokens, cost, latency_ms, status, upstream_cost)"
        " VALUES (:at, 'old', :user, :user, :user, 'gpt-4', 10, 5, :cost, 9, 200, :upstream)",
        [
            {"at": at, "user": user, "cost": cost, "upstream": upstream}
            for at, user, cost, upstream in rows
        ],
    )
    async with db.transaction() as tx:
        for statement in ROLLUP:
            if statement.lstrip().startswith("INSERT"):
                await tx.execute(render(statement, db.dialect))


async def test_the_margin_migration_rolls_up_logged_upstream_costs_and_groups(
    empty_url: str,
) -> None:
    """Rows logged with and without an upstream cost: after the migration the rollup holds
    exactly the logs' margins, and a 'group' dimension by each user's group."""
    db = await _at_version_before_margins(empty_url)
    try:
        await _log_and_roll_up(
            db,
            [
                (NOW - 7200, 1, 10 * M, 3 * M),
                (NOW - 7190, 1, 5 * M, None),
                (NOW - 100, 2, 8 * M, 0),  # a known cost of $0
                (NOW - 90, 2, 2 * M, None),
                (NOW - 80, None, 0, None),
                (NOW - 70, 1, 4 * M, M),
            ],
        )
        assert await migrate(db) == len(MIGRATIONS) - MIGRATIONS.index(MARGINS)  # MARGINS on
        await assert_rollup_matches_logs(db)
        groups = await stats.breakdown(db, NOW - 3 * 3600, "group")
        assert [(g.label, g.margin) for g in groups] == [
            ("default", Margin(19 * M, 3, 4 * M, 1, 5 * M)),
            ("vip", Margin(10 * M, 2, 0, 1, 2 * M)),
            ("(none)", Margin(0, 1, 0, 1, 0)),
        ]
        totals = await stats.window_totals(db, NOW - 3 * 3600)
        assert totals.margin == Margin(29 * M, 6, 4 * M, 3, 7 * M)
        assert totals.margin.margin == 18 * M  # 29 - 7 - 4
    finally:
        await db.close()


async def test_the_margin_migration_adds_no_group_rows_to_pruned_minutes(empty_url: str) -> None:
    db = await _at_version_before_margins(empty_url)
    try:
        recent = NOW - 600
        await _log_and_roll_up(db, [(OLD, 1, 2 * M, None), (recent, 2, 3 * M, M)])
        await prune_minutes(db, NOW)  # OLD's minute goes, its hour stays
        assert await migrate(db) == len(MIGRATIONS) - MIGRATIONS.index(MARGINS)  # MARGINS on
        minutes = await db.fetch_all("SELECT minute, key FROM log_minutes WHERE dim = 'group'")
        assert [(row["minute"], row["key"]) for row in minutes] == [(recent - recent % 60, "vip")]
        hours = await db.fetch_all(
            "SELECT hour, key, upstream_cost, upstream_unknown FROM log_hours"
            " WHERE dim = 'group' ORDER BY hour"
        )
        assert [tuple(row.values()) for row in hours] == [
            (OLD - OLD % 3600, "default", 0, 1),
            (recent - recent % 3600, "vip", M, 0),
        ]
    finally:
        await db.close()
