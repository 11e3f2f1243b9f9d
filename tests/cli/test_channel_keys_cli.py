"""`channel add --key/--keys-file`, `channel keys ...`, tags and bulk status, from the CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.cli.test_channels import KEY, add, assert_one_line_error, query

SECOND = "sk-upstream-second-key-0002"
THIRD = "sk-upstream-third-key-0003"


@pytest.fixture(autouse=True)
def primed(cli) -> None:
    assert cli("init").exit_code == 0


def keys_json(cli, channel_id: int) -> list[dict]:
    result = cli("channel", "keys", "list", str(channel_id), "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def statuses(cli) -> list[tuple[str, str]]:
    listed = orjson.loads(cli("channel", "list", "--json").stdout)
    return [(c["status"], c["status_reason"]) for c in listed]


def test_a_channel_gets_many_keys_from_options_and_a_file(cli, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# the team's account\n{THIRD}\n\n{SECOND}\n")
    channel = add(cli, "--key", SECOND, "--keys-file", str(keys_file))
    listed = keys_json(cli, channel)
    assert [k["key_hint"] for k in listed] == ["sk-...8842", "sk-...0002", "sk-...0003"]
    assert all(k["status"] == "enabled" for k in listed)
    shown = cli("channel", "list")
    assert "3 keys" in shown.stdout
    for secret in (KEY, SECOND, THIRD):
        assert secret not in shown.stdout


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_keys_are_stored_only_sealed(cli, db_url) -> None:
    channel = add(cli, "--key", SECOND)
    assert cli("channel", "keys", "add", str(channel), THIRD).exit_code == 0
    rows = query(db_url, "SELECT * FROM channel_keys")
    assert len(rows) == 3
    for secret in (KEY, SECOND, THIRD):
        assert not any(secret in str(row) for row in rows)


def test_keys_are_added_disabled_weighed_and_removed(cli) -> None:
    channel = add(cli)
    added = cli("channel", "keys", "add", str(channel), SECOND, THIRD, "--weight", "3")
    assert added.exit_code == 0, added.output
    first, second, third = (k["id"] for k in keys_json(cli, channel))
    assert added.stdout == f"Added 2 key(s) to channel {channel}: {second}, {third}\n"
    assert [k["weight"] for k in keys_json(cli, channel)] == [1, 3, 3]
    again = cli("channel", "keys", "add", str(channel), SECOND)
    assert_one_line_error(again, f"already has this key (key {second})")
    assert (
        cli(
            "channel", "keys", "disable", str(channel), str(second), "--reason", "rotating"
        ).exit_code
        == 0
    )
    assert cli("channel", "keys", "weight", str(channel), str(third), "0").exit_code == 0
    listed = keys_json(cli, channel)
    assert [(k["status"], k["status_reason"], k["weight"]) for k in listed] == [
        ("enabled", "", 1),
        ("disabled", "rotating", 3),
        ("enabled", "", 0),
    ]
    assert cli("channel", "keys", "remove", str(channel), str(first)).exit_code == 0
    assert cli("channel", "keys", "disable", str(channel), str(third)).exit_code == 1
    assert cli("channel", "keys", "enable", str(channel), str(second)).exit_code == 0
    assert cli("channel", "keys", "remove", str(channel), str(third)).exit_code == 0
    last = cli("channel", "keys", "remove", str(channel), str(second))
    assert_one_line_error(last, "only key")
    assert_one_line_error(
        cli("channel", "keys", "remove", str(channel), "999"), "no key with id 999"
    )
    assert_one_line_error(cli("channel", "keys", "list", "999"), "no channel with id 999")


def test_the_last_enabled_key_is_not_disabled_by_hand(cli) -> None:
    channel = add(cli)
    (only,) = (k["id"] for k in keys_json(cli, channel))
    refused = cli("channel", "keys", "disable", str(channel), str(only))
    assert_one_line_error(refused, f"burncloud channel disable {channel}")


def test_update_key_replaces_every_key(cli) -> None:
    channel = add(cli, "--key", SECOND)
    assert cli("channel", "update", str(channel), "--key", THIRD).exit_code == 0
    assert [k["key_hint"] for k in keys_json(cli, channel)] == ["sk-...0003"]


def test_a_channel_needs_a_key(cli) -> None:
    result = cli("channel", "add", "--type", "openai", "--name", "n", "--models", "m1")
    assert_one_line_error(result, "give the channel a key")


def test_tags_list_and_bulk_disable(cli) -> None:
    eu = add(cli, "--tag", "eu,paid")
    result = cli(
        "channel",
        "add",
        "--type",
        "openai",
        "--name",
        "us",
        "--key",
        KEY,
        "--models",
        "m1",
        "--json",
    )
    us = orjson.loads(result.stdout)["id"]
    assert cli("channel", "update", str(us), "--tag", "us", "--tag", "paid").exit_code == 0
    listed = cli("channel", "list", "--tag", "eu", "--json")
    assert [c["id"] for c in orjson.loads(listed.stdout)] == [eu]
    bulk = cli("channel", "disable", "--tag", "paid", "--reason", "invoice overdue")
    assert bulk.exit_code == 0, bulk.output
    assert bulk.stdout == f"Disabled 2 channel(s) tagged 'paid': {eu}, {us}\n"
    assert statuses(cli) == [("disabled", "invoice overdue")] * 2
    assert cli("channel", "enable", "--tag", "us").exit_code == 0
    assert statuses(cli) == [("disabled", "invoice overdue"), ("enabled", "")]
    assert_one_line_error(
        cli("channel", "disable", "--tag", "nope"), "no channel has the tag 'nope'"
    )
    assert_one_line_error(cli("channel", "disable"), "give a channel ID or --tag T")
    assert cli("channel", "update", str(us), "--tag", "").exit_code == 0
    assert orjson.loads(cli("channel", "show", str(us), "--json").stdout)["tags"] == []


def test_caps_and_key_selection_are_set_and_cleared(cli) -> None:
    channel = add(cli, "--rpm", "60", "--key-selection", "round-robin")
    shown = orjson.loads(cli("channel", "show", str(channel), "--json").stdout)
    assert (shown["rpm"], shown["tpm"], shown["key_selection"]) == (60, None, "round-robin")
    assert cli("channel", "update", str(channel), "--rpm", "0", "--tpm", "90000").exit_code == 0
    shown = orjson.loads(cli("channel", "show", str(channel), "--json").stdout)
    assert (shown["rpm"], shown["tpm"]) == (None, 90000)
    bad = cli("channel", "update", str(channel), "--key-selection", "sometimes")
    assert_one_line_error(bad, "unknown key selection 'sometimes'")


def test_a_channel_without_an_enabled_key_fails_its_test_and_the_others_still_run(cli) -> None:
    first = add(cli)
    second = add(cli, "--name", "second", "--base-url", "http://127.0.0.1:9/v1")
    (key,) = (k["id"] for k in keys_json(cli, first))
    assert cli("channel", "keys", "add", str(first), SECOND).exit_code == 0
    assert cli("channel", "keys", "disable", str(first), str(key)).exit_code == 0
    assert cli("channel", "keys", "remove", str(first), str(key + 2)).exit_code == 0
    tested = cli("channel", "test", "--all", "--json")
    assert tested.exit_code == 1
    results = {r["channel_id"]: r for r in orjson.loads(tested.stdout)}
    assert set(results) == {first, second}
    assert results[first]["error"] == f"channel {first} has no enabled key"
    assert results[second]["status"] is None and not results[second]["ok"]
