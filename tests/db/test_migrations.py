from __future__ import annotations

import asyncio
import sqlite3

import pytest

from burncloud.db import Database, open_database
from burncloud.db.migrations import current_version, migrate
from burncloud.db.schema import KEY_SCOPES, MIGRATIONS
from burncloud.services.admin_keys import list_admin_keys
from burncloud.services.bootstrap import ensure_admin
from tests.db.old_schema import migrate_to

KEY_SCOPES_VERSION = MIGRATIONS.index(KEY_SCOPES) + 1

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


OLD_USERS = [  # (name, role, status): a disabled admin older than the admin keys finds
    ("retired", "admin", "disabled"),
    ("admin", "admin", "enabled"),
    ("alice", "user", "enabled"),
]
OLD_TOKENS = [  # (owner, name) in id order; what a version-4 database may hold
    ("retired", "admin"),
    ("admin", "ci"),
    ("admin", "admin"),
    ("admin", "admin"),  # a later namesake: admin_keys rotates the first one only
    ("alice", "admin"),
    ("alice", "app"),
]


async def _write_old_tokens(db: Database) -> None:
    async with db.transaction() as tx:
        ids = {}
        for name, role, status in OLD_USERS:
            ids[name] = await tx.fetch_value(
                "INSERT INTO users (name, role, status, invite_code, created_at)"
                " VALUES (:n, :r, :s, :n, 0) RETURNING id",
                {"n": name, "r": role, "s": status},
            )
        for number, (owner, name) in enumerate(OLD_TOKENS):
            await tx.execute(
                "INSERT INTO tokens (name, key_hash, key_hint, user_id, created_at, updated_at)"
                " VALUES (:n, :h, 'sk-...', :u, 0, 0)",
                {"n": name, "h": f"hash-{number}", "u": ids[owner]},
            )


async def test_key_scopes_migration_keeps_only_the_first_run_admin_key_admin(
    empty_url: str,
) -> None:
    """Version 4 to 5: the oldest enabled admin's first token named admin becomes an admin
    key (admin only); every other token, an admin's or not, becomes a relay key."""
    db = await open_database(empty_url, migrate=False)
    try:
        await migrate_to(db, KEY_SCOPES_VERSION - 1)
        await _write_old_tokens(db)
        assert await migrate(db) == len(MIGRATIONS) - KEY_SCOPES_VERSION + 1
        rows = await db.fetch_all("SELECT key_hash, scopes FROM tokens ORDER BY id")
        assert [(row["key_hash"], row["scopes"]) for row in rows] == [
            ("hash-0", "relay"),
            ("hash-1", "relay"),
            ("hash-2", "admin"),
            ("hash-3", "relay"),
            ("hash-4", "relay"),
            ("hash-5", "relay"),
        ]
        admin_keys = [token.key_hint for token in await list_admin_keys(db)]
        assert len(admin_keys) == 1
    finally:
        await db.close()


def _check_violation(db: Database) -> type[Exception]:
    if db.dialect == "sqlite":
        return sqlite3.IntegrityError
    import asyncpg

    return asyncpg.CheckViolationError


async def test_the_scopes_column_refuses_an_unknown_scope(db: Database) -> None:
    await ensure_admin(db)
    with pytest.raises(_check_violation(db)):
        await db.execute("UPDATE tokens SET scopes = 'admin,root'")
    assert await db.fetch_value("SELECT scopes FROM tokens") == "admin"
