from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest

from burncloud.crypto import hash_secret
from burncloud.db import parse_database_url
from tests.cli.checks import fails_with_one_line

KEY = re.compile(r"sk-[A-Za-z0-9]{48}")


def _key_hashes(db_url: str) -> list[str]:
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        return [row[0] for row in conn.execute("SELECT key_hash FROM tokens ORDER BY id")]


def _first_run_key(cli) -> str:
    first = cli("init")
    assert first.exit_code == 0, first.output
    return KEY.fullmatch(first.stdout.strip()).group(0)


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_rotating_replaces_the_old_key_hash_with_the_new_one(cli, cli_json, db_url) -> None:
    old = _first_run_key(cli)
    assert _key_hashes(db_url) == [hash_secret(old)]
    rotated = cli_json("admin-key", "rotate")
    assert rotated["key"].startswith("sk-") and rotated["key"] != old
    assert rotated["user"] == "admin"
    assert _key_hashes(db_url) == [hash_secret(rotated["key"])]


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_rotate_prints_the_new_key_alone_on_stdout(cli, db_url) -> None:
    _first_run_key(cli)
    result = cli("admin-key", "rotate")
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert re.fullmatch(r"sk-\w+", key)
    assert _key_hashes(db_url) == [hash_secret(key)]


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_rotate_recreates_a_deleted_admin_token(cli, cli_json, db_url) -> None:
    _first_run_key(cli)
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        conn.execute("DELETE FROM tokens")
    rotated = cli_json("admin-key", "rotate")
    assert _key_hashes(db_url) == [hash_secret(rotated["key"])]


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_rotate_bumps_the_config_version(cli, cli_json, db_url) -> None:
    _first_run_key(cli)
    path = parse_database_url(db_url).sqlite_path

    def version() -> int:
        with closing(sqlite3.connect(path)) as conn:
            return conn.execute("SELECT version FROM config_version").fetchone()[0]

    before = version()
    cli_json("admin-key", "rotate")
    assert version() > before


def _created(cli_json, *args: str) -> dict:
    created = cli_json("admin-key", "create", *args)
    assert KEY.fullmatch(created["key"])
    return created


@pytest.mark.usefixtures("bootstrapped")
def test_create_makes_an_admin_only_key_unless_relay_is_asked(cli, cli_json) -> None:
    plain = _created(cli_json, "--name", "ops")
    relaying = _created(cli_json, "--name", "ops-relay", "--relay")
    assert (plain["scopes"], relaying["scopes"]) == (["admin"], ["admin", "relay"])
    for created in (plain, relaying):
        shown = cli_json("token", "show", str(created["id"]))
        assert (shown["scopes"], shown["user_id"]) == (created["scopes"], 1)


@pytest.mark.usefixtures("bootstrapped")
def test_create_prints_the_key_once_and_list_shows_only_hints(cli, cli_json) -> None:
    first = cli_json("admin-key", "rotate")["key"]
    created = cli("admin-key", "create", "--name", "ops")
    assert created.exit_code == 0, created.output
    [key] = KEY.findall(created.stdout)
    assert "will not be shown again" in created.stdout and "scopes admin" in created.stdout
    for args in (("admin-key", "list"), ("admin-key", "list", "--json"), ("token", "list")):
        listed = cli(*args)
        assert listed.exit_code == 0, listed.output
        assert key not in listed.output and first not in listed.output
        assert key[-4:] in listed.stdout and first[-4:] in listed.stdout
    names = [(k["name"], k["scopes"]) for k in cli_json("admin-key", "list")]
    assert names == [("admin", ["admin"]), ("ops", ["admin"])]


@pytest.mark.usefixtures("bootstrapped")
def test_list_leaves_relay_keys_out_and_token_list_shows_every_scope(cli, cli_json) -> None:
    relay = cli_json("token", "create", "--name", "my-app", "--quota", "5")
    _created(cli_json, "--name", "ops", "--relay")
    assert [k["name"] for k in cli_json("admin-key", "list")] == ["admin", "ops"]
    scopes = {t["name"]: t["scopes"] for t in cli_json("token", "list")}
    assert scopes == {"admin": ["admin"], "my-app": ["relay"], "ops": ["admin", "relay"]}
    table = cli("token", "list").stdout.splitlines()
    assert "scopes" in table[0].split("\t")
    assert "admin,relay" in table[3].split("\t") and relay["id"] == 2


@pytest.mark.usefixtures("bootstrapped")
def test_revoke_takes_admin_keys_and_refuses_relay_keys(cli, cli_json) -> None:
    made = _created(cli_json, "--name", "ops")
    relay = cli_json("token", "create", "--name", "my-app")
    revoked = cli("admin-key", "revoke", str(made["id"]))
    assert revoked.exit_code == 0 and f"revoked admin key {made['id']}" in revoked.stdout
    listed = {k["id"]: k["status"] for k in cli_json("admin-key", "list")}
    assert listed == {1: "active", made["id"]: "revoked"}
    fails_with_one_line(cli("admin-key", "revoke", str(relay["id"])), "not an admin key")
    fails_with_one_line(cli("admin-key", "revoke", "999"), "no token with id 999")
    assert cli_json("token", "show", str(relay["id"]))["status"] == "active"


@pytest.mark.parametrize("option", ["--scopes", "--admin", "--relay"])
@pytest.mark.usefixtures("bootstrapped")
def test_token_create_and_update_cannot_ask_for_a_scope(cli, cli_json, option: str) -> None:
    fails_with_one_line(cli("token", "create", "--name", "x", "--user", "admin", option, "admin"))
    made = cli_json("token", "create", "--name", "x", "--user", "admin")
    fails_with_one_line(cli("token", "update", str(made["id"]), option, "admin"))
    assert cli_json("token", "show", str(made["id"]))["scopes"] == ["relay"]


@pytest.mark.sqlite_only  # reads the SQLite file directly
@pytest.mark.usefixtures("bootstrapped")
def test_rotate_keeps_the_first_run_key_an_admin_only_key(cli, cli_json, db_url) -> None:
    rotated = cli_json("admin-key", "rotate")
    shown = cli_json("token", "show", str(rotated["token_id"]))
    assert (rotated["token_id"], shown["name"], shown["scopes"]) == (1, "admin", ["admin"])
    assert _key_hashes(db_url) == [hash_secret(rotated["key"])]
