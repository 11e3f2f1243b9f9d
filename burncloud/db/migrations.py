"""Apply the schema's versioned migrations once, safely from several processes at a time."""

from __future__ import annotations

import time

from burncloud.db.connection import Database, Executor
from burncloud.db.schema import MIGRATIONS, render

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
)
"""


async def migrate(db: Database) -> int:
    """Bring the schema to the newest version; return how many migrations ran."""
    await db.execute(_LEDGER)
    if await current_version(db) >= len(MIGRATIONS):
        return 0
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock(7291504)")
        done = await current_version(tx)
        for version in range(done + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1]:
                await tx.execute(render(statement, db.dialect))
            await tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (:v, :t)",
                {"v": version, "t": int(time.time())},
            )
        return len(MIGRATIONS) - done


async def current_version(db: Executor) -> int:
    """The newest applied schema version (0 for an empty database)."""
    value = await db.fetch_value("SELECT MAX(version) FROM schema_migrations")
    return int(value or 0)
