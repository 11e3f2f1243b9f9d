"""Shared fixtures: a fresh SQLite database per test and a CLI runner bound to it.

Every test runs with burncloud's loggers at DEBUG, and fails if any log record holds the
canary prefix that leak tests give channel keys; no test resolves a host name through DNS
when it sets a channel's base URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator

import orjson
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from burncloud.db import Database, open_database
from burncloud.gateway.egress import upstream_guard

Invoke = Callable[..., Result]
ON_POSTGRES = os.environ.get("BURNCLOUD_TEST_ENGINE") == "postgresql"
CANARY_PREFIX = "sk-canary-"  # channel keys of the leak tests start so; no log may hold one


class CanaryCatcher(logging.Handler):
    """Keeps every log record, from any logger, whose text holds ``CANARY_PREFIX``."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.caught: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if CANARY_PREFIX in text:
            self.caught.append(f"{record.name}: {text}")


ENGINES = {"sqlite", "postgresql"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, tests that read the SQLite file itself do not apply, and
    tests parametrised over both engines (whose database does not come from ``db_url``)
    already ran on both in the main pass."""
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="reads the SQLite file; this pass runs on PostgreSQL")
    both = pytest.mark.skip(reason="parametrised over both engines: ran in the main pass")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)
        elif _over_both_engines(item):
            item.add_marker(both)


def _over_both_engines(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "db_url" in getattr(item, "fixturenames", ()):
        return False
    return any(value in ENGINES for value in callspec.params.values() if isinstance(value, str))


@pytest.fixture(scope="session", autouse=True)
def canary_catcher() -> Iterator[CanaryCatcher]:
    """One catcher on the root logger for the session; burncloud's loggers at DEBUG."""
    catcher = CanaryCatcher()
    root, ours = logging.getLogger(), logging.getLogger("burncloud")
    previous = ours.level
    root.addHandler(catcher)
    ours.setLevel(logging.DEBUG)
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)
        ours.setLevel(previous)


@pytest.fixture(autouse=True)
def no_canary_in_logs(canary_catcher: CanaryCatcher) -> Iterator[None]:
    """Fail the test whose run logged a channel key with the canary prefix."""
    canary_catcher.caught.clear()
    yield
    if canary_catcher.caught:
        pytest.fail(f"a log record holds a channel key: {canary_catcher.caught[0][:300]}")


@pytest.fixture(autouse=True)
def no_dns_for_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Base-URL checks see every name as unresolvable, as on a machine without DNS (they
    then pass): tests never query a name server. Guard tests pass their own resolver."""

    async def unresolvable(host: str) -> list[str]:
        raise OSError(f"no DNS in tests: {host}")

    monkeypatch.setattr(upstream_guard, "resolve_host", unresolvable)


@pytest.fixture
def db_url(tmp_path) -> Iterator[str]:
    """A fresh database's URL: a SQLite file that does not exist yet, or, with
    BURNCLOUD_TEST_ENGINE=postgresql, an empty schema of its own on the test server."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path}/burncloud.db"
        return
    from tests.gateway.quota_db import _drop_schema, _new_schema

    url = asyncio.run(_new_schema())
    try:
        yield url
    finally:
        asyncio.run(_drop_schema(url))


@pytest.fixture
def cli(db_url: str) -> Invoke:
    """Run `burncloud ARGS...` in-process against the test database."""
    runner = CliRunner()

    # PostgreSQL keeps no key file beside the database: the operator gives the secret.
    secret = None if db_url.startswith("sqlite") else "test-secret"

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(
            app, list(args), env={"DATABASE_URL": db_url, "BURNCLOUD_SECRET": secret}, input=input
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
    """Create the database first (`burncloud init`), so the first-run admin key banner
    stays out of stderr checks."""
    assert cli("init").exit_code == 0
