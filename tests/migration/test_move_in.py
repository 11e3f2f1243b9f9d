"""Moving in from One API and New API end to end: `burncloud import` reads the peer's own
database (SQLite, MariaDB, PostgreSQL), and afterwards a client key from the old database
gets an answer through the router with the openai SDK, billed against the imported
balance, every sum to the nano-dollar. A second import changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.services.channels import list_channels, update_channel
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, logged_rows, serving
from tests.peers.fixtures import PeerDb

NANO_PER_UNIT = 2_000  # 10^9 nano-USD per dollar / 500,000 quota units per dollar


async def burncloud(db_url: str, *args: str) -> Result:
    """`burncloud ARGS` in a thread (the CLI runs its own event loop)."""
    env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": SECRET}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def json_of(db_url: str, *args: str) -> Any:
    result = await burncloud(db_url, *args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


async def aim_openai_channel(db_url: str, upstream: FakeOpenAI) -> None:
    """Point the imported openai-main channel at the fake upstream."""
    db = await open_database(db_url)
    try:
        channel = next(c for c in await list_channels(db) if c.name == "openai-main")
        box = SecretBox.from_passphrase(SECRET)
        await update_channel(db, box, channel.id, base_url=upstream.base_url, key=upstream.key)
    finally:
        await db.close()


async def test_an_old_client_key_is_answered_and_billed_against_its_imported_balance(
    peer_db: PeerDb, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path}/burncloud.db"
    facts = peer_db.facts
    result = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn)
    assert result.exit_code == 0, result.output
    assert "NOT exact" not in result.stdout
    alice, ci = facts.user("alice"), facts.tokens_of("alice")[1]
    assert ci.name == "ci" and ci.status == 1  # alice's live token without an IP limit

    before_user = await json_of(db_url, "user", "show", "alice")
    imported = {
        (t["name"], t["quota"]) for t in await json_of(db_url, "token", "list", "--user", "alice")
    }
    assert before_user["balance"] == _usd(alice.quota * NANO_PER_UNIT)
    assert ("ci", _usd(ci.remain_quota * NANO_PER_UNIT)) in imported

    async with FakeOpenAI() as upstream:
        await aim_openai_channel(db_url, upstream)
        async with serving(db_url) as base_url:
            async with openai.AsyncOpenAI(
                base_url=base_url, api_key="sk-" + ci.key, max_retries=0
            ) as client:
                answer = await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hello from one api"}]
                )
            async with openai.AsyncOpenAI(
                base_url=base_url, api_key=ci.key, max_retries=0
            ) as bare:  # the peers accept their keys without sk- too
                again = await bare.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "the bare key too"}]
                )
    assert answer.choices[0].message.content and again.choices[0].message.content
    assert upstream.requests[-1].json["model"] == "gpt-4o-2024-08-06"  # the peer's mapping

    rows = [row for row in await logged_rows(db_url) if row["status"] == 200]
    assert len(rows) == 2
    # gpt-4o: ModelRatio 1.25 -> $2.50 per 1M input, CompletionRatio 4 -> $10 output;
    # alice is in group vip, ratio 0.8.
    for row in rows:
        expected = (row["prompt_tokens"] * 2_500 + row["completion_tokens"] * 10_000) * 8 // 10
        assert row["cost"] == expected
    spent = sum(row["cost"] for row in rows)
    after_user = await json_of(db_url, "user", "show", "alice")
    assert _nano(after_user["balance"]) == alice.quota * NANO_PER_UNIT - spent
    token = next(
        t for t in await json_of(db_url, "token", "list", "--user", "alice") if t["name"] == "ci"
    )
    assert _nano(token["quota"]) == ci.remain_quota * NANO_PER_UNIT - spent


async def test_money_totals_match_and_a_second_import_changes_nothing(
    peer_db: PeerDb, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path}/burncloud.db"
    facts = peer_db.facts
    dry = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.rstrip().endswith("(dry run, nothing applied)")
    created = await asyncio.to_thread((tmp_path / "burncloud.db").exists)
    assert not created  # a dry run creates nothing

    first = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn)
    assert first.exit_code == 0, first.output
    users = {u["name"]: u for u in await json_of(db_url, "user", "list")}
    for peer_user in facts.users:
        assert _nano(users[peer_user.username]["balance"]) == peer_user.quota * NANO_PER_UNIT
    total = sum(_nano(users[u.username]["balance"]) for u in facts.users)
    assert total == facts.user_quota_total * NANO_PER_UNIT
    codes = await json_of(db_url, "redeem", "list")
    unused = sum(_nano(code["quota"]) for code in codes if code["status"] == "unused")
    assert unused == facts.unused_redemption_total * NANO_PER_UNIT

    second = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn)
    assert second.exit_code == 0, second.output
    assert second.stdout.rstrip().endswith(
        f"no changes: the database already matches the {_peer_name(peer_db.flavor)} database"
    )


@pytest.mark.parametrize("peer_engine", ["sqlite"])
async def test_logs_are_imported_once(peer_db: PeerDb, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/burncloud.db"
    consumed = [log for log in peer_db.facts.logs if log.type == 2]
    dry = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn, "--with-logs", "--dry-run")
    assert f"logs: {len(consumed)} to import (dry run: none written)" in dry.stdout
    first = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn, "--with-logs")
    assert first.exit_code == 0, first.output
    assert f"logs: {len(consumed)} imported" in first.stdout
    again = await burncloud(db_url, "import", peer_db.flavor, peer_db.dsn, "--with-logs")
    assert again.exit_code == 0, again.output
    assert "logs: 0 imported" in again.stdout
    rows = await logged_rows(db_url)
    assert len(rows) == len(consumed)
    assert sum(row["cost"] for row in rows) == sum(log.quota for log in consumed) * NANO_PER_UNIT


def _peer_name(flavor: str) -> str:
    return {"oneapi": "One API", "newapi": "New API"}[flavor]


def _usd(nano: int) -> str:
    from burncloud.money import format_usd

    return format_usd(nano)


def _nano(usd: str) -> int:
    from burncloud.money import parse_usd

    return parse_usd(usd)


MULTI_KEYS = ("sk-pool-key-0001", "sk-pool-key-0002", "sk-pool-key-0003")


async def _make_multi_key(peer: PeerDb) -> None:
    """Make New API channel 1 a polling multi-key channel whose second key its health
    checks disabled, on the peer's own engine."""
    info = (
        '{"is_multi_key":true,"multi_key_size":3,"multi_key_status_list":{"1":3},'
        '"multi_key_polling_index":1,"multi_key_mode":"polling"}'
    )
    values = ("\n".join(MULTI_KEYS), info)
    if peer.engine == "sqlite":
        await asyncio.to_thread(_run_sqlite, peer.dsn, values)
    elif peer.engine == "mysql":
        await asyncio.to_thread(_run_mysql, peer.dsn, values)
    else:
        import asyncpg

        conn = await asyncpg.connect(peer.dsn)
        try:
            await conn.execute(
                "UPDATE channels SET key = $1, channel_info = $2 WHERE id = 1", *values
            )
        finally:
            await conn.close()


