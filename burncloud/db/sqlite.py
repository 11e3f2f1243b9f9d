"""SQLite through aiosqlite: one connection per process, WAL, and writers taking turns.

SQLite runs in WAL mode with a busy timeout and takes its write lock up front (``BEGIN
IMMEDIATE``), so several processes can share one file without ``database is locked``
surprises. Without ``create`` the file is opened read-only (a ``mode=ro`` URI, never
creating it). A new file is made mode 0600 before SQLite opens it; SQLite gives its -wal,
-shm and -journal files the main file's mode. Engine errors that mean the storage cannot
serve leave as ``StorageUnavailable`` (``burncloud.db.failures``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from burncloud.db.base import HOW_TO_CREATE, Params, Row, bind, to_positional
from burncloud.db.failures import READ_ONLY, storage_errors, storage_failure
from burncloud.db.url import DatabaseUrl
from burncloud.errors import ConfigError, DatabaseMissing, StorageUnavailable

SQLITE_BUSY_TIMEOUT_MS = 15_000


class _SqliteExecutor:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        rows = await self._conn.execute_fetchall(*bind(sql, params, "?"))
        return [dict(row) for row in rows]

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        rows = await self._conn.execute_fetchall(*bind(sql, params, "?"))
        first = next(iter(rows), None)  # typed as an Iterable, though aiosqlite returns a list
        return None if first is None else dict(first)

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    async def execute(self, sql: str, params: Params = None) -> int:
        async with self._conn.execute(*bind(sql, params, "?")) as cursor:
            return cursor.rowcount

    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            query, names = to_positional(sql, "?")
            await self._conn.executemany(query, [[row[name] for name in names] for row in rows])


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch to WAL. The switch needs the file to itself and SQLite answers "database is
    locked" at once, without its busy timeout, while another connection opens it: retry."""
    deadline = asyncio.get_running_loop().time() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            reason = storage_failure(exc)
            if "locked" not in str(exc) and reason is not None:  # read-only, full, ...
                raise StorageUnavailable(reason) from exc
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise ConfigError(f"cannot switch the SQLite database to WAL: {exc}") from None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


