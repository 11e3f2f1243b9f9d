"""Log retention: deleting request log rows older than a cutoff, a small batch at a time.

The per-minute and per-hour totals (``rollup``) are kept, so ``stats`` and the dashboard
read the same numbers for any window after a prune; what goes is each request's own row
(``log show``, ``route explain`` and ``bill replay`` no longer find it). Every batch is a
transaction of its own, so a router's log writer waits at most one batch for the write
lock. A batch is any rows past the cutoff, in no order: the ``created_at`` index finds
them, where ordering by id would scan the whole table once none are left. The space freed
is what the database counts: SQLite's pages in use before and after (the freed pages are
reused by new rows, and given back to the file system where the database was made with
``auto_vacuum = INCREMENTAL``); PostgreSQL's stored size of the deleted rows (autovacuum
makes their space reusable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from burncloud.db.base import Database, Executor

PRUNE_BATCH = 2_000
DAY = 86_400


@dataclass(frozen=True, slots=True)
class Pruned:
    rows: int
    bytes_freed: int


async def count_older(db: Executor, before: int) -> int:
    """How many log rows are older than ``before`` (unix seconds)."""
    count = await db.fetch_value("SELECT COUNT(*) FROM logs WHERE created_at < :b", {"b": before})
    return int(count or 0)


async def prune_logs(db: Database, before: int, *, batch: int = PRUNE_BATCH) -> Pruned:
    """Delete the log rows older than ``before``, ``batch`` rows per transaction."""
    used_before = await _used_bytes(db)
    rows = freed = 0
    while True:
        async with db.transaction() as tx:
            deleted, size = await _delete_batch(tx, before, batch)
        rows, freed = rows + deleted, freed + size
        if deleted < batch:
            break
        await asyncio.sleep(0)  # let the router's own work in between batches
    if db.dialect == "sqlite":
        await db.fetch_all("PRAGMA incremental_vacuum")  # stepped to the end: every page
        freed = max(used_before - await _used_bytes(db), 0)
    return Pruned(rows=rows, bytes_freed=freed)


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