def _run_sqlite(path: str, values: tuple[str, str]) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE channels SET key = ?, channel_info = ? WHERE id = 1", values)
        conn.commit()
    finally:
        conn.close()


def _run_mysql(dsn: str, values: tuple[str, str]) -> None:
    import pymysql  # type: ignore[import-untyped]

    from tests.peers.servers import mysql_args

    conn = pymysql.connect(**mysql_args(dsn))
    try:
        with conn.cursor() as cursor:
            cursor.execute("UPDATE channels SET `key` = %s, channel_info = %s WHERE id = 1", values)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("peer_flavor", ["newapi"])
async def test_a_multi_key_channel_moves_in_as_one_channel_with_its_keys(
    peer_db: PeerDb, tmp_path: Path
) -> None:
    await _make_multi_key(peer_db)
    db_url = f"sqlite:///{tmp_path}/burncloud.db"
    first = await burncloud(db_url, "import", "newapi", peer_db.dsn)
    assert first.exit_code == 0, first.output
    assert "key 2 (sk-...0002) not carried: disabled by its health checks at the peer" in (
        first.stdout
    )
    channels = {c["name"]: c for c in await json_of(db_url, "channel", "list")}
    main = channels["openai-main"]
    assert main["key_selection"] == "round-robin" and main["tags"] == ["openai"]
    keys = await json_of(db_url, "channel", "keys", "list", str(main["id"]))
    assert [key["key_hint"] for key in keys] == ["sk-...0001", "sk-...0003"]
    assert {key["status"] for key in keys} == {"enabled"}

    second = await burncloud(db_url, "import", "newapi", peer_db.dsn)
    assert second.exit_code == 0, second.output
    assert second.stdout.rstrip().endswith(
        "no changes: the database already matches the New API database"
    )