class WriterTurns:
    """Write transactions on one SQLite file take turns through an ``flock`` on a file
    beside it (``<db>-writers``), across connections and processes.

    Why: a writer that finds the write lock taken waits in SQLite's busy handler, which
    sleeps in growing steps of up to 100 ms, and can lose the lock to other processes'
    writers again and again: with two router workers under load, a lease top-up waited 4.5
    s while each flush took milliseconds (and the requests behind it waited too). A blocked
    ``flock`` wakes as soon as the lock is free, so a writer waits about as long as the
    writers before it take. ``flock`` locks belong to an open file, so every connection
    opens its own; they never touch SQLite's own (POSIX) locks on the database file.
    """

    def __init__(self, db_path: str) -> None:
        self._fd = os.open(f"{db_path}-writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    async def take(self) -> None:
        """Take this connection's turn: at once when it is free, else by waiting in a
        thread (flock blocks). Cancelled while waiting, it still takes the turn in its
        thread, then gives it back."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        taking = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self._fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:
            with contextlib.suppress(OSError):
                await taking
                self.give()
            raise

    def give(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class SqliteDatabase:
    """One aiosqlite connection per process; statements and transactions take turns."""

    dialect = "sqlite"

    def __init__(self, url: DatabaseUrl, conn: aiosqlite.Connection, *, writes: bool) -> None:
        self.url = url
        self._conn = conn
        self._inner = _SqliteExecutor(conn)
        self._lock = asyncio.Lock()
        self._turns = WriterTurns(str(url.sqlite_path)) if writes else None

    @classmethod
    async def connect(cls, url: DatabaseUrl, *, create: bool = True) -> SqliteDatabase:
        """Open (with ``create``, first making) the file; without it, read-only."""
        path = url.sqlite_path
        if create:
            _create_private_file(path)
        elif not path.is_file():
            raise DatabaseMissing(f"no database at {url.display()}: {HOW_TO_CREATE}")
        try:
            conn = await aiosqlite.connect(
                str(path) if create else f"file:{quote(str(path.resolve()))}?mode=ro",
                uri=not create,
                isolation_level=None,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open SQLite database {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if create:
                # Takes effect in a new file only (before its first table): pages that log
                # retention frees can then go back to the file system a chunk at a time.
                await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                await _enable_wal(conn)
                await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            with storage_errors():
                return cls(url, conn, writes=create)
        except BaseException:
            await conn.close()  # never leave its thread behind
            raise

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        async with self._lock:
            with storage_errors():
                return await self._inner.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        async with self._lock:
            with storage_errors():
                return await self._inner.fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        async with self._lock:
            with storage_errors():
                return await self._inner.fetch_value(sql, params)

    async def execute(self, sql: str, params: Params = None) -> int:
        async with self._lock:
            with storage_errors():
                return await self._inner.execute(sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run ``sql`` once per row; outside a transaction, the rows commit together."""
        async with self.transaction() as tx:
            await tx.execute_many(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteExecutor]:
        """A write transaction holding SQLite's write lock from its first statement (on a
        read-only connection, a read transaction: one consistent snapshot)."""
        async with self._lock:
            with storage_errors():
                if self._turns is None:
                    async with self._read_transaction():
                        yield self._inner
                    return
                await self._turns.take()
                try:
                    await self._begin()
                    try:
                        yield self._inner
                    except BaseException:
                        await self._rollback()
                        raise
                    await self._commit()
                finally:
                    self._turns.give()

    async def reclaim_free_pages(self, pages: int) -> None:
        """Give up to ``pages`` free pages back to the file system (in a database made with
        ``auto_vacuum = INCREMENTAL``), holding the write turn as a transaction does. As a
        script: the sqlite3 module steps a statement that returns no columns once, and one
        step of ``incremental_vacuum`` frees one page."""
        if self._turns is None:
            raise ValueError("a read-only connection cannot reclaim pages")
        async with self._lock:
            with storage_errors():
                await self._turns.take()
                try:
                    await self._conn.executescript(f"PRAGMA incremental_vacuum({int(pages)})")
                finally:
                    self._turns.give()

    @asynccontextmanager
    async def _read_transaction(self) -> AsyncIterator[None]:
        await self._conn.execute("BEGIN")
        try:
            yield
        finally:
            await self._rollback()

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE, safe against cancellation: aiosqlite runs the statement on its
        thread even when the awaiting task is cancelled, so a cancelled BEGIN would leave
        the connection inside a transaction, holding the write lock, for good. It is
        awaited to the end and rolled back before the cancellation goes on."""
        begin = asyncio.ensure_future(self._conn.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            try:
                await begin
            except sqlite3.Error:
                raise asyncio.CancelledError from None  # it never began: nothing to undo
            await self._conn.execute("ROLLBACK")
            raise

    async def _rollback(self) -> None:
        """ROLLBACK, unless SQLite already rolled the transaction back itself (it does on
        a full disk, and a ROLLBACK then would hide that error behind its own)."""
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    async def _commit(self) -> None:
        """COMMIT; one that fails (a full disk, say) can leave SQLite inside the
        transaction, holding the write lock for good, so it is rolled back."""
        try:
            await self._conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                await self._conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        await self._conn.close()
        if self._turns is not None:
            self._turns.close()


def _create_private_file(path: Path) -> None:
    """Create the database file, mode 0600, unless it exists; a missing folder is an error."""
    if path.parent and not path.parent.exists():
        raise ConfigError(f"directory for the database does not exist: {path.parent}")
    with storage_errors():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            if not os.access(path, os.W_OK):  # a mode, or a read-only filesystem (EROFS)
                raise StorageUnavailable(READ_ONLY) from None
