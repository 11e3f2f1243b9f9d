"""Log retention: deleting request log rows older than a cutoff, a small batch at a time.

The per-minute and per-hour totals (``rollup``) are kept, so ``stats`` and the dashboard
read the same numbers for any window after a prune; what goes is each request's own row
(``log show``, ``route explain`` and ``bill replay`` no longer find it). Every batch is a
transaction of its own, so a router's log writer waits at most one batch for the write
lock. A batch is any rows past the cutoff, in no order: the ``created_at`` index finds
them, where ordering by id would scan the whole table once none are left. Batches are a pause
apart, so a flush waiting for the write lock gets it. The space freed is what the database
counts: SQLite's pages in use before and after (given back to the file system a chunk at a
time in databases made with ``auto_vacuum = INCREMENTAL``, which burncloud sets on new
files; reused by new rows in older ones); PostgreSQL's stored size of the deleted rows
(autovacuum makes their space reusable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from burncloud.db.base import Database, Executor
from burncloud.db.sqlite import SqliteDatabase

PRUNE_BATCH = 2_000
# Between batches a flush waiting for the write turn takes it: with no pause, a prune in
# another process (`log prune`) took the turn straight back and a router's flush waited
# 1.3-1.9 s on a busy machine; with 50 ms, 0.3 s at most (bench/retention.py).
PRUNE_PAUSE = 0.05
VACUUM_PAGES = 2_000  # SQLite pages given back to the file system per turn (8 MiB)
INCREMENTAL = 2  # PRAGMA auto_vacuum's answer for INCREMENTAL
DAY = 86_400


@dataclass(frozen=True, slots=True)
class Pruned:
    rows: int
    bytes_freed: int


async def count_older(db: Executor, before: int) -> int:
    """How many log rows are older than ``before`` (unix seconds)."""
    count = await db.fetch_value("SELECT COUNT(*) FROM logs WHERE created_at < :b", {"b": before})
    return int(count or 0)


async def prune_logs(
    db: Database, before: int, *, batch: int = PRUNE_BATCH, pause: float = PRUNE_PAUSE
) -> Pruned:
    """Delete the log rows older than ``before``, ``batch`` rows per transaction, ``pause``
    seconds apart; on SQLite, then give the freed pages back to the file system."""
    used_before = await _used_bytes(db)
    rows = freed = 0
    while True:
        async with db.transaction() as tx:
            deleted, size = await _delete_batch(tx, before, batch)
        rows, freed = rows + deleted, freed + size
        if deleted < batch:
            break
        await asyncio.sleep(pause)
    if isinstance(db, SqliteDatabase):
        await _reclaim(db, pause)
        freed = max(used_before - await _used_bytes(db), 0)
    return Pruned(rows=rows, bytes_freed=freed)


async def _reclaim(db: SqliteDatabase, pause: float) -> None:
    """Shrink the file by its free pages, ``VACUUM_PAGES`` per turn of the write lock (a
    database made before burncloud set ``auto_vacuum = INCREMENTAL`` keeps its pages for
    new rows instead: ``sqlite3 FILE 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'`` once,
    with the routers stopped, converts it)."""
    if await db.fetch_value("PRAGMA auto_vacuum") != INCREMENTAL:
        return
    while int(await db.fetch_value("PRAGMA freelist_count") or 0) > 0:
        await db.reclaim_free_pages(VACUUM_PAGES)
        await asyncio.sleep(pause)


async def _delete_batch(tx: Executor, before: int, batch: int) -> tuple[int, int]:
    """Delete up to ``batch`` rows older than ``before``: how many, and (PostgreSQL) their
    stored size."""
    gone = "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE created_at < :b LIMIT :n)"
    params = {"b": before, "n": batch}
    if tx.dialect != "postgresql":
        return await tx.execute(gone, params), 0
    row = await tx.fetch_one(
        f"WITH gone AS ({gone} RETURNING pg_column_size(logs.*) AS size)"
        " SELECT COUNT(*) AS n, SUM(size) AS size FROM gone",
        params,
    )
    assert row is not None
    return int(row["n"]), int(row["size"] or 0)


async def _used_bytes(db: Database) -> int:
    """SQLite: the bytes of the pages in use (0 elsewhere: sizes are counted per row)."""
    if db.dialect != "sqlite":
        return 0
    pages = int(await db.fetch_value("PRAGMA page_count") or 0)
    free = int(await db.fetch_value("PRAGMA freelist_count") or 0)
    size = int(await db.fetch_value("PRAGMA page_size") or 0)
    return (pages - free) * size
