"""Opening a database: SQLite (default) or PostgreSQL, created and migrated by writers only.

``open_database(url, create=False)`` opens it read-only and refuses a database that does
not exist or lacks the current schema, so a reader never creates or migrates anything.
"""

from __future__ import annotations

from burncloud.db import migrations
from burncloud.db.base import Database
from burncloud.db.postgres import PostgresDatabase
from burncloud.db.sqlite import SqliteDatabase
from burncloud.db.url import DatabaseUrl, parse_database_url


async def open_database(
    url: str | DatabaseUrl, *, create: bool = True, migrate: bool = True
) -> Database:
    """Open the database at ``url``, creating it and (unless told not to) bringing its
    schema up to date; with ``create=False``, open it read-only and refuse one that does not
    exist or is not at the current schema (ConfigError saying how to create or migrate it)."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    db: Database
    if parsed.dialect == "sqlite":
        db = await SqliteDatabase.connect(parsed, create=create)
    else:
        db = await PostgresDatabase.connect(parsed, create=create)
    try:
        if not create:
            await migrations.require_current(db)
        elif migrate:
            await migrations.migrate(db)
    except BaseException:
        await db.close()
        raise
    return db
