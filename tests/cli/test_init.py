"""`burncloud init` creates, migrates and bootstraps on purpose, idempotently; the admin key
is printed only where it was asked for (init's stdout) or where a person reads it (a
terminal), never into a log."""

from __future__ import annotations

import asyncio
import io
import re

import orjson

from burncloud.crypto import hash_secret
from burncloud.db import open_database
from burncloud.db.migrations import LATEST
from burncloud.services.bootstrap import announce_admin_key

KEY = re.compile(r"sk-[A-Za-z0-9]{48}")


async def _admin_key_hash(db_url: str) -> str:
    db = await open_database(db_url, create=False)
    try:
        return await db.fetch_value("SELECT key_hash FROM tokens WHERE name = 'admin'")
    finally:
        await db.close()


def test_init_creates_the_database_and_prints_the_admin_key_on_stdout(cli, db_url) -> None:
    result = cli("init")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert KEY.fullmatch(key), result.stdout
    assert "Created the database at" in result.stderr and key not in result.stderr
    assert asyncio.run(_admin_key_hash(db_url)) == hash_secret(key)


def test_init_again_says_there_is_nothing_to_do(cli) -> None:
    assert cli("init").exit_code == 0
    again = cli("init")
    assert again.exit_code == 0 and again.stdout == ""
    assert "up to date" in again.stderr and "nothing to do" in again.stderr
    report = orjson.loads(cli("init", "--json").stdout)
    assert report["database"].split(":")[0] in ("sqlite", "postgresql")
    assert {key: value for key, value in report.items() if key != "database"} == {
        "created": False,
        "migrated_from": LATEST,
        "schema_version": LATEST,
        "admin_key": None,
    }


def test_a_write_command_on_a_new_database_names_no_key_off_a_terminal(cli) -> None:
    """CliRunner's stderr is not a terminal, as a service's log is not."""
    result = cli("user", "add", "bob")
    assert result.exit_code == 0, result.output
    assert "Created the admin user" in result.stderr
    assert "burncloud admin-key rotate" in result.stderr
    assert "sk-" not in result.stderr and "sk-" not in result.stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_first_run_key_is_shown_on_a_terminal_only() -> None:
    terminal, log = Terminal(), io.StringIO()
    announce_admin_key("sk-shown", terminal)
    announce_admin_key("sk-hidden", log)
    assert "sk-shown" in terminal.getvalue()
    assert "sk-hidden" not in log.getvalue()
    assert "burncloud admin-key rotate" in log.getvalue()
