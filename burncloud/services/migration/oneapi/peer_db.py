"""Reading a One API / New API database, read-only, on SQLite, MySQL/MariaDB or PostgreSQL.

The importers ask plain SQL of the peer's own tables and get plain Python back (int, str,
float, None: booleans as 0/1, bytes decoded as UTF-8, integral decimals as int, times as ISO
text), the same on every engine. Nothing is ever written: SQLite is opened with a
``mode=ro`` URI, PostgreSQL reads in one read-only repeatable-read transaction (one snapshot
for the whole import), MySQL in a ``READ ONLY`` session and transaction. PyMySQL is
synchronous, so its calls run in a worker thread, one at a time.

Each driver is imported when a DSN asks for it; a missing one says which extra installs it.
"""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, ClassVar, Self

import aiosqlite

from burncloud.errors import InvalidRequest
from burncloud.services.migration.oneapi.peer_dsn import PeerDsn, parse_peer_dsn

Row = dict[str, Any]
CONNECT_TIMEOUT_S = 5
_DRIVERS = {"postgresql": ("asyncpg", "postgres"), "mysql": ("pymysql", "mysql")}


def open_peer(dsn: str) -> PeerDatabase:
    """A peer database for ``dsn`` (not yet connected: use ``async with``). A malformed DSN,
    a missing SQLite file or a missing driver is an InvalidRequest naming the masked DSN."""
    parsed = parse_peer_dsn(dsn)
    if parsed.engine == "sqlite":
        _check_sqlite_file(parsed)
        return SqlitePeer(parsed)
    driver = _import_driver(parsed)
    if parsed.engine == "mysql":
        return MysqlPeer(parsed, driver)
    return PostgresPeer(parsed, driver)


class PeerDatabase(ABC):
    """One read-only connection to a peer's database, open inside ``async with``."""

    engine: ClassVar[str]

    def __init__(self, dsn: PeerDsn) -> None:
        self.dsn = dsn

    @property
    def display(self) -> str:
        """The DSN with its password masked."""
        return self.dsn.display

    async def __aenter__(self) -> Self:
        refused: tuple[type[Exception], ...] = (OSError, TimeoutError, ValueError, *self._errors())
        try:
            await self._connect()
        except refused as exc:
            await self._close()
            raise self._failure("cannot connect", exc) from exc
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def fetch_all(self, sql: str) -> list[Row]:
        """Every row of ``sql`` as a dict of plain values."""
        return await self._run(sql, None)

    async def table_columns(self, table: str) -> set[str]:
        """The column names of ``table`` (empty when there is no such table), so importers
        can read older and newer peer schemas alike."""
        rows = await self._run(self._columns_sql(), (table,))
        return {str(next(iter(row.values()))) for row in rows}

    async def has_table(self, table: str) -> bool:
        """Whether ``table`` exists."""
        return bool(await self._run(self._table_sql(), (table,)))

    async def iter_rows(
        self, sql_select_from: str, order_column: str, batch: int
    ) -> AsyncIterator[list[Row]]:
        """The rows of ``sql_select_from`` in pages of at most ``batch``, ordered by
        ``order_column`` (a unique, non-null column of the select, e.g. ``id``) and paged by
        its last value (keyset pagination: no OFFSET scans over a large log table)."""
        if batch < 1:
            raise InvalidRequest(f"batch must be a whole number >= 1, got {batch}")
        column = self.quote(order_column)
        inner = self._literal_percent(sql_select_from.strip().rstrip(";"))
        first = f"SELECT * FROM ({inner}) AS peer_page ORDER BY {column} LIMIT {batch}"
        after = (
            f"SELECT * FROM ({inner}) AS peer_page WHERE {column} > {self._param(1)}"
            f" ORDER BY {column} LIMIT {batch}"
        )
        rows = await self._run(first, ())
        while rows:
            last = self._last_key(rows, order_column)
            yield rows
            if len(rows) < batch:
                return
            rows = await self._run(after, (last,))

    def quote(self, name: str) -> str:
        """``name`` as a quoted identifier (``group`` and ``key`` are reserved words)."""
        return '"' + name.replace('"', '""') + '"'

    async def _run(self, sql: str, args: Sequence[Any] | None) -> list[Row]:
        try:
            rows = await self._query(sql, args)
        except self._errors() as exc:
            raise self._failure("query failed", exc) from exc
        return [{str(key): plain(value) for key, value in row.items()} for row in rows]

    def _failure(self, what: str, exc: BaseException) -> InvalidRequest:
        reason = self.dsn.masked(str(exc) or type(exc).__name__)
        return InvalidRequest(f"peer database {self.display!r}: {what}: {reason}")

    def _last_key(self, rows: list[Row], order_column: str) -> Any:
        if order_column not in rows[-1]:
            raise InvalidRequest(
                f"peer database {self.display!r}: order column {order_column!r} is not in the"
                " select"
            )
        return rows[-1][order_column]

    def _literal_percent(self, sql: str) -> str:
        return sql

    def _param(self, position: int) -> str:
        return "?"

    @abstractmethod
    def _errors(self) -> tuple[type[Exception], ...]:
        """The driver's exception classes, translated once here."""

    @abstractmethod
    def _columns_sql(self) -> str:
        """A query of one parameter (the table) giving its column names."""

    @abstractmethod
    def _table_sql(self) -> str:
        """A query of one parameter (the table) giving a row when it exists."""

    @abstractmethod
    async def _connect(self) -> None:
        """Open the read-only connection."""

    @abstractmethod
    async def _query(self, sql: str, args: Sequence[Any] | None) -> list[dict[Any, Any]]:
        """The driver's rows; ``args`` None sends ``sql`` as it is."""

    @abstractmethod
    async def _close(self) -> None:
        """Close the connection, if open; never writes."""


