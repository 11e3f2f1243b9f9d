"""An empty database and a schema built to an older migration version in it, for the tests
of what a later migration does to an existing database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.db.schema import MIGRATIONS, render
from tests.gateway.quota_db import BACKENDS, _drop_schema, _new_schema, require_postgres


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database, SQLite or PostgreSQL, to build an old schema in."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    await require_postgres()
    url = await _new_schema()
    try:
        yield url
    finally:
        await _drop_schema(url)


async def migrate_to(db: Database, version: int) -> None:
    """Apply the migrations up to ``version`` and record them, as a release of then did."""
    await db.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
    )
    async with db.transaction() as tx:
        for number in range(1, version + 1):
            for statement in MIGRATIONS[number - 1]:
                sql = render(statement, db.dialect)
                if sql is not None:
                    await tx.execute(sql)
            await tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (:v, 0)", {"v": number}
            )
