"""Reading never writes: every command is classified as a reader or a writer, and a reader
on a database that does not exist (or lacks the schema, or has an older one) exits 1 with
one line saying what to run, creating nothing: no SQLite file, -wal, -shm, -writers or
.key file, no PostgreSQL table."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from burncloud.cli.app import app
from burncloud.cli.session import run_read
from burncloud.db import open_database
from burncloud.db.migrations import LATEST
from tests.cli.checks import fails_with_one_line
from tests.conftest import ON_POSTGRES
from tests.db.old_schema import migrate_to

LITELLM_FILE = Path(__file__).parents[1] / "fixtures/litellm/model_prices_and_context_window.json"
READERS: dict[str, tuple[str, ...]] = {
    "stats": ("stats",),
    "dash": ("dash",),
    "price list": ("price", "list"),
    "price get": ("price", "get", "gpt-4"),
    "channel list": ("channel", "list"),
    "channel show": ("channel", "show", "1"),
    "channel keys list": ("channel", "keys", "list", "1"),
    "channel models": ("channel", "models", "1"),
    "token list": ("token", "list"),
    "token show": ("token", "show", "1"),
    "quota show": ("quota", "show", "1"),
    "user list": ("user", "list"),
    "user show": ("user", "show", "admin"),
    "group list": ("group", "list"),
    "redeem list": ("redeem", "list"),
    "invite show": ("invite", "show", "admin"),
    "invite reward": ("invite", "reward"),  # without --inviter / --invitee: shows them
    "admin-key list": ("admin-key", "list"),
    "route explain": ("route", "explain", "req-1"),
    "route dry-run": ("route", "dry-run", "--model", "gpt-4"),
    "log list": ("log", "list"),
    "log tail": ("log", "tail", "--max-rows", "1"),
    "log show": ("log", "show", "req-1"),
    "price export": ("price", "export"),
    "export": ("export",),
    "bill replay": ("bill", "replay", "--prices", str(LITELLM_FILE), "--format", "litellm"),
    "plan list": ("plan", "list"),
    "plan show": ("plan", "show", "pro"),
    "plan default": ("plan", "default"),  # without a plan: shows it
    "alert list": ("alert", "list"),
    "alert log": ("alert", "log"),
    "audit list": ("audit", "list"),
}
WRITERS = {
    "init",
    "router",
    *(f"price {name}" for name in ("set", "tier", "unit", "delete", "import")),
    *(f"channel {name}" for name in ("add", "test", "update", "enable", "disable", "delete")),
    *(f"channel {name}" for name in ("balance", "probe")),
    *(f"channel keys {name}" for name in ("add", "remove", "enable", "disable", "weight")),
    *(f"token {name}" for name in ("create", "update", "revoke", "delete")),
    *(f"quota {name}" for name in ("add", "set")),
    *(f"user {name}" for name in ("add", "update", "disable", "enable")),
    *(f"group {name}" for name in ("set", "delete")),
    *(f"redeem {name}" for name in ("create", "use")),
    *(f"admin-key {name}" for name in ("create", "revoke", "rotate")),
    "apply",
    "log prune",
    *(f"import {name}" for name in ("oneapi", "newapi", "litellm")),
    *(f"plan {name}" for name in ("create", "update", "delete", "assign")),
    *(f"alert {name}" for name in ("add", "test", "delete")),
}
# Commands that plan and change nothing: on a database not created yet they plan against a
# new one in a temporary directory (services: cli.session.run_planning), creating nothing.
PLANNERS = {"diff"}


def _commands(command: object, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(prefix)
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*prefix, name))


def test_every_command_is_classified_as_a_reader_or_a_writer() -> None:
    """A new command must be added here, deciding whether it reads (run_read) or writes."""
    assert set(_commands(typer.main.get_command(app))) == set(READERS) | WRITERS | PLANNERS


def test_diff_on_a_database_not_created_yet_plans_against_a_new_one(
    cli, db_url: str, tmp_path
) -> None:
    manifest = tmp_path / "burncloud.yaml"
    manifest.write_text("format: burncloud/1\ngroups: {default: '1', vip: '0.8'}\n")
    before = created(db_url, tmp_path)
    result = cli("diff", "-f", str(manifest))
    assert (result.exit_code, result.stdout.splitlines()[0]) == (1, "+ group vip: ratio 0.8")
    assert created(db_url, tmp_path) == before


async def _postgres_tables(db_url: str) -> list[str]:
    import asyncpg

    from tests.gateway.quota_db import PG_URL

    schema = db_url.rsplit("search_path=", 1)[1]
    conn = await asyncpg.connect(PG_URL)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    return [row["table_name"] for row in rows]


def created(db_url: str, folder: Path) -> list[str]:
    """What exists of the database: SQLite files in its folder, or PostgreSQL tables."""
    if ON_POSTGRES:
        return asyncio.run(_postgres_tables(db_url))
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("command", sorted(READERS))
def test_a_reader_on_a_missing_database_exits_1_and_creates_nothing(
    cli, db_url: str, tmp_path: Path, command: str
) -> None:
    before = created(db_url, tmp_path)
    fails_with_one_line(cli(*READERS[command]), "create it with `burncloud init`")
    assert created(db_url, tmp_path) == before == []


@pytest.mark.sqlite_only  # an empty file is a SQLite state
def test_a_reader_on_an_empty_sqlite_file_names_the_database(cli, db_url: str, tmp_path) -> None:
    (tmp_path / "burncloud.db").touch()
    fails_with_one_line(cli("price", "list"), "no burncloud database at sqlite:")
    assert created(db_url, tmp_path) == ["burncloud.db"]


async def _make_version(db_url: str, version: int) -> None:
    """A database at schema ``version``, as an older burncloud left it."""
    db = await open_database(db_url, migrate=False)
    try:
        await migrate_to(db, version)
    finally:
        await db.close()


def test_a_reader_refuses_an_older_schema_until_init_migrates_it(cli, db_url: str) -> None:
    asyncio.run(_make_version(db_url, LATEST - 1))
    fails_with_one_line(
        cli("price", "list"), f"at schema version {LATEST - 1}, this burncloud reads"
    )
    assert "run `burncloud init`" in cli("group", "list").stderr
    migrated = cli("init")
    assert migrated.exit_code == 0, migrated.output
    assert f"from schema version {LATEST - 1} to {LATEST}" in migrated.stderr
    assert cli("price", "list").exit_code == 0


def test_a_reader_session_cannot_write(
    cli, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The read-only connection itself refuses writes (SQLite mode=ro, PostgreSQL read-only
    transactions): a reader that tried would fail, not write."""
    assert cli("init").exit_code == 0
    monkeypatch.setenv("BURNCLOUD_SECRET", "test-secret")

    async def sneaky_write(session) -> None:  # type: ignore[no-untyped-def]
        await session.db.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")

    with pytest.raises(typer.Exit) as exited:
        run_read(db_url, sneaky_write)
    assert exited.value.exit_code == 1
    assert capsys.readouterr().err == "error: the database is read-only\n"
