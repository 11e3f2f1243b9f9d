"""Run one CLI command against the database: open, (for a write) migrate and bootstrap,
act, close.

Reading never writes: a command that only reads runs through ``run_read``, which opens the
database read-only and refuses one that does not exist or is not at the current schema,
saying how to create or migrate it. Only ``run`` (the commands that change something,
``burncloud init``) and the router create and migrate. Every user error leaves as one line
on stderr and exit code 1; nothing prints a traceback. Every change a command makes is in
the audit trail as made by ``cli:<os user>@<host>``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import typer

from burncloud.config import Settings
from burncloud.crypto import SecretBox
from burncloud.db import Database, open_database
from burncloud.errors import BurncloudError, DatabaseMissing
from burncloud.services.audit import acting_as, local_actor
from burncloud.services.bootstrap import announce_admin_key, ensure_admin
from burncloud.services.secret_box import open_secret_box
from burncloud.services.settings import read_config_version

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="Database URL (default: $DATABASE_URL or sqlite:burncloud.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(slots=True)
class Session:
    """What a command works with: the settings and the open database."""

    settings: Settings
    db: Database
    _box: SecretBox | None = field(default=None)

    async def secret_box(self) -> SecretBox:
        """The channel-key secret box, verified against this database."""
        if self._box is None:
            self._box = await open_secret_box(self.db, self.settings.secret)
        return self._box


def fail(message: str) -> typer.Exit:
    """Print ``message`` as the one-line error and return the exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code=1)


def run(db_url: str | None, action: Callable[[Session], Awaitable[T]]) -> T:
    """Run a command that writes: create and migrate the database if needed, bootstrap its
    admin, run ``action``; user errors exit 1 with one line."""
    return _main(db_url, action, writes=True)


def run_read(db_url: str | None, action: Callable[[Session], Awaitable[T]]) -> T:
    """Run a command that only reads, on a read-only connection: nothing is created,
    migrated or written; a missing or outdated database exits 1 saying what to run."""
    return _main(db_url, action, writes=False)


def run_planning(db_url: str | None, action: Callable[[Session], Awaitable[T]]) -> T:
    """Run a command that plans changes and makes none (``--dry-run``, ``diff``): on the
    database read-only or, when it has not been created yet, on a new one in a temporary
    directory, thrown away after: the plan is then what the first write would do."""
    try:
        settings = Settings.from_env().with_overrides(database_url=db_url)
        try:
            return run_as_cli(_run_read(settings, action))
        except DatabaseMissing:
            with tempfile.TemporaryDirectory(prefix="burncloud-plan-") as scratch:
                new = settings.with_overrides(database_url=f"sqlite:///{scratch}/new.db")
                return run_as_cli(_run_new(new, action))
    except BurncloudError as exc:
        raise fail(exc.message) from None


def _main(db_url: str | None, action: Callable[[Session], Awaitable[T]], *, writes: bool) -> T:
    try:
        settings = Settings.from_env().with_overrides(database_url=db_url)
        runner = _run if writes else _run_read
        return run_as_cli(runner(settings, action))
    except BurncloudError as exc:
        raise fail(exc.message) from None


def run_as_cli(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine with its changes recorded as this machine's CLI user's."""
    with acting_as(local_actor("cli")):
        return asyncio.run(main)


async def _run_new(settings: Settings, action: Callable[[Session], Awaitable[T]]) -> T:
    """``action`` on a database made as the first write would make it (its admin key is
    not shown: the database is thrown away)."""
    db = await open_database(settings.database_url)
    try:
        await ensure_admin(db)
        return await action(Session(settings=settings, db=db))
    finally:
        await db.close()


async def _run_read(settings: Settings, action: Callable[[Session], Awaitable[T]]) -> T:
    db = await open_database(settings.database_url, create=False)
    try:
        return await action(Session(settings=settings, db=db))
    finally:
        await db.close()


async def _run(settings: Settings, action: Callable[[Session], Awaitable[T]]) -> T:
    db = await open_database(settings.database_url)
    try:
        admin_key = await ensure_admin(db)
        if admin_key is not None:
            announce_admin_key(admin_key)
        if settings.redis_url is None:
            return await action(Session(settings=settings, db=db))
        before = await read_config_version(db)
        result = await action(Session(settings=settings, db=db))
        if await read_config_version(db) != before:
            await _announce(settings.redis_url, settings.redis_prefix)
        return result
    finally:
        await db.close()


async def _announce(url: str, prefix: str) -> None:
    """Tell a fleet's routers to reload now (they would within a second of polling anyway)."""
    from burncloud.gateway.fleet.notices import announce_config_change

    if not await announce_config_change(url, prefix):
        print(
            "note: Redis did not take the change notice; routers reload by polling", file=sys.stderr
        )
