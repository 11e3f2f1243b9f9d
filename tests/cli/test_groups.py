from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest


@pytest.fixture
def cli(cli):
    """The CLI on a database that already exists, so stderr holds only errors."""
    assert cli("init").exit_code == 0
    return cli


@pytest.fixture
def sql(tmp_path: Path):
    """Run one statement directly against the test database file."""

    def execute(statement: str) -> None:
        with sqlite3.connect(tmp_path / "burncloud.db") as conn:
            conn.execute(statement)
        conn.close()

    return execute


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr


def test_list_json_shows_the_default_group(cli_json) -> None:
    assert cli_json("group", "list") == [{"name": "default", "ratio": "1"}]


def test_set_stores_a_normalised_ratio(cli, cli_json) -> None:
    result = cli("group", "set", "vip", "--ratio", "0.80")
    assert result.exit_code == 0, result.output
    assert "ratio 0.8" in result.stdout
    assert {"name": "vip", "ratio": "0.8"} in cli_json("group", "list")


def test_set_updates_an_existing_group(cli, cli_json) -> None:
    cli("group", "set", "vip", "--ratio", "0.8")
    cli("group", "set", "vip", "--ratio", "1.5")
    assert {"name": "vip", "ratio": "1.5"} in cli_json("group", "list")


def test_list_table_has_name_and_ratio(cli) -> None:
    cli("group", "set", "vip", "--ratio", "0.8")
    lines = cli("group", "list").stdout.splitlines()
    assert lines == ["name\tratio", "default\t1", "vip\t0.8"]


@pytest.mark.parametrize("ratio", ["-1", "NaN", "lots"])
def test_invalid_ratio_exits_1(cli, ratio: str) -> None:
    assert_one_line_error(cli("group", "set", "vip", "--ratio", ratio), "ratio")


def test_set_without_ratio_exits_1(cli) -> None:
    assert_one_line_error(cli("group", "set", "vip"), "--ratio")


def test_delete_removes_the_group(cli, cli_json) -> None:
    cli("group", "set", "vip", "--ratio", "0.8")
    assert cli("group", "delete", "vip").exit_code == 0
    assert [g["name"] for g in cli_json("group", "list")] == ["default"]


def test_delete_default_exits_1(cli) -> None:
    assert_one_line_error(cli("group", "delete", "default"), "default")


def test_delete_unknown_group_exits_1(cli) -> None:
    assert_one_line_error(cli("group", "delete", "nope"), "nope")


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_delete_group_with_users_exits_1(cli, sql) -> None:
    cli("group", "set", "vip", "--ratio", "0.8")
    sql("UPDATE users SET group_name = 'vip'")
    assert_one_line_error(cli("group", "delete", "vip"), "user")


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_delete_group_served_by_a_channel_exits_1(cli, sql) -> None:
    cli("group", "set", "vip", "--ratio", "0.8")
    sql(
        "INSERT INTO channels (type, name, key_hint, base_url, models, groups,"
        " created_at, updated_at) VALUES ('openai', 'c', 'x', 'http://h', 'gpt-4',"
        " 'vip', 0, 0)"
    )
    assert_one_line_error(cli("group", "delete", "vip"), "channel")


def test_db_option_selects_another_database(cli, cli_json, tmp_path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    assert cli("group", "set", "vip", "--ratio", "2", "--db", other).exit_code == 0
    assert [g["name"] for g in cli_json("group", "list")] == ["default"]
    listed = orjson.loads(cli("group", "list", "--json", "--db", other).stdout)
    assert {"name": "vip", "ratio": "2"} in listed
