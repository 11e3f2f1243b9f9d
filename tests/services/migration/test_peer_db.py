"""Reading real One API / New API databases on SQLite, MariaDB and PostgreSQL, read-only."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.migration.oneapi.peer_db import open_peer, plain
from tests.peers.fixtures import PeerDb
from tests.peers.tables import TABLES

SECRET = "hunter2-Secret"
WRITES = [
    "UPDATE users SET quota = 0",
    "INSERT INTO options (`key`, value) VALUES ('x', 'y')",
    "DELETE FROM tokens",
    "CREATE TABLE intruder (a int)",
]


async def test_tokens_come_back_with_their_keys_and_quotas(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        rows = await db.fetch_all("SELECT * FROM tokens ORDER BY id")
    facts = peer_db.facts.tokens
    assert [r["key"] for r in rows] == [t.key for t in facts]
    assert all(len(r["key"]) == 48 and not r["key"].startswith("sk-") for r in rows)
    assert [r["remain_quota"] for r in rows] == [t.remain_quota for t in facts]
    assert [r["unlimited_quota"] for r in rows] == [int(t.unlimited) for t in facts]
    assert [r["expired_time"] for r in rows] == [t.expired_time for t in facts]


async def test_reserved_column_names_are_quoted_per_engine(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        group, key = db.quote("group"), db.quote("key")
        users = await db.fetch_all(f"SELECT username, {group}, quota FROM users ORDER BY id")
        options = await db.fetch_all(f"SELECT {key}, value FROM options")
    assert [(u["username"], u["group"], u["quota"]) for u in users] == [
        (u.username, u.group, u.quota) for u in peer_db.facts.users
    ]
    assert {o["key"]: o["value"] for o in options} == dict(peer_db.facts.options)


async def test_abilities_are_the_peers_own_derivation(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        rows = await db.fetch_all(
            f"SELECT {db.quote('group')} AS g, model, channel_id, enabled, priority FROM abilities"
        )
    got = {(r["g"], r["model"], r["channel_id"], r["enabled"], r["priority"]) for r in rows}
    want = {
        (a.group, a.model, a.channel_id, int(a.enabled), a.priority)
        for a in peer_db.facts.abilities
    }
    assert got == want and len(rows) == len(want)


async def test_every_value_is_plain_python(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        for table in TABLES[peer_db.flavor]:
            for row in await db.fetch_all(f"SELECT * FROM {db.quote(table.name)}"):
                odd = {k: v for k, v in row.items() if not isinstance(v, int | str | float | None)}
                assert not odd, f"{table.name}: {odd}"
                assert not any(isinstance(v, bool) for v in row.values())


async def test_columns_and_tables_are_read_from_the_catalog(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        for table in TABLES[peer_db.flavor]:
            assert await db.table_columns(table.name) == {c.name for c in table.columns}
            assert await db.has_table(table.name)
        assert not await db.has_table("midjourneys_v9")
        assert await db.table_columns("midjourneys_v9") == set()


@pytest.mark.parametrize("peer_flavor", ["oneapi"])
async def test_writes_are_refused_and_change_nothing(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        for statement in WRITES:
            sql = statement.replace("`", "") if db.engine == "postgresql" else statement
            with pytest.raises(InvalidRequest, match="query failed") as caught:
                await db.fetch_all(sql)
            assert "\n" not in caught.value.message
        # the session survives a refused statement (PostgreSQL: each one in a savepoint)
        assert await db.fetch_all("SELECT count(*) AS n FROM tokens") == [{"n": 6}]
    async with open_peer(peer_db.dsn) as db:
        root = await db.fetch_all("SELECT quota FROM users WHERE id = 1")
        assert root == [{"quota": peer_db.facts.user("root").quota}]
        assert not await db.has_table("intruder")


@pytest.mark.parametrize("peer_engine", ["sqlite"])
async def test_a_sqlite_peer_file_is_left_byte_for_byte(peer_db: PeerDb) -> None:
    path = Path(peer_db.dsn)
    before = hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest()
    async with open_peer(f"sqlite://{path}") as db:
        await db.fetch_all("SELECT * FROM logs")
        with pytest.raises(InvalidRequest):
            await db.fetch_all("DELETE FROM logs")
    assert hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("peer_flavor", ["newapi"])
async def test_iter_rows_pages_by_the_order_column(peer_db: PeerDb) -> None:
    logs = peer_db.facts.logs
    async with open_peer(peer_db.dsn) as db:
        pages = [page async for page in db.iter_rows("SELECT * FROM logs", "id", 5)]
        exact = [page async for page in db.iter_rows("SELECT id FROM logs", "id", 4)]
        since = logs[5].created_at
        recent = [
            [r["id"] for r in page]
            async for page in db.iter_rows(
                f"SELECT id, model_name FROM logs WHERE created_at >= {since}"
                " AND model_name LIKE 'gpt%'",
                "id",
                2,
            )
        ]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [r["id"] for p in pages for r in p] == [g.id for g in logs]
    assert [len(p) for p in exact] == [4, 4, 4]
    gpt = [g.id for g in logs if g.created_at >= since and g.model_name.startswith("gpt")]
    assert [i for page in recent for i in page] == gpt and all(len(p) <= 2 for p in recent)


@pytest.mark.parametrize("peer_flavor", ["oneapi"])
async def test_iter_rows_refuses_a_bad_batch_or_order_column(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        with pytest.raises(InvalidRequest, match="batch must be"):
            _ = [page async for page in db.iter_rows("SELECT * FROM logs", "id", 0)]
        # the servers refuse the outer ORDER BY; SQLite reads "id" as a string and the
        # first page shows the column missing
        with pytest.raises(InvalidRequest, match=r"""order column 'id' is not|"id"|'id'"""):
            _ = [page async for page in db.iter_rows("SELECT type FROM logs", "id", 1)]


@pytest.mark.parametrize("peer_flavor", ["oneapi"])
@pytest.mark.parametrize("peer_engine", ["mysql"])
async def test_mysql_calls_take_turns_on_the_one_connection(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as db:
        results = await asyncio.gather(
            *(db.fetch_all(f"SELECT id FROM users WHERE id = {i}") for i in range(1, 5))
        )
    assert results == [[{"id": i}] for i in range(1, 5)]


@pytest.mark.parametrize("peer_flavor", ["oneapi"])
@pytest.mark.parametrize("peer_engine", ["mysql"])
async def test_the_go_dsn_of_the_peers_sql_dsn_reads_the_same_database(peer_db: PeerDb) -> None:
    host_db = peer_db.dsn.split("@", 1)[1]  # 127.0.0.1:3306/bc_peer_...
    address, database = host_db.split("/", 1)
    user = peer_db.dsn.split("://", 1)[1].split("@", 1)[0]
    go_dsn = f"{user}@tcp({address})/{database}?charset=utf8mb4&parseTime=True&loc=Local"
    async with open_peer(go_dsn) as db:
        assert [
            r["username"] for r in await db.fetch_all("SELECT username FROM users ORDER BY id")
        ] == [u.username for u in peer_db.facts.users]


@pytest.mark.parametrize("peer_flavor", ["oneapi"])
@pytest.mark.parametrize("peer_engine", ["mysql", "postgresql"])
async def test_server_types_come_back_plain(peer_db: PeerDb) -> None:
    """Sums are decimals on MySQL, binary strings bytes on both: plain values here."""
    binary = "CAST('abc' AS BINARY)" if peer_db.engine == "mysql" else "'abc'::bytea"
    async with open_peer(peer_db.dsn) as db:
        rows = await db.fetch_all(f"SELECT SUM(quota) AS s, {binary} AS b, 1.5 AS f FROM users")
    assert rows == [{"s": peer_db.facts.user_quota_total, "b": "abc", "f": 1.5}]


@pytest.mark.parametrize(
    "dsn",
    [
        f"mysql://root:{SECRET}@127.0.0.1:1/oneapi",
        f"root:{SECRET}@tcp(127.0.0.1:1)/oneapi",
        f"postgres://postgres:{SECRET}@127.0.0.1:1/oneapi",
    ],
)
async def test_a_refused_connection_is_one_line_without_the_password(dsn: str) -> None:
    with pytest.raises(InvalidRequest, match="cannot connect") as caught:
        async with open_peer(dsn):
            pass
    message = caught.value.message
    assert SECRET not in message and "***" in message and "\n" not in message


async def test_a_file_that_is_not_a_database_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "one-api.db"
    path.write_text("this is a docker-compose.yml, not a database\n" * 100)
    with pytest.raises(InvalidRequest, match="cannot connect"):
        async with open_peer(str(path)):
            pass


def test_the_engines_quote_identifiers_their_way(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"")
    assert open_peer(str(path)).quote('we"ird') == '"we""ird"'
    assert open_peer("mysql://u@h/d").quote("gro`up") == "`gro``up`"
    assert open_peer("postgres://u@h/d").quote("group") == '"group"'


def test_plain_turns_driver_values_into_plain_python() -> None:
    assert plain(True) == 1 and type(plain(True)) is int
    assert plain(b"sk-\xe2\x82\xac") == "sk-€"
    assert plain(memoryview(b"abc")) == "abc"
    assert plain(b"\xff\xfe") == "\xff\xfe"
    assert plain(Decimal("12500000")) == 12_500_000 and type(plain(Decimal("7"))) is int
    assert plain(Decimal("0.075")) == 0.075
    assert plain(datetime(2025, 3, 1, tzinfo=UTC)) == "2025-03-01T00:00:00+00:00"
    assert plain(None) is None
