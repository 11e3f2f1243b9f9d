"""The migration that adds the Responses API's stored state, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest

from burncloud.db import Database, open_database
from burncloud.db.migrations import current_version, migrate
from burncloud.db.schema import MIGRATIONS, RESPONSES
from burncloud.services.users import create_user
from tests.db.old_schema import migrate_to

RESPONSES_VERSION = MIGRATIONS.index(RESPONSES) + 1
INSERT = (
    "INSERT INTO responses (id, user_id, kind, created_at, expires_at, input_items, response)"
    " VALUES (:id, :user, :kind, 0, 1, :items, :response)"
)


def _integrity_error(db: Database) -> tuple[type[Exception], ...]:
    if db.dialect == "sqlite":
        return (sqlite3.IntegrityError,)
    import asyncpg

    return (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError)


async def test_an_older_database_gets_the_responses_table(empty_url: str) -> None:
    db = await open_database(empty_url, migrate=False)
    try:
        await migrate_to(db, RESPONSES_VERSION - 1)
        assert await migrate(db) == len(MIGRATIONS) - RESPONSES_VERSION + 1
        assert await current_version(db) == len(MIGRATIONS)
        async with db.transaction() as tx:
            user = await create_user(tx, name="alice")
        row = {"id": "resp_1", "user": user.id, "kind": "converted", "items": "[]"}
        await db.execute(INSERT, {**row, "response": "{}"})
        assert await db.fetch_value("SELECT kind FROM responses WHERE id = 'resp_1'") == "converted"
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("kind", "items", "response", "user"),
    [
        ("stored", None, None, "alice"),  # no such kind
        ("converted", None, "{}", "alice"),  # a converted row without its items
        ("converted", "[]", None, "alice"),  # ... or without its Response
        ("passthrough", None, None, "nobody"),  # a row of no user
    ],
)
async def test_the_table_refuses_rows_it_could_not_serve(
    db: Database, kind: str, items: str | None, response: str | None, user: str
) -> None:
    async with db.transaction() as tx:
        alice = await create_user(tx, name="alice")
    owner = alice.id if user == "alice" else alice.id + 1000
    params = {"id": "resp_x", "user": owner, "kind": kind, "items": items, "response": response}
    with pytest.raises(_integrity_error(db)):
        await db.execute(INSERT, params)
    assert await db.fetch_value("SELECT COUNT(*) FROM responses") == 0


async def test_expiry_is_indexed(db: Database) -> None:
    if db.dialect == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'responses_expiry'"
    else:
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'responses_expiry'"
    definition = await db.fetch_value(sql)
    assert definition is not None and "expires_at" in definition
