from __future__ import annotations

import asyncio
import sqlite3

from burncloud.db import open_database
from burncloud.db.migrations import current_version, migrate
from burncloud.db.schema import MIGRATIONS

TABLES = {
    "users",
    "tokens",
    "channels",
    "abilities",
    "prices",
    "user_groups",
    "redemptions",
    "logs",
    "settings",
    "config_version",
    "schema_migrations",
}


async def test_migrations_create_every_table_from_empty(tmp_path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/a.db")
    try:
        rows = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert {row["name"] for row in rows} >= TABLES
        assert await current_version(db) == len(MIGRATIONS)
    finally:
        await db.close()


async def test_migrations_are_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    db = await open_database(url)
    try:
        assert await migrate(db) == 0
    finally:
        await db.close()
    again = await open_database(url)
    try:
        rows = await again.fetch_all("SELECT version FROM schema_migrations")
        assert [row["version"] for row in rows] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        await again.close()


async def test_concurrent_first_opens_migrate_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    opened = await asyncio.gather(*(open_database(url) for _ in range(4)), return_exceptions=True)
    dbs = [db for db in opened if not isinstance(db, BaseException)]
    try:
        assert len(dbs) == 4, [db for db in opened if isinstance(db, BaseException)]
        count = await dbs[0].fetch_value("SELECT COUNT(*) FROM schema_migrations")
        assert count == len(MIGRATIONS)
    finally:
        for db in dbs:
            await db.close()


async def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/w.db")
    try:
        assert await db.fetch_value("PRAGMA journal_mode") == "wal"
        assert await db.fetch_value("PRAGMA busy_timeout") >= 5000
    finally:
        await db.close()
    # WAL is persistent: a plain sqlite3 connection sees it too.
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