class SqlitePeer(PeerDatabase):
    """A SQLite file opened read-only (``mode=ro``): it is never created or written."""

    engine = "sqlite"

    def __init__(self, dsn: PeerDsn) -> None:
        super().__init__(dsn)
        self._uri = Path(dsn.path).expanduser().resolve().as_uri() + "?mode=ro"
        self._conn: aiosqlite.Connection | None = None

    def _errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    async def _connect(self) -> None:
        self._conn = await aiosqlite.connect(self._uri, uri=True)
        self._conn.row_factory = sqlite3.Row
        try:  # a file that is not a database fails on the first read, not on open
            await self._query("SELECT count(*) FROM sqlite_master", None)
        except sqlite3.Error:
            await self._close()
            raise

    async def _query(self, sql: str, args: Sequence[Any] | None) -> list[dict[Any, Any]]:
        assert self._conn is not None, "use the peer database inside `async with`"
        async with self._conn.execute(sql, tuple(args or ())) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    def _columns_sql(self) -> str:
        return "SELECT name FROM pragma_table_info(?)"

    def _table_sql(self) -> str:
        return "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"

    async def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class PostgresPeer(PeerDatabase):
    """asyncpg in one read-only repeatable-read transaction; each statement in a savepoint,
    so a failed probe of an older schema does not abort the rest of the import."""

    engine = "postgresql"

    def __init__(self, dsn: PeerDsn, driver: ModuleType) -> None:
        super().__init__(dsn)
        self._driver = driver
        self._conn: Any = None
        self._tx: Any = None

    def _errors(self) -> tuple[type[Exception], ...]:
        return (self._driver.PostgresError, self._driver.InterfaceError)

    def _param(self, position: int) -> str:
        return f"${position}"

    async def _connect(self) -> None:
        self._conn = await self._driver.connect(self.dsn.url, timeout=CONNECT_TIMEOUT_S)
        tx = self._conn.transaction(isolation="repeatable_read", readonly=True)
        await tx.start()
        self._tx = tx

    async def _query(self, sql: str, args: Sequence[Any] | None) -> list[dict[Any, Any]]:
        assert self._conn is not None, "use the peer database inside `async with`"
        async with self._conn.transaction():
            return [dict(row) for row in await self._conn.fetch(sql, *(args or ()))]

    def _columns_sql(self) -> str:
        return (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1"
        )

    def _table_sql(self) -> str:
        return (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = $1"
        )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        tx, self._tx = self._tx, None
        try:
            if tx is not None:
                await tx.rollback()
        finally:
            await conn.close()


class MysqlPeer(PeerDatabase):
    """PyMySQL in a worker thread, in a ``READ ONLY`` session; one call at a time."""

    engine = "mysql"

    def __init__(self, dsn: PeerDsn, driver: ModuleType) -> None:
        super().__init__(dsn)
        self._driver = driver
        self._conn: Any = None
        self._lock = asyncio.Lock()

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def _errors(self) -> tuple[type[Exception], ...]:
        return (self._driver.err.MySQLError,)

    def _param(self, position: int) -> str:
        return "%s"

    def _literal_percent(self, sql: str) -> str:
        return sql.replace("%", "%%")  # PyMySQL formats a statement that has arguments

    async def _connect(self) -> None:
        self._conn = await asyncio.to_thread(self._open_session)

    def _open_session(self) -> Any:
        d = self.dsn
        conn = self._driver.connect(
            host=d.host,
            port=d.port,
            user=d.user,
            password=d.password,
            database=d.database,
            unix_socket=d.unix_socket or None,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT_S,
            cursorclass=self._driver.cursors.DictCursor,
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                cursor.execute("START TRANSACTION READ ONLY")
        except Exception:
            conn.close()
            raise
        return conn

    async def _query(self, sql: str, args: Sequence[Any] | None) -> list[dict[Any, Any]]:
        assert self._conn is not None, "use the peer database inside `async with`"
        async with self._lock:
            return await asyncio.to_thread(self._fetch, sql, args)

    def _fetch(self, sql: str, args: Sequence[Any] | None) -> list[dict[Any, Any]]:
        with self._conn.cursor() as cursor:
            cursor.execute(sql, None if args is None else tuple(args))
            return list(cursor.fetchall())

    def _columns_sql(self) -> str:
        return (
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
        )

    def _table_sql(self) -> str:
        return (
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s"
        )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                await asyncio.to_thread(_rollback_and_close, conn)


def plain(value: Any) -> Any:
    """A driver value as plain Python: the same for a column on every engine."""
    if value is None or isinstance(value, str | float):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return _text(bytes(value))
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value()
        return int(value) if whole else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # every byte kept; a key in it will not match anyway


def _rollback_and_close(conn: Any) -> None:
    try:
        conn.rollback()
    finally:
        conn.close()


def _check_sqlite_file(dsn: PeerDsn) -> None:
    path = Path(dsn.path).expanduser()
    if not path.exists():
        raise InvalidRequest(f"peer database {dsn.display!r}: no such SQLite file")
    if not path.is_file():
        raise InvalidRequest(f"peer database {dsn.display!r}: is not a file")


def _import_driver(dsn: PeerDsn) -> ModuleType:
    module, extra = _DRIVERS[dsn.engine]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InvalidRequest(
            f"peer database {dsn.display!r}: reading {dsn.engine} needs the {module} driver:"
            f" pip install 'burncloud[{extra}]'"
        ) from exc
