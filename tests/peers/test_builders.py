"""The peer builders write what GORM and the peers write."""

from __future__ import annotations

import pytest

from tests.peers.facts import PeerChannel, derive_abilities, peer_facts
from tests.peers.rows import peer_rows
from tests.peers.schema import ENGINES, Engine, column_sql, column_type, create_table
from tests.peers.tables import NEWAPI_ABILITIES, ONEAPI_ABILITIES, ONEAPI_CHANNELS, TABLES


@pytest.mark.parametrize("flavor", ["oneapi", "newapi"])
@pytest.mark.parametrize("engine", ENGINES)
def test_token_keys_are_unique_char48(flavor: str, engine: Engine) -> None:
    tokens = next(t for t in TABLES[flavor] if t.name == "tokens")
    assert column_type(tokens.col("key"), engine) == "char(48)"
    unique = [s for s in create_table(tokens, engine) if "UNIQUE INDEX" in s]
    assert len(unique) == 1 and "idx_tokens_key" in unique[0]


def test_mysql_strings_follow_gorms_varchar_191_rule() -> None:
    def mysql(name: str) -> str:
        return column_type(ONEAPI_CHANNELS.col(name), "mysql")

    assert mysql("name") == "varchar(191)"  # indexed
    assert mysql("base_url") == "varchar(191)"  # has a default
    assert mysql("models") == "longtext"  # neither
    assert mysql("group") == "varchar(32)"  # its type: tag
    assert column_type(ONEAPI_ABILITIES.col("model"), "mysql") == "varchar(191)"  # primary
    assert column_type(NEWAPI_ABILITIES.col("model"), "mysql") == "varchar(255)"


@pytest.mark.parametrize(
    ("engine", "sql"),
    [
        ("sqlite", "`group` varchar(32) DEFAULT 'default'"),
        ("mysql", "`group` varchar(32) DEFAULT 'default'"),
        ("postgresql", "\"group\" varchar(32) DEFAULT 'default'"),
    ],
)
def test_the_reserved_group_column_is_quoted_with_its_default(engine: Engine, sql: str) -> None:
    assert column_sql(ONEAPI_CHANNELS.col("group"), engine) == sql


def test_the_auto_id_is_each_engines_own() -> None:
    heads = [create_table(ONEAPI_CHANNELS, e)[0].split(",")[0] for e in ENGINES]
    assert heads == [
        "CREATE TABLE `channels` (`id` integer PRIMARY KEY AUTOINCREMENT",
        "CREATE TABLE `channels` (`id` bigint AUTO_INCREMENT",
        'CREATE TABLE "channels" ("id" bigserial',
    ]


@pytest.mark.parametrize("flavor", ["oneapi", "newapi"])
def test_abilities_are_every_group_for_every_model_once(flavor: str) -> None:
    channel = PeerChannel(
        9, 1, "c", "k", "", ("a", "b", "a"), ("default", "vip"), priority=3, weight=7,
        model_mapping={}, status=3, tag="t",
    )  # fmt: skip
    rows = derive_abilities(flavor, channel)
    assert sorted((a.group, a.model) for a in rows) == [
        ("default", "a"), ("default", "b"), ("vip", "a"), ("vip", "b"),
    ]  # fmt: skip
    assert {(a.enabled, a.priority) for a in rows} == {(False, 3)}  # auto-disabled
    assert {(a.weight, a.tag) for a in rows} == ({(7, "t")} if flavor == "newapi" else {(0, None)})


@pytest.mark.parametrize("flavor", ["oneapi", "newapi"])
def test_every_row_fills_exactly_its_tables_columns(flavor: str) -> None:
    rows = peer_rows(peer_facts(flavor, now=1_750_000_000))
    for table in TABLES[flavor]:
        columns = {c.name for c in table.columns}
        assert rows[table.name], table.name
        assert all(set(row) == columns for row in rows[table.name]), table.name
