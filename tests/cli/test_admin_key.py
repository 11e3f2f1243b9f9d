from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest

from burncloud.crypto import hash_secret
from burncloud.db import parse_database_url


def _key_hashes(db_url: str) -> list[str]:
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        return [row[0] for row in conn.execute("SELECT key_hash FROM tokens ORDER BY id")]


def _first_run_key(cli) -> str:
    first = cli("user", "list")
    assert first.exit_code == 0
    return re.search(r"sk-\w+", first.stderr).group(0)


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
