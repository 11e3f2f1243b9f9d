"""Engine errors that mean the storage cannot serve leave the database layer as one
``StorageUnavailable`` with a fixed reason; every other engine error passes unchanged."""

from __future__ import annotations

import sqlite3

import pytest

from burncloud.db import open_database
from burncloud.errors import StorageUnavailable
from tests.gateway.quota_db import BACKENDS, database_factory


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_write_in_a_read_only_session_is_storage_unavailable(backend, tmp_path) -> None:
    async with database_factory(backend, tmp_path) as connect:
        db = await connect()
        if backend == "sqlite":
            await db.execute("PRAGMA query_only = 1")
            writer = db
        else:
            writer = await open_database(db.url, create=False)  # read-only transactions
        try:
            with pytest.raises(StorageUnavailable, match=r"^the database is read-only$"):
                async with writer.transaction() as tx:
                    await tx.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
        finally:
            if writer is not db:
                await writer.close()


async def test_a_full_sqlite_disk_is_storage_unavailable_and_the_connection_goes_on(
    tmp_path,
) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/full.db")
    try:
        await db.execute("PRAGMA max_page_count = 1")  # capped at the pages in use
        with pytest.raises(StorageUnavailable, match="disk is full") as caught:
            await db.execute_many(
                "INSERT INTO settings (key, value) VALUES (:k, :v)",
                [{"k": f"k{n}", "v": "x" * 500} for n in range(200)],
            )
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert await db.fetch_value("SELECT COUNT(*) FROM settings WHERE key LIKE 'k%'") == 0
        await db.execute("PRAGMA max_page_count = 1000000")
        await db.execute("INSERT INTO settings (key, value) VALUES ('after', 'ok')")
    finally:
        await db.close()


async def test_other_engine_errors_pass_through(tmp_path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/a.db")
    try:
        await db.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
    finally:
        await db.close()
