"""A transaction cancelled at any point leaves the SQLite connection usable and unlocked."""

from __future__ import annotations

import asyncio

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
