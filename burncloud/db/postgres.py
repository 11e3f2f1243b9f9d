"""PostgreSQL through an asyncpg pool: each statement or transaction borrows a connection.

A PostgreSQL URL may carry server settings as query parameters, which asyncpg applies to
every pooled connection (``postgresql://host/db?search_path=tenant`` selects a schema).
Without ``create`` every transaction is read-only. Engine errors that mean the storage
cannot serve leave as ``StorageUnavailable`` (``burncloud.db.failures``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from burncloud.db.base import Params, Row, bind, to_positional
from burncloud.db.failures import storage_errors
from burncloud.db.url import DatabaseUrl
from burncloud.errors import ConfigError, ServiceUnavailable


class _PostgresExecutor:
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        query, args = bind(sql, params)
        return [dict(r) for r in await self._conn.fetch(query, *args)]

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        query, args = bind(sql, params)
        row = await self._conn.fetchrow(query, *args)
        return dict(row) if row is not None else None

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        query, args = bind(sql, params)
        return await self._conn.fetchval(query, *args)

    async def execute(self, sql: str, params: Params = None) -> int:
        query, args = bind(sql, params)
        status = await self._conn.execute(query, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            query, names = to_positional(sql)
            await self._conn.executemany(query, [[row[name] for name in names] for row in rows])


class PostgresDatabase:
    """An asyncpg pool; each statement or transaction borrows one connection."""

    dialect = "postgresql"

    def __init__(self, url: DatabaseUrl, pool: Any) -> None:
        self.url = url
        self._pool = pool

    @classmethod
    async def connect(
        cls, url: DatabaseUrl, *, max_size: int = 10, create: bool = True
    ) -> PostgresDatabase:
        """A pool on ``url``; without ``create``, every transaction is read-only."""
        try:
            import asyncpg
        except ImportError:
            raise ConfigError(
                "PostgreSQL needs the postgres extra: pip install 'burncloud[postgres]'"
            ) from None
        read_only = None if create else {"default_transaction_read_only": "on"}
        try:
            pool = await asyncpg.create_pool(
                url.target, min_size=1, max_size=max_size, server_settings=read_only
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise ServiceUnavailable(f"cannot connect to {url.display()}: {exc}") from None
        return cls(url, pool)

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        with storage_errors():
            async with self._pool.acquire() as conn:
                return await _PostgresExecutor(conn).fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        with storage_errors():
            async with self._pool.acquire() as conn:
                return await _PostgresExecutor(conn).fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Params = None) -> Any:
        with storage_errors():
            async with self._pool.acquire() as conn:
                return await _PostgresExecutor(conn).fetch_value(sql, params)

    async def execute(self, sql: str, params: Params = None) -> int:
        with storage_errors():
            async with self._pool.acquire() as conn:
                return await _PostgresExecutor(conn).execute(sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run ``sql`` once per row; asyncpg runs the whole batch atomically."""
        with storage_errors():
            async with self._pool.acquire() as conn:
                await _PostgresExecutor(conn).execute_many(sql, rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresExecutor]:
        with storage_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PostgresExecutor(conn)

    async def close(self) -> None:
        await self._pool.close()
