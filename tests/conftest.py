"""Shared fixtures: a fresh SQLite database per test and a CLI runner bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from burncloud.db import Database, open_database

Invoke = Callable[..., Result]


@pytest.fixture
def db_url(tmp_path) -> str:
    """A SQLite URL for a database file that does not exist yet."""
    return f"sqlite:///{tmp_path}/burncloud.db"


@pytest.fixture
def cli(db_url: str) -> Invoke:
    """Run `burncloud ARGS...` in-process against the test database."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            app, list(args), env={"DATABASE_URL": db_url, "BURNCLOUD_SECRET": None}, input=input
        )

    return invoke


@pytest.fixture
def cli_json(cli: Invoke) -> Callable[..., object]:
    """Run a command with --json, assert it succeeded, and return the parsed output."""

    def invoke(*args: str) -> object:
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)

    return invoke


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """An open, migrated database for service-level tests."""
    database = await open_database(db_url)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def bootstrapped(cli: Invoke) -> None:
    """Run one command first, so the first-run admin key banner stays out of stderr checks."""
    assert cli("token", "list").exit_code == 0
