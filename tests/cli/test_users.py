from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from burncloud.db import parse_database_url


def _add_group(db_url: str, name: str) -> None:
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        conn.execute(
            "INSERT INTO user_groups (name, ratio, updated_at) VALUES (?, '1.5', 0)", (name,)
        )


def test_user_add_prints_the_user_with_balance_as_decimal_string(cli_json) -> None:
    alice = cli_json("user", "add", "alice", "--balance", "12.5")
    assert (alice["name"], alice["role"], alice["status"]) == ("alice", "user", "enabled")
    assert (alice["balance"], alice["used"], alice["group"]) == ("12.5", "0", "default")
    assert cli_json("user", "show", "alice") == alice
    assert cli_json("user", "show", str(alice["id"])) == alice


def test_unlimited_balance_is_shown_as_minus_one(cli_json) -> None:
    assert cli_json("user", "add", "ops", "--role", "admin", "--balance", "-1")["balance"] == "-1"


def test_user_list_includes_the_first_run_admin(cli, cli_json) -> None:
    assert cli("user", "add", "alice").exit_code == 0
    users = cli_json("user", "list")
    assert [(u["name"], u["role"], u["balance"]) for u in users] == [
        ("admin", "admin", "-1"),
        ("alice", "user", "0"),
    ]
    table = cli("user", "list")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split("\t")[:2] == ["ID", "Name"]


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_user_update_changes_only_the_given_options(cli, cli_json, db_url) -> None:
    cli_json("user", "add", "alice", "--balance", "3")
    _add_group(db_url, "vip")
    updated = cli_json("user", "update", "alice", "--group", "vip", "--name", "alicia")
    assert (updated["name"], updated["group"], updated["role"]) == ("alicia", "vip", "user")
    assert updated["balance"] == "3"
    result = cli("user", "show", "alice")
    assert result.exit_code == 1
    assert result.stderr == "error: no user 'alice'\n"


def test_user_update_sets_and_removes_rate_limits(cli, cli_json) -> None:
    cli_json("user", "add", "alice")
    result = cli(
        "user", "update", "alice", "--rpm", "60", "--tpm", "1000", "--max-concurrency", "4"
    )
    assert result.exit_code == 0, result.output
    shown = cli_json("user", "show", "alice")
    assert (shown["rpm"], shown["tpm"], shown["max_concurrency"]) == (60, 1000, 4)
    cleared = cli_json("user", "update", "alice", "--rpm", "-1")
    assert (cleared["rpm"], cleared["tpm"]) == (None, 1000)
    assert [u["tpm"] for u in cli_json("user", "list")] == [None, 1000]


def test_disabling_the_last_admin_exits_1_with_one_line(cli, cli_json) -> None:
    cli("user", "add", "alice")
    result = cli("user", "disable", "admin")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "last enabled admin" in result.stderr
    assert cli_json("user", "show", "admin")["status"] == "enabled"


def test_user_disable_and_enable(cli, cli_json) -> None:
    cli("user", "add", "alice")
    result = cli("user", "disable", "alice")
    assert result.exit_code == 0
    assert "Disabled user alice" in result.stdout
    assert cli_json("user", "show", "alice")["status"] == "disabled"
    assert cli("user", "enable", "alice").exit_code == 0
    assert cli_json("user", "show", "alice")["status"] == "enabled"


def test_user_errors_are_one_line_and_exit_1(cli) -> None:
    cli("init")  # the first run announces the admin on stderr
    for args in (
        ("user", "add", "alice", "--balance", "lots"),
        ("user", "add", "alice", "--role", "root"),
        ("user", "add", "alice", "--group", "nope"),
        ("user", "add", "admin"),
        ("user", "show", "nobody"),
        ("user", "update", "admin"),
        ("user", "update", "admin", "--rpm", "0"),
    ):
        result = cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: "), args
        assert result.stderr.count("\n") == 1, args
