"""Building a fresh One API / New API database on SQLite, MariaDB or PostgreSQL.

The tables are created with the DDL GORM's AutoMigrate writes (``schema.py``) and filled
with ``peer_rows``: what a real installation of the peer holds, byte for byte where it
matters (keys, quotas, JSON options, comma-separated models and groups).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite

from tests.peers.facts import PeerFacts, peer_facts
from tests.peers.rows import Row, peer_rows
from tests.peers.schema import ENGINES, Col, Engine, Table, create_table, quote
from tests.peers.servers import POSTGRES_URL, mysql_args, server_url
from tests.peers.tables import TABLES

SQLITE_NAME = "one-api.db"  # both peers' default SQLite file name
Batch = tuple[Table, list[Row]]


async def build_peer_database(
    flavor: str, engine: str, target: Path | str, facts: PeerFacts | None = None
) -> str:
    """Create a peer database and return its DSN. ``target`` is a directory for SQLite (the
    file ``one-api.db`` is made in it) and the new database's name for MySQL/PostgreSQL.
    ``facts`` (default ``peer_facts(flavor)``) are the rows written."""
    facts = facts if facts is not None else peer_facts(flavor)
    if facts.flavor != flavor:
        raise ValueError(f"facts are for {facts.flavor!r}, not {flavor!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    rows = peer_rows(facts)
    batches = [(table, rows[table.name]) for table in TABLES[flavor]]
    if engine == "sqlite":
        return await _build_sqlite(Path(target), batches)
    if engine == "mysql":
        return await asyncio.to_thread(_build_mysql, str(target), batches)
    return await _build_postgres(str(target), batches)


async def drop_peer_database(engine: str, dsn: str) -> None:
    """Remove a database ``build_peer_database`` made."""
    if engine == "sqlite":
        await asyncio.to_thread(Path(dsn).unlink, missing_ok=True)
    elif engine == "mysql":
        await asyncio.to_thread(_drop_mysql, _database_of(dsn))
    else:
        await _drop_postgres(_database_of(dsn))


def insert_sql(table: Table, engine: Engine) -> str:
    """An INSERT of every column of ``table`` in the engine's parameter style."""
    names = [c.name for c in table.columns]
    marks = {"sqlite": ["?"] * len(names), "mysql": ["%s"] * len(names)}.get(
        engine, [f"${i}" for i in range(1, len(names) + 1)]
    )
    columns = ", ".join(quote(n, engine) for n in names)
    return f"INSERT INTO {quote(table.name, engine)} ({columns}) VALUES ({', '.join(marks)})"


def row_values(table: Table, row: Row, engine: Engine) -> tuple[Any, ...]:
    """A row's values in column order, as the engine's driver takes them."""
    expected = {c.name for c in table.columns}
    if set(row) != expected:
        raise KeyError(
            f"{table.name}: rows and struct differ: missing {sorted(expected - set(row))},"
            f" extra {sorted(set(row) - expected)}"
        )
    return tuple(_encode(row[c.name], c, engine) for c in table.columns)


def _encode(value: Any, col: Col, engine: Engine) -> Any:
    if value is None:
        return None
    if engine == "postgresql" and col.kind == "float" and col.type is None:
        return Decimal(str(value))  # GORM's `decimal`
    if engine == "sqlite" and isinstance(value, datetime):
        return value.isoformat(sep=" ")  # GORM's text form of a time on SQLite
    return value


async def _build_sqlite(directory: Path, batches: list[Batch]) -> str:
    path = directory / SQLITE_NAME
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    async with aiosqlite.connect(path) as conn:
        for table, rows in batches:
            for statement in create_table(table, "sqlite"):
                await conn.execute(statement)
            await conn.executemany(
                insert_sql(table, "sqlite"), [row_values(table, r, "sqlite") for r in rows]
            )
        await conn.commit()
    return str(path)


def _build_mysql(database: str, batches: list[Batch]) -> str:
    import pymysql  # type: ignore[import-untyped]

    conn = pymysql.connect(**(mysql_args() | {"database": None}))
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cursor.execute(f"USE `{database}`")
            for table, rows in batches:
                for statement in create_table(table, "mysql"):
                    cursor.execute(statement)
                cursor.executemany(
                    insert_sql(table, "mysql"), [row_values(table, r, "mysql") for r in rows]
                )
        conn.commit()
    finally:
        conn.close()
    return server_url("mysql", database)


async def _build_postgres(database: str, batches: list[Batch]) -> str:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    url = server_url("postgresql", database)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for table, rows in batches:
                for statement in create_table(table, "postgresql"):
                    await conn.execute(statement)
                await conn.executemany(
                    insert_sql(table, "postgresql"),
                    [row_values(table, r, "postgresql") for r in rows],
                )
    finally:
        await conn.close()
    return url


def _database_of(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def _drop_mysql(database: str) -> None:
    import pymysql  # type: ignore[import-untyped]

    conn = pymysql.connect(**(mysql_args() | {"database": None}))
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        conn.close()


async def _drop_postgres(database: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
