from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from burncloud.crypto import hash_secret
from tests.cli.checks import fails_with_one_line

KEY = re.compile(r"sk-[A-Za-z0-9]{48}")


def _create(cli, *args: str) -> tuple[int, str]:
    result = cli("token", "create", "--json", *args)
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    return data["id"], data["key"]


pytestmark = pytest.mark.usefixtures("bootstrapped")


def test_create_prints_the_key_once_and_never_again(cli) -> None:
    created = cli("token", "create", "--name", "ci")
    assert created.exit_code == 0, created.output
    keys = KEY.findall(created.stdout)
    assert len(keys) == 1
    assert "will not be shown again" in created.stdout
    key = keys[0]
    for args in (("token", "list"), ("token", "list", "--json"), ("token", "show", "2")):
        shown = cli(*args, "--json") if args[-1] == "2" else cli(*args)
        assert shown.exit_code == 0, shown.output
        assert key not in shown.output
        assert key[-4:] in shown.stdout  # the hint: prefix and last four characters


def test_create_json_is_exactly_id_and_key(cli) -> None:
    result = cli("token", "create", "--name", "ci", "--json")
    data = orjson.loads(result.stdout)
    assert set(data) == {"id", "key"}
    assert isinstance(data["id"], int) and KEY.fullmatch(data["key"])


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_the_database_stores_the_key_hash_not_the_key(cli, db_url: str) -> None:
    _, key = _create(cli, "--name", "ci")
    path = Path(db_url.removeprefix("sqlite:///"))
    stored = b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    assert hash_secret(key).encode() in stored
    assert key.encode() not in stored
    assert key[3:].encode() not in stored


def test_show_json_gives_money_as_decimal_strings(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci", "--quota", "2.5", "--models", "gpt-4,gpt-4o")
    shown = cli_json("token", "show", str(token_id))
    assert shown["quota"] == "2.5" and shown["used"] == "0"
    assert shown["status"] == "active"
    assert shown["expires"] == -1
    assert shown["models"] == ["gpt-4", "gpt-4o"]
    assert "..." in shown["key"]


def test_unlimited_quota_shows_as_minus_one(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci", "--quota", "-1")
    assert cli_json("token", "show", str(token_id))["quota"] == "-1"


def test_expiry_accepts_a_date_a_unix_time_and_minus_one(cli, cli_json) -> None:
    end_of_day = int(datetime(2099, 1, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    by_date, _ = _create(cli, "--name", "a", "--expires", "2099-01-31")
    by_unix, _ = _create(cli, "--name", "b", "--expires", "4102444800")
    never, _ = _create(cli, "--name", "c", "--expires", "-1")
    assert cli_json("token", "show", str(by_date))["expires"] == end_of_day
    assert cli_json("token", "show", str(by_unix))["expires"] == 4102444800
    assert cli_json("token", "show", str(never))["expires"] == -1
    assert "2099-01-31T23:59:59Z" in cli("token", "show", str(by_date)).stdout


def test_create_refuses_a_past_expiry(cli) -> None:
    fails_with_one_line(
        cli("token", "create", "--name", "ci", "--expires", "2020-01-01"), "in the past"
    )


def test_create_refuses_an_invalid_ip(cli) -> None:
    fails_with_one_line(cli("token", "create", "--name", "ci", "--ips", "10.0.0.1,nope"), "'nope'")


def test_create_normalises_ips_to_networks(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci", "--ips", "10.0.0.1,10.2.0.0/16")
    assert cli_json("token", "show", str(token_id))["ips"] == ["10.0.0.1/32", "10.2.0.0/16"]


def test_create_for_an_unknown_user_fails(cli) -> None:
    fails_with_one_line(cli("token", "create", "--name", "ci", "--user", "ghost"), "ghost")


def test_list_filters_by_user(cli, cli_json) -> None:
    _create(cli, "--name", "admins")
    assert cli("user", "add", "alice").exit_code == 0
    alice_token, _ = _create(cli, "--name", "alices", "--user", "alice")
    listed = cli_json("token", "list", "--user", "alice")
    assert [t["id"] for t in listed] == [alice_token]
    assert len(cli_json("token", "list")) == 3  # with the bootstrap admin key


def test_update_changes_only_the_given_fields(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci", "--models", "gpt-4", "--quota", "1")
    result = cli("token", "update", str(token_id), "--name", "prod", "--rpm", "60", "--quota", "-1")
    assert result.exit_code == 0, result.output
    shown = cli_json("token", "show", str(token_id))
    assert (shown["name"], shown["rpm"], shown["quota"]) == ("prod", 60, "-1")
    assert shown["models"] == ["gpt-4"] and shown["tpm"] is None


def test_update_minus_one_removes_a_limit_and_the_expiry(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci", "--expires", "2099-01-31")
    assert cli("token", "update", str(token_id), "--rpm", "5").exit_code == 0
    result = cli("token", "update", str(token_id), "--rpm", "-1", "--expires", "-1")
    assert result.exit_code == 0, result.output
    shown = cli_json("token", "show", str(token_id))
    assert (shown["rpm"], shown["expires"]) == (None, -1)


def test_update_without_fields_fails(cli) -> None:
    token_id, _ = _create(cli, "--name", "ci")
    fails_with_one_line(cli("token", "update", str(token_id)), "nothing to update")


def test_revoke_then_delete(cli, cli_json) -> None:
    token_id, _ = _create(cli, "--name", "ci")
    assert cli("token", "revoke", str(token_id)).exit_code == 0
    assert cli_json("token", "show", str(token_id))["status"] == "revoked"
    assert cli("token", "delete", str(token_id)).exit_code == 0
    fails_with_one_line(cli("token", "show", str(token_id)), f"no token with id {token_id}")


def test_unknown_token_idfails_with_one_line(cli) -> None:
    for command in ("show", "revoke", "delete"):
        fails_with_one_line(cli("token", command, "999"), "no token with id 999")
    fails_with_one_line(cli("token", "update", "999", "--name", "x"), "no token with id 999")
