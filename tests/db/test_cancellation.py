"""A transaction cancelled at any point leaves the SQLite connection usable and unlocked."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from burncloud.db import open_database


@pytest.mark.parametrize("delay_steps", [0, 1, 2, 3, 5, 8])
async def test_cancelled_transaction_never_leaves_the_write_lock_held(
    tmp_path, delay_steps
) -> None:
    url = f"sqlite:///{tmp_path}/cancel.db"
    db = await open_database(url)
    other = await open_database(url, migrate=False)
    try:

        async def write() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")

        task = asyncio.create_task(write())
        for _ in range(delay_steps):  # cancel at BEGIN, mid-statement, at COMMIT ...
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with db.transaction() as tx:  # this connection is not stuck in a transaction
            await tx.execute("INSERT INTO settings (key, value) VALUES ('b', '2')")
        async with other.transaction() as tx:  # and holds no write lock
            await tx.execute("INSERT INTO settings (key, value) VALUES ('c', '3')")
        keys = {row["key"] for row in await other.fetch_all("SELECT key FROM settings")}
        assert {"b", "c"} <= keys and keys <= {"a", "b", "c"}
    finally:
        await other.close()
        await db.close()


async def test_a_failed_commit_is_rolled_back_and_the_connection_stays_usable(tmp_path) -> None:
    """A deferred foreign key makes COMMIT itself fail, and SQLite then keeps the
    transaction open: it must be rolled back, or every later write would fail."""
    url = f"sqlite:///{tmp_path}/commit.db"
    db = await open_database(url, migrate=False)
    other = await open_database(url, migrate=False)
    try:
        await db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        await db.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")
        async with db.transaction() as tx:  # not stuck inside the failed transaction
            await tx.execute("INSERT INTO parent (id) VALUES (1)")
        async with other.transaction() as tx:  # and the write lock was let go
            await tx.execute("INSERT INTO parent (id) VALUES (2)")
        assert await other.fetch_all("SELECT id FROM child") == []
    finally:
        await other.close()
        await db.close()
