"""Apply the schema's versioned migrations once, safely from several processes at a time;
tell readers whether a database is at the schema they can read."""

from __future__ import annotations

import time

from burncloud.db.base import HOW_TO_CREATE, Database, Executor
from burncloud.db.schema import MIGRATIONS, render
from burncloud.errors import ConfigError, DatabaseMissing

LATEST = len(MIGRATIONS)

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
)
"""


async def migrate(db: Database) -> int:
    """Bring the schema to the newest version; return how many migrations ran (an up to
    date database is not written to)."""
    if await current_version(db) >= LATEST:
        return 0
    await db.execute(_LEDGER)
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock(7291504)")
        done = await current_version(tx)
        for version in range(done + 1, LATEST + 1):
            for statement in MIGRATIONS[version - 1]:
                sql = render(statement, db.dialect)
                if sql is not None:
                    await tx.execute(sql)
            await tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (:v, :t)",
                {"v": version, "t": int(time.time())},
            )
        return LATEST - done


async def current_version(db: Executor) -> int:
    """The newest applied schema version (0 for an empty database)."""
    if not await _has_ledger(db):
        return 0
    value = await db.fetch_value("SELECT MAX(version) FROM schema_migrations")
    return int(value or 0)


async def require_current(db: Database) -> None:
    """Refuse (ConfigError) a database a reader cannot trust: one without the schema, or at
    an older version (its queries may name what a later migration adds)."""
    version = await current_version(db)
    where = db.url.display()
    if version == 0:
        raise DatabaseMissing(f"no burncloud database at {where}: {HOW_TO_CREATE}")
    if version < LATEST:
        raise ConfigError(
            f"the database at {where} is at schema version {version}, this burncloud reads"
            f" version {LATEST}: run `burncloud init` (or any write command) to migrate it"
        )


async def _has_ledger(db: Executor) -> bool:
    """Whether the migration ledger exists, asked without creating anything."""
    if db.dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        return await db.fetch_value(sql) is not None
    return bool(await db.fetch_value("SELECT to_regclass('schema_migrations') IS NOT NULL"))
