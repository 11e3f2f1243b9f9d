from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from burncloud.db.url import parse_database_url

KEY = "sk-upstream-Zq7DistinctivePlaintextKey-8842"
BASE = ("--name", "main", "--key", KEY)


@pytest.fixture(autouse=True)
def primed(cli) -> None:
    """Run once so the first-run admin key message is out of the way of stderr checks."""
    assert cli("init").exit_code == 0


def db_path(db_url: str) -> Path:
    return parse_database_url(db_url).sqlite_path


def query(db_url: str, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db_path(db_url))) as conn, conn:
        return conn.execute(sql).fetchall()


def abilities(db_url: str) -> set[tuple]:
    return set(
        query(
            db_url, "SELECT group_name, model, channel_id, enabled, priority, weight FROM abilities"
        )
    )


def add(cli, *args: str) -> int:
    result = cli("channel", "add", "--type", "openai", *BASE, "--models", "m1", *args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)["id"]


def assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert text in result.stderr
    assert KEY not in result.output


def test_add_prints_the_new_id(cli) -> None:
    result = cli("channel", "add", "--type", "openai", *BASE, "--models", "m1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Added channel 1\n"


def test_add_json_is_exactly_the_id(cli) -> None:
    result = cli("channel", "add", "--type", "anthropic", *BASE, "--models", "c", "--json")
    assert orjson.loads(result.stdout) == {"id": 1}


def test_show_json_has_every_field_and_only_the_key_hint(cli, cli_json) -> None:
    channel_id = add(cli, "--map", "m1=m1-0613", "--config", "api_version=2024-06-01")
    data = cli_json("channel", "show", str(channel_id))
    assert data == {
        "id": channel_id,
        "type": "openai",
        "name": "main",
        "key_hint": "sk-...8842",
        "base_url": "https://api.openai.com/v1",
        "models": ["m1"],
        "groups": ["default"],
        "weight": 1,
        "priority": 0,
        "model_map": {"m1": "m1-0613"},
        "config": {"api_version": "2024-06-01"},
        "status": "enabled",
        "status_reason": "",
        "latency_ms": None,
        "tested_at": None,
        "success_count": 0,
        "failure_count": 0,
        "used": "0",
        "cost_ratio": "1",
        "endpoints": [
            "chat",
            "completions",
            "embeddings",
            "responses",
            "moderations",
            "images",
            "image_variations",
            "speech",
            "transcriptions",
            "translations",
        ],
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
        "key_selection": "random",
        "tags": [],
        "rpm": None,
        "tpm": None,
        "max_concurrency": None,
        "overrides": {},
        "auto_sync": None,
        "balance_api": None,
        "balance_every": None,
        "balance_alert_below": None,
        "keys": [
            {
                "id": 1,
                "channel_id": channel_id,
                "key_hint": "sk-...8842",
                "weight": 1,
                "status": "enabled",
                "status_reason": "",
                "success_count": 0,
                "failure_count": 0,
                "used": "0",
                "created_at": data["keys"][0]["created_at"],
                "updated_at": data["keys"][0]["updated_at"],
            }
        ],
        "capabilities": [],
        "balance": None,
    }


def test_list_json_is_a_list_of_channels(cli, cli_json) -> None:
    add(cli)
    add(cli, "--priority", "5", "--name", "second")
    listed = cli_json("channel", "list")
    assert [(c["id"], c["priority"]) for c in listed] == [(1, 0), (2, 5)]


def test_list_table_shows_status_with_reason_and_key_hint(cli) -> None:
    channel_id = add(cli)
    assert cli("channel", "disable", str(channel_id), "--reason", "too slow").exit_code == 0
    table = cli("channel", "list").stdout
    header, row = table.splitlines()
    assert header.split("\t")[:4] == ["ID", "Name", "Type", "Status"]
    assert "disabled (too slow)" in row.split("\t")
    assert "sk-...8842" in row.split("\t")


def test_update_changes_only_the_given_options(cli, cli_json) -> None:
    channel_id = add(cli, "--weight", "3")
    result = cli("channel", "update", str(channel_id), "--name", "backup", "--priority", "2")
    assert result.stdout == f"Updated channel {channel_id}\n"
    data = cli_json("channel", "show", str(channel_id))
    assert (data["name"], data["priority"], data["weight"], data["models"]) == (
        "backup",
        2,
        3,
        ["m1"],
    )


def test_update_with_empty_map_clears_it(cli, cli_json) -> None:
    channel_id = add(cli, "--map", "m1=m1-0613")
    assert cli("channel", "update", str(channel_id), "--map", "").exit_code == 0
    assert cli_json("channel", "show", str(channel_id))["model_map"] == {}


def test_enable_and_disable_set_status_and_reason(cli, cli_json) -> None:
    channel_id = str(add(cli))
    assert cli("channel", "disable", channel_id, "--reason", "maintenance").exit_code == 0
    shown = cli_json("channel", "show", channel_id)
    assert (shown["status"], shown["status_reason"]) == ("disabled", "maintenance")
    assert cli("channel", "enable", channel_id).stdout == f"Enabled channel {channel_id}\n"
    shown = cli_json("channel", "show", channel_id)
    assert (shown["status"], shown["status_reason"]) == ("enabled", "")


def test_delete_removes_the_channel(cli) -> None:
    channel_id = str(add(cli))
    assert cli("channel", "delete", channel_id).stdout == f"Deleted channel {channel_id}\n"
    assert_one_line_error(cli("channel", "show", channel_id), "no channel with id")


@pytest.mark.parametrize(
    "command",
    [
        ("show", "9"),
        ("update", "9", "--name", "x"),
        ("enable", "9"),
        ("disable", "9"),
        ("delete", "9"),
    ],
)
def test_unknown_id_exits_1_with_one_line(cli, command: tuple[str, ...]) -> None:
    assert_one_line_error(cli("channel", *command), "no channel with id 9")


@pytest.mark.sqlite_only  # reads the SQLite file directly
@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--type", "ftp", "--models", "m"), "unknown channel type 'ftp': use one of openai"),
        (("--type", "openai", "--models", "m", "--base-url", "ftp://x.com"), "http://"),
        (("--type", "openai", "--models", "m", "--base-url", "https://u:p@x.com"), "credentials"),
        (("--type", "azure", "--models", "m"), "azure channels need --base-url"),
        (("--type", "openai-compatible", "--models", "m"), "need --base-url"),
        (("--type", "bedrock", "--models", "m"), "need --config region="),
        (("--type", "openai", "--models", "m", "--group", "vip"), "unknown group 'vip'"),
        (("--type", "openai", "--models", "m", "--map", "m"), "bad --map entry 'm'"),
        (("--type", "openai", "--models", "m", "--map", "x=y"), "does not serve"),
        (("--type", "openai", "--models", "m", "--config", "region"), "bad --config entry"),
        (("--type", "openai", "--models", "m", "--weight", "-2"), "weight must be at least 0"),
        (("--type", "openai", "--models", " , "), "at least one model"),
    ],
)
def test_invalid_add_exits_1_with_one_line(cli, db_url, args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(cli("channel", "add", *BASE, *args), text)
    assert query(db_url, "SELECT COUNT(*) FROM channels") == [(0,)]


def test_update_validation_errors_leave_the_channel_unchanged(cli, cli_json) -> None:
    channel_id = str(add(cli))
    assert_one_line_error(cli("channel", "update", channel_id, "--type", "azure"), "--base-url")
    assert cli_json("channel", "show", channel_id)["type"] == "openai"


@pytest.mark.parametrize(
    ("type_name", "stored"),
    [
        ("openai", "https://api.example.com/v1"),
        ("qwen", "https://api.example.com/v1"),
        ("openai-compatible", "https://api.example.com/v1"),
        ("anthropic", "https://api.example.com"),
        ("gemini", "https://api.example.com"),
    ],
)
def test_bare_base_url_gets_v1_only_for_openai_style_types(
    cli, cli_json, type_name: str, stored: str
) -> None:
    result = cli(
        "channel",
        "add",
        "--type",
        type_name,
        *BASE,
        "--models",
        "m",
        "--base-url",
        "https://api.example.com/",
        "--json",
    )
    channel_id = orjson.loads(result.stdout)["id"]
    assert cli_json("channel", "show", str(channel_id))["base_url"] == stored


def test_provider_default_base_urls(cli, cli_json) -> None:
    expected = {
        "openai": "https://api.openai.com/v1",
        "anthropic": "https://api.anthropic.com",
        "gemini": "https://generativelanguage.googleapis.com",
        "qwen": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    }
    for type_name in expected:
        cli(
            "channel",
            "add",
            "--type",
            type_name,
            "--name",
            type_name,
            "--key",
            KEY,
            "--models",
            "m",
        )
    cli(
        "channel",
        "add",
        "--type",
        "bedrock",
        "--name",
        "bedrock",
        "--key",
        KEY,
        "--models",
        "m",
        "--config",
        "region=us-west-2",
    )
    shown = {c["type"]: c["base_url"] for c in cli_json("channel", "list")}
    assert shown == {**expected, "bedrock": "https://bedrock-runtime.us-west-2.amazonaws.com"}


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_abilities_follow_add_update_disable_and_delete(cli, db_url) -> None:
    query(db_url, "INSERT INTO user_groups (name, ratio, updated_at) VALUES ('vip', '1', 0)")
    channel_id = add(cli, "--models", "m2", "--group", "default,vip", "--weight", "2")
    assert abilities(db_url) == {
        (group, model, channel_id, 1, 0, 2)
        for group in ("default", "vip")
        for model in ("m1", "m2")
    }
    cli("channel", "update", str(channel_id), "--models", "m3", "--group", "vip", "--priority", "4")
    assert abilities(db_url) == {("vip", "m3", channel_id, 1, 4, 2)}
    cli("channel", "disable", str(channel_id))
    assert abilities(db_url) == {("vip", "m3", channel_id, 0, 4, 2)}
    cli("channel", "delete", str(channel_id))
    assert abilities(db_url) == set()


def test_key_never_appears_in_cli_output(cli) -> None:
    added = cli("channel", "add", "--type", "openai", *BASE, "--models", "m1")
    outputs = [
        added,
        cli("channel", "add", "--type", "openai", *BASE, "--models", "m1", "--name", "b", "--json"),
        cli("channel", "list"),
        cli("channel", "list", "--json"),
        cli("channel", "show", "1"),
        cli("channel", "show", "1", "--json"),
        cli("channel", "update", "1", "--key", KEY, "--json"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert KEY not in result.output
        assert KEY[3:-4] not in result.output


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_key_is_not_stored_in_plain_text(cli, db_url) -> None:
    add(cli)
    cli("channel", "update", "1", "--name", "renamed")
    path = db_path(db_url)
    files = [path, path.with_name(path.name + "-wal")]
    contents = b"".join(f.read_bytes() for f in files if f.exists())
    assert b"renamed" in contents  # the files do hold the channel row
    assert KEY.encode() not in contents
    assert KEY[3:-4].encode() not in contents


def test_key_can_be_read_from_stdin(cli, cli_json) -> None:
    result = cli(
        "channel",
        "add",
        "--type",
        "openai",
        "--name",
        "n",
        "--key",
        "-",
        "--models",
        "m",
        input=KEY + "\n",
    )
    assert result.exit_code == 0, result.output
    assert cli_json("channel", "show", "1")["key_hint"] == "sk-...8842"


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_key_file_is_created_beside_the_database_with_mode_0600(cli, db_url) -> None:
    key_file = db_path(db_url).with_name("burncloud.db.key")
    assert not key_file.exists()
    add(cli)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def run_with_secret(db_url: str, secret: str, *args: str) -> Result:
    env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": secret}
    return CliRunner().invoke(app, ["channel", *args], env=env)


def test_a_changed_secret_is_refused_where_the_key_is_needed(db_url) -> None:
    add_args = ("add", "--type", "openai", *BASE, "--models", "m1")
    assert run_with_secret(db_url, "first-secret", *add_args).exit_code == 0
    assert not db_path(db_url).with_name("burncloud.db.key").exists()
    refused = run_with_secret(db_url, "second-secret", *add_args)
    assert_one_line_error(refused, "BURNCLOUD_SECRET")
    refused = run_with_secret(db_url, "second-secret", "update", "1", "--key", "sk-new-key-0000")
    assert_one_line_error(refused, "BURNCLOUD_SECRET")
    listed = run_with_secret(db_url, "second-secret", "list", "--json")
    assert listed.exit_code == 0  # listing shows only hints, so it needs no secret
    assert [c["key_hint"] for c in orjson.loads(listed.stdout)] == ["sk-...8842"]


def test_cost_ratio_is_set_on_add_and_update_and_shown(cli, cli_json) -> None:
    channel_id = add(cli, "--cost-ratio", "0.30")
    assert cli_json("channel", "show", str(channel_id))["cost_ratio"] == "0.3"
    result = cli("channel", "update", str(channel_id), "--cost-ratio", "1.5")
    assert result.exit_code == 0, result.output
    assert [c["cost_ratio"] for c in cli_json("channel", "list")] == ["1.5"]
    listed = cli("channel", "list")
    header, row = (line.split("\t") for line in listed.stdout.splitlines())
    assert row[header.index("Cost ratio")] == "1.5"
    shown = cli("channel", "show", str(channel_id)).stdout.splitlines()
    assert ["cost_ratio", "1.5"] in [line.split() for line in shown]


def test_cost_ratio_defaults_to_the_list_price(cli, cli_json) -> None:
    assert cli_json("channel", "show", str(add(cli)))["cost_ratio"] == "1"


@pytest.mark.parametrize(
    ("ratio", "message"), [("-1", "non-negative"), ("x", "not a decimal"), ("nan", "finite")]
)
def test_a_bad_cost_ratio_is_a_one_line_error(cli, cli_json, ratio: str, message: str) -> None:
    assert_one_line_error(add_result(cli, "--cost-ratio", ratio), "cost ratio")
    channel_id = add(cli)
    result = cli("channel", "update", str(channel_id), "--cost-ratio", ratio)
    assert_one_line_error(result, message)
    assert cli_json("channel", "show", str(channel_id))["cost_ratio"] == "1"


def add_result(cli, *args: str) -> Result:
    return cli("channel", "add", "--type", "openai", *BASE, "--models", "m1", *args)
