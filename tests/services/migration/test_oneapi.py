"""Importing One API and New API databases: the manifest and report ``read_oneapi`` builds
from real peer schemas (tests/peers) on SQLite, MariaDB and PostgreSQL, every mapping rule
with its report line, and the peer's logs written once with their rollups."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from burncloud.crypto import SecretBox, hash_secret, mask_secret
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED
from burncloud.services import channels as channel_service
from burncloud.services.manifest.model import ChannelSpec, TokenSpec, UserSpec
from burncloud.services.migration.oneapi.importer import load_peer, read_oneapi
from burncloud.services.migration.oneapi.logs import (
    IdMap,
    LogRow,
    load_id_map,
    read_oneapi_logs,
    write_imported_logs,
)
from burncloud.services.migration.oneapi.peer_db import open_peer
from burncloud.services.migration.report import Migration
from burncloud.services.tokens import insert_token
from burncloud.services.users import add_user
from tests.gateway.test_logwriter import assert_rollup_matches_logs
from tests.peers.build import build_peer_database
from tests.peers.facts import PeerFacts, peer_facts
from tests.peers.fixtures import PeerDb

NANO_PER_UNIT = 2_000  # 10**9 / 500,000
BOX = SecretBox.from_passphrase("test-secret")


async def migrate(dsn: str, flavor: str) -> Migration:
    async with open_peer(dsn) as peer:
        return await read_oneapi(peer, flavor)


async def sqlite_peer(
    tmp_path: Path, flavor: str, *statements: str, facts: PeerFacts | None = None
) -> str:
    """A SQLite peer database of ``flavor`` with ``statements`` run on it after it is built."""
    dsn = await build_peer_database(flavor, "sqlite", tmp_path / flavor, facts)
    with closing(sqlite3.connect(dsn)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    return dsn


def lines(migration: Migration) -> list[str]:
    return [line.line() for line in (*migration.mapped, *migration.skipped)]


def channel(migration: Migration, name: str) -> ChannelSpec:
    assert migration.manifest.channels is not None
    return next(c for c in migration.manifest.channels if c.name == name)


def user(migration: Migration, name: str) -> UserSpec:
    assert migration.manifest.users is not None
    return next(u for u in migration.manifest.users if u.name == name)


def token(migration: Migration, owner: str, name: str) -> TokenSpec:
    assert migration.manifest.tokens is not None
    return next(t for t in migration.manifest.tokens if (t.user, t.name) == (owner, name))


# --- the realistic databases, on every engine ---------------------------------------------


async def test_channels_keep_their_upstreams_and_unknown_types_are_skipped(
    peer_db: PeerDb,
) -> None:
    migration = await migrate(peer_db.dsn, peer_db.flavor)
    facts = peer_db.facts
    main = channel(migration, "openai-main")
    assert (main.type, main.base_url, main.keys) == ("openai", None, (facts.channels[0].key,))
    assert main.models == ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
    assert (main.groups, main.weight, main.priority) == (("default", "vip"), 5, 10)
    assert main.model_map == {"gpt-4o": "gpt-4o-2024-08-06"} and main.enabled
    azure = channel(migration, "azure-east")
    assert azure.type == "azure" and azure.config == {"api_version": "2024-10-21"}
    assert azure.base_url == "https://contoso-east.openai.azure.com"
    assert channel(migration, "claude").type == "anthropic"
    assert channel(migration, "gemini").type == "gemini"
    old = channel(migration, "openai-old")
    assert not old.enabled and old.priority == -1
    names = {c.name for c in migration.manifest.channels or ()}
    assert "mj-proxy" not in names
    reason = {"oneapi": "type 1000 (unknown): a type code this importer does not know"}.get(
        peer_db.flavor, "type 2 (Midjourney): Midjourney: a media or task API"
    )
    assert any(line.startswith(f"channel mj-proxy #6: {reason}") for line in lines(migration))


async def test_users_keep_roles_groups_balances_and_inviters(peer_db: PeerDb) -> None:
    migration = await migrate(peer_db.dsn, peer_db.flavor)
    facts = peer_db.facts
    for peer_user in facts.users:
        ours = user(migration, peer_user.username)
        assert ours.balance == peer_user.quota * NANO_PER_UNIT
        assert ours.used == peer_user.used_quota * NANO_PER_UNIT
        assert ours.group == peer_user.group
        assert ours.invite_code == peer_user.aff_code
        assert ours.enabled == (peer_user.status == 1)
    assert [user(migration, n).role for n in ("root", "alice", "bob", "carol")] == [
        "admin", "user", "user", "admin",
    ]  # fmt: skip
    assert user(migration, "alice").inviter == "root"
    assert user(migration, "bob").inviter == "alice"
    assert user(migration, "carol").inviter is None


async def test_tokens_keep_their_keys_quotas_and_limits(peer_db: PeerDb) -> None:
    migration = await migrate(peer_db.dsn, peer_db.flavor)
    facts = peer_db.facts
    for peer_token in facts.tokens_of("alice")[:1]:
        ours = token(migration, "alice", peer_token.name)
        assert ours.key_sha256 == hash_secret("sk-" + peer_token.key)
        assert ours.key_hint == mask_secret("sk-" + peer_token.key, visible_prefix=7)
        assert ours.quota == peer_token.remain_quota * NANO_PER_UNIT
        assert ours.used == peer_token.used_quota * NANO_PER_UNIT
        assert ours.models == ("gpt-4o", "claude-3-5-sonnet-20241022")
        assert ours.ips == ("10.0.0.0/8", "192.168.1.0/24")
        assert ours.expires_at is None and ours.active
    assert token(migration, "root", "admin-all").quota == UNLIMITED
    assert token(migration, "alice", "ci").expires_at == 1_893_456_000
    second = token(migration, "alice", "ci #4")  # alice's second "ci"
    assert not second.active and second.key_sha256 == hash_secret("sk-" + facts.tokens[3].key)
    assert "token alice/ci #4: renamed 'ci #4': alice has a 'ci'" in lines(migration)
    expired = token(migration, "bob", "old")
    assert expired.active and expired.expires_at == 1_704_067_200
    assert "token bob/old: expired at the peer: imported with its expiry (refused)" in (
        lines(migration)
    )
    kept = {(t.user, t.name) for t in migration.manifest.tokens or ()}
    assert ("bob", "revoked") not in kept  # New API's soft-deleted token


async def test_unused_codes_groups_prices_settings_and_money_totals(peer_db: PeerDb) -> None:
    migration = await migrate(peer_db.dsn, peer_db.flavor)
    facts, manifest = peer_db.facts, migration.manifest
    unused = [r for r in facts.redemptions if r.unused]
    assert {r.code_sha256 for r in manifest.redemptions or ()} == {
        hash_secret(r.key) for r in unused
    }
    assert manifest.groups == {"default": Decimal(1), "vip": Decimal("0.8"), "svip": Decimal("0.5")}
    assert manifest.prices is not None
    gpt4o = manifest.prices.prices["gpt-4o"].rates.named()
    assert (gpt4o["input"], gpt4o["output"]) == (2_500_000_000, 10_000_000_000)
    assert manifest.settings == {
        "invite_reward_inviter": "1000000000",
        "invite_reward_invitee": "500000000",
    }
    totals = {total.what: total for total in migration.money}
    balances = totals["user balances"]
    assert balances.after == facts.user_quota_total * NANO_PER_UNIT and balances.exact
    assert balances.before == f"{facts.user_quota_total} units ($2031)"
    assert totals["unused redemption codes"].after == (
        facts.unused_redemption_total * NANO_PER_UNIT
    )
    limited = sum(t.quota for t in manifest.tokens or () if t.quota != UNLIMITED)
    assert totals["token quotas (limited tokens)"].after == limited
    assert migration.source == {"oneapi": "One API", "newapi": "New API"}[peer_db.flavor]


async def test_consume_logs_are_read_in_batches_by_name(peer_db: PeerDb) -> None:
    async with open_peer(peer_db.dsn) as peer:
        batches = [
            rows async for rows in read_oneapi_logs(peer, peer_db.flavor, since=None, batch=3)
        ]
    rows = [row for batch in batches for row in batch]
    consume = [log for log in peer_db.facts.logs if log.type == 2]
    assert [len(batch) for batch in batches] == [3, 3, 3]
    assert [row.request_id for row in rows] == [f"{peer_db.flavor}-{log.id}" for log in consume]
    first, peer_first = rows[0], consume[0]
    assert first.user == "alice" and first.token == ("alice", "laptop")
    assert first.channel == "openai-main" and first.model == "gpt-4o"
    assert first.cost == peer_first.quota * NANO_PER_UNIT
    assert (first.prompt_tokens, first.completion_tokens) == (
        peer_first.prompt_tokens,
        peer_first.completion_tokens,
    )
    assert first.latency_ms == (850 if peer_db.flavor == "oneapi" else 2000)
    assert [row.stream for row in rows] == [log.is_stream for log in consume]


# --- the rules, one by one (SQLite) ---------------------------------------------------------


async def test_a_new_api_database_read_as_one_api_is_refused(tmp_path: Path) -> None:
    dsn = await sqlite_peer(tmp_path, "newapi")
    with pytest.raises(InvalidRequest, match="this is a New API database"):
        await migrate(dsn, "oneapi")


async def test_a_database_without_the_peers_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE channels (id INTEGER)")
    with pytest.raises(InvalidRequest, match="not a One API database \\(no users table\\)"):
        await migrate(str(path), "oneapi")


KEYS = tuple(f"sk-{n}{'x' * 20}{n:04d}" for n in range(1, 5))  # masked sk-...0001, ...


def multi_key(keys: tuple[str, ...], info: dict[str, Any], channel_id: int = 1) -> str:
    """New API's UPDATE making a channel a multi-key one (``channel_info`` as it stores it)."""
    data = {"is_multi_key": True, "multi_key_size": len(keys), "multi_key_polling_index": 0}
    text = json.dumps({**data, **info}).replace("'", "''")
    return (
        f"UPDATE channels SET key = '{chr(10).join(keys)}', channel_info = '{text}'"
        f" WHERE id = {channel_id}"
    )


async def test_a_multi_key_channel_keeps_the_keys_it_used_and_how_they_took_turns(
    tmp_path: Path,
) -> None:
    info = {
        "multi_key_mode": "polling",
        "multi_key_status_list": {"1": 2, "3": 3},
        "multi_key_disabled_reason": {"3": "insufficient_quota: you\nran out"},
    }
    dsn = await sqlite_peer(tmp_path, "newapi", multi_key(KEYS, info))
    migration = await migrate(dsn, "newapi")
    main = channel(migration, "openai-main")
    assert (main.keys, main.key_selection) == ((KEYS[0], KEYS[2]), "round-robin")
    said = lines(migration)
    assert (
        "channel openai-main #1: key 2 (sk-...0002) not carried: disabled by hand at the peer"
        in said
    )
    assert (
        "channel openai-main #1: key 4 (sk-...0004) not carried: disabled by its health checks"
        " at the peer (insufficient_quota: you ran out)" in said
    )
    assert any(
        line.startswith("channel openai-main #1: openai channel at")
        and line.endswith("; 2 keys, round-robin")
        for line in said
    )
    assert not any(key in line for line in said for key in KEYS)  # only masked


@pytest.mark.parametrize(
    ("mode", "selection", "report"),
    [
        ("random", "random", None),
        ("polling", "round-robin", None),
        ("sticky", "random", "multi-key mode 'sticky' has no equivalent"),
        ("", "random", "no multi-key mode (its first enabled key) has no equivalent"),
    ],
)
async def test_new_apis_multi_key_modes(
    tmp_path: Path, mode: str, selection: str, report: str | None
) -> None:
    dsn = await sqlite_peer(tmp_path, "newapi", multi_key(KEYS[:2], {"multi_key_mode": mode}))
    migration = await migrate(dsn, "newapi")
    main = channel(migration, "openai-main")
    assert (main.keys, main.key_selection) == (KEYS[:2], selection)
    found = [line for line in lines(migration) if "no equivalent: its keys are used" in line]
    assert found == (
        [] if report is None else [f"channel openai-main #1: {report}: its keys are used at random"]
    )


async def test_a_multi_key_channel_with_every_key_disabled_carries_them_all(
    tmp_path: Path,
) -> None:
    info = {"multi_key_mode": "random", "multi_key_status_list": {"0": 3, "1": 3}}
    update = multi_key(KEYS[:2], info)
    dsn = await sqlite_peer(
        tmp_path, "newapi", update, "UPDATE channels SET status = 3 WHERE id = 1"
    )
    migration = await migrate(dsn, "newapi")
    main = channel(migration, "openai-main")
    assert main.keys == KEYS[:2] and not main.enabled
    assert "channel openai-main #1: every key is disabled at the peer: all 2 carried" in lines(
        migration
    )


@pytest.mark.parametrize("flavor", ["oneapi", "newapi"])
async def test_a_key_field_of_several_lines_outside_multi_key_mode_becomes_keys(
    tmp_path: Path, flavor: str
) -> None:
    text = "\n".join((KEYS[0], "", f"  {KEYS[1]}  ", KEYS[0]))
    dsn = await sqlite_peer(tmp_path, flavor, f"UPDATE channels SET key = '{text}' WHERE id = 1")
    migration = await migrate(dsn, flavor)
    main = channel(migration, "openai-main")
    assert (main.keys, main.key_selection) == (KEYS[:2], "random")
    said = lines(migration)
    assert (
        "channel openai-main #1: its key holds 3 keys, one per line, which the peer sends as"
        " one key (not a multi-key channel there): imported as 3 keys, used at random" in said
    )
    assert "channel openai-main #1: key 3 (sk-...0001) not carried: the same key as key 1" in said


async def test_aws_keys_of_another_region_cannot_share_their_channel(tmp_path: Path) -> None:
    keys = ("AK1|SK1|us-west-2", "AK2|SK2|us-west-2", "AK3|SK3|eu-west-1", "bad")
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "UPDATE channels SET type = 33, base_url = '', models = 'claude-3-haiku-20240307'"
        " WHERE id = 3",
        multi_key(keys, {"multi_key_mode": "random"}, channel_id=3),
    )
    migration = await migrate(dsn, "newapi")
    claude = channel(migration, "claude")
    assert (claude.keys, claude.config) == (("AK1:SK1", "AK2:SK2"), {"region": "us-west-2"})
    said = lines(migration)
    assert (
        "channel claude #3: key 3 (AK3...st-1) not carried: it needs other settings (such as"
        " another region) than the channel's first key; add it as a channel of its own" in said
    )
    assert any(line.startswith("channel claude #3: key 4 (***) not carried: ") for line in said)


async def test_new_apis_overrides_are_reported_by_name_never_by_value(tmp_path: Path) -> None:
    headers = '{"Authorization": "Bearer {api_key}", "X-Org": "acme-org"}'
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        f"UPDATE channels SET header_override = '{headers}',"
        " param_override = '{\"temperature\": 0.3}' WHERE id = 1",
    )
    migration = await migrate(dsn, "newapi")
    assert channel(migration, "openai-main").overrides == {}
    said = lines(migration)
    assert (
        "channel openai-main #1: its header overrides (Authorization, X-Org) not carried (the"
        " peer's semantics differ): set them with burncloud channel update ID --set-header"
        " NAME=VALUE" in said
    )
    params = "channel openai-main #1: its parameter overrides (temperature) not carried"
    assert any(line.startswith(params) for line in said)
    assert not any("acme-org" in line or "api_key" in line for line in said)


async def test_new_apis_tag_is_the_channels_tag(tmp_path: Path) -> None:
    dsn = await sqlite_peer(tmp_path, "newapi", "UPDATE channels SET tag = 'a b' WHERE id = 3")
    migration = await migrate(dsn, "newapi")
    assert channel(migration, "openai-main").tags == ("openai",)
    assert channel(migration, "claude").tags == ()
    assert "channel claude #3: tag 'a b': a tag cannot hold spaces or commas" in lines(migration)


async def test_mapping_status_and_name_rules(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE channels SET status = 3 WHERE id = 3",
        "UPDATE channels SET name = 'claude' WHERE id = 4",
        "UPDATE channels SET model_mapping = '{\"gpt-4o\": 7}' WHERE id = 1",
    )
    migration = await migrate(dsn, "oneapi")
    said = lines(migration)
    assert not channel(migration, "claude").enabled
    assert (
        "channel claude #3: disabled by the peer's health checks: imported disabled"
        " (check its key)" in said
    )
    renamed = channel(migration, "claude #4")
    assert renamed.type == "gemini"
    assert "channel claude #4: renamed 'claude #4': the name is taken" in said
    assert (
        "channel deepseek #5: model mapping deepseek-r1 -> deepseek-reasoner: the channel does"
        " not list deepseek-r1" in said
    )
    assert channel(migration, "deepseek").model_map == {}
    assert channel(migration, "openai-main").model_map == {}
    assert "channel openai-main #1: model mapping 'gpt-4o': not a model name" in said


async def test_abilities_that_differ_from_their_channel_are_reported(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE abilities SET enabled = 0 WHERE channel_id = 1 AND model = 'gpt-4o'"
        " AND \"group\" = 'vip'",
        "UPDATE abilities SET priority = 99 WHERE channel_id = 3 AND model ="
        " 'claude-3-5-haiku-20241022' AND \"group\" = 'default'",
        "DELETE FROM abilities WHERE channel_id = 4",
        'INSERT INTO abilities ("group", model, channel_id, enabled, priority)'
        " VALUES ('default', 'gpt-3.5-turbo', 1, 1, 10), ('default', 'x', 42, 1, 0)",
    )
    said = lines(await migrate(dsn, "oneapi"))
    assert (
        "channel openai-main #1: abilities disabled by themselves at the peer (here they follow"
        " the channel): vip/gpt-4o" in said
    )
    assert (
        "channel openai-main #1: abilities at the peer for what the channel does not list here"
        " (not carried): default/gpt-3.5-turbo" in said
    )
    assert (
        "channel claude #3: abilities with a priority of their own at the peer (here the"
        " channel's): default/claude-3-5-haiku-20241022=99" in said
    )
    assert (
        "channel gemini #4: served here, though the peer had no ability row for them:"
        " vip/gemini-1.5-flash, vip/gemini-1.5-pro" in said
    )
    assert "ability 1 rows: they name channels the peer no longer has" in said
    assert not any(line.startswith("channel azure-east") and "abilities" in line for line in said)


async def test_azure_deployments_lose_their_dots_as_the_peers_named_them(tmp_path: Path) -> None:
    models = "UPDATE channels SET models = 'gpt-3.5-turbo,gpt-4o', model_mapping = '' WHERE id = 2"
    one = await migrate(await sqlite_peer(tmp_path / "one", "oneapi", models), "oneapi")
    assert channel(one, "azure-east").config == {
        "api_version": "2024-10-21",
        "deployments": "gpt-3.5-turbo=gpt-35-turbo",
    }
    recent = "UPDATE channels SET created_time = 1746835200, other = '' WHERE id = 2"
    new = await migrate(await sqlite_peer(tmp_path / "new", "newapi", models, recent), "newapi")
    assert channel(new, "azure-east").config == {"api_version": "2025-04-01-preview"}
    assert any("API version 2025-04-01-preview: New API's default" in line for line in lines(new))


async def test_aws_keys_become_bedrock_credentials_and_model_ids(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE channels SET type = 33, key = 'AKIAEXAMPLE|s3cr3t|us-west-2', base_url = '',"
        " models = 'claude-3-haiku-20240307,llama3-8b-8192,mystery' WHERE id = 3",
        'UPDATE channels SET type = 33, key = \'only-one-part\', config = \'{"ak":"AK2",'
        ' "sk":"SK2","region":"eu-central-1"}\' WHERE id = 4',
        "UPDATE channels SET type = 33, key = 'A|B|nowhere' WHERE id = 7",
    )
    migration = await migrate(dsn, "oneapi")
    bedrock = channel(migration, "claude")
    assert (bedrock.type, bedrock.keys, bedrock.base_url) == (
        "bedrock",
        ("AKIAEXAMPLE:s3cr3t",),
        None,
    )
    assert bedrock.config == {"region": "us-west-2"}
    assert bedrock.model_map == {
        "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
        "llama3-8b-8192": "meta.llama3-8b-instruct-v1:0",
    }
    said = lines(migration)
    assert any("no Bedrock model id known for mystery: sent as named" in line for line in said)
    other = channel(migration, "gemini")
    assert (other.keys, other.config) == (("AK2:SK2",), {"region": "eu-central-1"})
    assert any(
        line.startswith("channel openai-old #7: type 33 (AwsClaude): not an AWS region")
        for line in said
    )


async def test_kinds_with_a_url_of_their_own(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE channels SET type = 17, base_url = '' WHERE id = 3",
        'UPDATE channels SET config = \'{"api_version":"v1beta"}\' WHERE id = 4',
        "UPDATE channels SET type = 50, base_url = 'https://llm.example.com' WHERE id = 5",
        "UPDATE channels SET type = 29, base_url = '', system_prompt = 'Be brief.' WHERE id = 7",
    )
    migration = await migrate(dsn, "oneapi")
    qwen = channel(migration, "claude")
    assert (qwen.type, qwen.base_url) == ("qwen", None)  # DashScope's compatible mode
    assert channel(migration, "gemini").config == {"api_version": "v1beta"}
    groq = channel(migration, "openai-old")
    assert (groq.type, groq.base_url) == ("openai-compatible", "https://api.groq.com/openai/v1")
    said = lines(migration)
    assert any("DashScope's OpenAI-compatible mode" in line for line in said)
    assert (
        "channel deepseek #5: type 50 (OpenAICompatible): the peer calls"
        " https://llm.example.com/chat/completions; an OpenAI-style channel here needs a base"
        " URL with a path (one without gets /v1)" in said
    )
    assert (
        "channel openai-old #7: its system prompt (Be brief.) has no equivalent: not carried"
        in said
    )


async def test_new_api_custom_channels_hold_the_whole_url(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "UPDATE channels SET base_url = 'https://api.deepseek.com/v1/chat/completions',"
        ' setting = \'{"force_format":false,"proxy":"socks5://p:1080"}\' WHERE id = 5',
    )
    migration = await migrate(dsn, "newapi")
    custom = channel(migration, "deepseek")
    assert (custom.type, custom.base_url) == ("openai-compatible", "https://api.deepseek.com/v1")
    assert "channel deepseek #5: its extra settings (proxy) has no equivalent: not carried" in (
        lines(migration)
    )
    assert not any("openai-main #1: its extra settings" in line for line in lines(migration))


async def test_user_rules(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "UPDATE users SET username = '12345', role = 0 WHERE id = 3",
        "UPDATE users SET quota = -40000, \"group\" = 'my group', aff_quota = 1000 WHERE id = 4",
        "UPDATE users SET username = '" + "x" * 70 + "' WHERE id = 2",
        "UPDATE users SET deleted_at = '2025-01-01 00:00:00' WHERE id = 1",
    )
    migration = await migrate(dsn, "newapi")
    said = lines(migration)
    renamed = user(migration, "user-12345")
    assert renamed.role == "user" and renamed.inviter == "x" * 62 + "-2"
    assert (
        "user 12345 #3: renamed 'user-12345': a user name cannot be all digits (read as an"
        " id): '12345'" in said
    )
    assert "user 12345 #3: role 0 has no equivalent: imported as a user" in said
    carol = user(migration, "carol")
    assert carol.balance == 0 and carol.group == "default"
    assert "user carol #4: a negative balance of -40000 units (-$0.08) is not carried" in said
    assert "user carol #4: group 'my group' is not a group name: default" in said
    assert any(line.startswith("user carol #4: invitation rewards of 1000 units") for line in said)
    assert "user 1 rows: deleted at the peer" in said
    assert "user " + "x" * 70 + " #2: its inviter (user #1) is not imported" in said
    assert all(t.user != "root" for t in migration.manifest.tokens or ())
    assert "token admin-all #1: its user is not imported" in said
    balances = next(t for t in migration.money if t.what == "user balances")
    assert balances.after == (12_500_000 + 500_000) * NANO_PER_UNIT


async def test_a_one_api_deleted_user_is_skipped(tmp_path: Path) -> None:
    dsn = await sqlite_peer(tmp_path, "oneapi", "UPDATE users SET status = 3 WHERE id = 3")
    migration = await migrate(dsn, "oneapi")
    assert all(u.name != "bob" for u in migration.manifest.users or ())
    assert "user 1 rows: deleted at the peer" in lines(migration)


async def test_token_rules(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE tokens SET subnet = '10.1.2.3/8, bogus,192.168.0.7' WHERE id = 2",
        "UPDATE tokens SET subnet = 'nope' WHERE id = 3",
        "UPDATE tokens SET status = 4, name = '' WHERE id = 6",
    )
    migration = await migrate(dsn, "oneapi")
    said = lines(migration)
    laptop = token(migration, "alice", "laptop")
    assert laptop.ips == ("10.0.0.0/8", "192.168.0.7/32") and laptop.active
    assert "token alice/laptop: IP limit 'bogus' is not an address or network: dropped" in said
    assert not token(migration, "alice", "ci").active
    assert "token alice/ci: no IP limit is valid: the peer refused every address; revoked" in said
    ops = token(migration, "carol", "token 6")
    assert ops.active
    assert "token carol/token 6: exhausted at the peer: imported with its quota (refused)" in said


async def test_a_token_whose_model_limits_cannot_be_kept_is_revoked(tmp_path: Path) -> None:
    """An empty list allows every model here: a limit none of whose names can be kept must
    not turn into no limit."""
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE tokens SET models = 'gpt 4o,my model' WHERE id = 3",
        "UPDATE tokens SET models = 'gpt-4o,bad name' WHERE id = 6",
    )
    migration = await migrate(dsn, "oneapi")
    said = lines(migration)
    ci = token(migration, "alice", "ci")
    assert (ci.models, ci.active) == ((), False)
    assert "token alice/ci: none of its model limits can be kept: imported revoked" in said
    ops = token(migration, "carol", "ops")
    assert (ops.models, ops.active) == (("gpt-4o",), True)
    assert "token carol/ops: model limit 'bad name': a model name cannot hold spaces" in said


async def test_new_api_model_limits_apply_only_when_enabled(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "UPDATE tokens SET model_limits_enabled = 0 WHERE id = 2",
        "UPDATE tokens SET \"group\" = 'svip' WHERE id = 6",
    )
    migration = await migrate(dsn, "newapi")
    assert token(migration, "alice", "laptop").models == ()
    assert (
        "token ops #6: its own group 'svip' has no equivalent: it bills at its user's group here"
        in lines(migration)
    )


async def test_redemption_rules(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "UPDATE redemptions SET expired_time = 1704067200 WHERE id = 1",
        "UPDATE redemptions SET expired_time = 1893456000 WHERE id = 2",
    )
    migration = await migrate(dsn, "newapi")
    said = lines(migration)
    assert "redemption welcome #1: expired at the peer" in said
    assert "redemption promo #2: its expiry (1893456000) has no equivalent" in said
    assert "redemption 2 codes: used, disabled or deleted at the peer" in said
    codes = migration.manifest.redemptions or ()
    assert [(c.quota, c.hint) for c in codes] == [
        (500_000 * NANO_PER_UNIT, mask_secret(peer_facts("newapi").redemptions[1].key))
    ]


async def test_an_odd_quota_per_unit_rounds_and_says_so(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE options SET value = '3' WHERE key = 'QuotaPerUnit'",
        "DELETE FROM options WHERE key IN ('ModelRatio', 'GroupRatio')",
    )
    migration = await migrate(dsn, "oneapi")
    balances = next(t for t in migration.money if t.what == "user balances")
    assert not balances.exact
    assert balances.after == sum(
        round(Decimal(u.quota) * 10**9 / 3) for u in peer_facts("oneapi").users
    )
    assert any(note.startswith("QuotaPerUnit 3 does not divide") for note in migration.notes)
    assert migration.manifest.prices is None
    assert any(note.startswith("ModelRatio is not set at the peer") for note in migration.notes)
    assert migration.manifest.groups == {"default": 1, "svip": 1, "vip": 1}


async def test_the_source_names_the_new_api_version_it_records(tmp_path: Path) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "newapi",
        "CREATE TABLE setups (id integer primary key, version text, initialized_at integer)",
        "INSERT INTO setups VALUES (1, 'v0.9.0', 0)",
    )
    assert (await migrate(dsn, "newapi")).source == "New API v0.9.0"


async def test_the_specs_are_ones_the_channel_service_accepts(tmp_path: Path, db: Database) -> None:
    dsn = await sqlite_peer(
        tmp_path,
        "oneapi",
        "UPDATE channels SET type = 17, base_url = '' WHERE id = 6",
        "UPDATE channels SET type = 33, key = 'AK|SK|us-east-1', models = 'claude-2.1'"
        " WHERE id = 7",
        "UPDATE channels SET models = 'gpt-3.5-turbo', model_mapping = '' WHERE id = 2",
    )
    migration = await migrate(dsn, "oneapi")
    kinds = {spec.type for spec in migration.manifest.channels or ()}
    assert kinds == {
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "openai-compatible",
        "qwen",
        "bedrock",
    }
    for name in ("vip", "svip"):
        await db.execute(
            "INSERT INTO user_groups (name, ratio, updated_at) VALUES (:n, '1', 0)", {"n": name}
        )
    for spec in migration.manifest.channels or ():
        added = await channel_service.add_channel(
            db, BOX, type=spec.type, name=spec.name, key=spec.keys or (), models=spec.models,
            base_url=spec.base_url, groups=spec.groups, weight=spec.weight,
            priority=spec.priority, model_map=spec.model_map, config=spec.config,
        )  # fmt: skip
        assert (added.name, added.type) == (spec.name, spec.type)


# --- logs ------------------------------------------------------------------------------


async def our_names(db: Database, facts: PeerFacts) -> None:
    """Users, tokens and channels here with the names the import gives them."""
    for name in ("vip", "svip"):
        await db.execute(
            "INSERT INTO user_groups (name, ratio, updated_at) VALUES (:n, '1', 0)", {"n": name}
        )
    ids = {}
    for peer_user in facts.users:
        ids[peer_user.username] = (await add_user(db, name=peer_user.username)).id
    async with db.transaction() as tx:
        for owner, name in (("alice", "laptop"), ("alice", "ci"), ("carol", "ops")):
            await insert_token(tx, name=name, user_id=ids[owner])
    await channel_service.add_channel(
        db, BOX, type="openai", name="openai-main", key="sk-x", models=["gpt-4o"]
    )


async def test_imported_logs_are_written_once_with_their_rollups(
    tmp_path: Path, db: Database
) -> None:
    facts = peer_facts("oneapi")
    dsn = await build_peer_database("oneapi", "sqlite", tmp_path / "peer", facts)
    await our_names(db, facts)
    async with open_peer(dsn) as peer:
        loaded = await load_peer(peer, "oneapi")
        rows = [
            row
            async for batch in read_oneapi_logs(
                peer, "oneapi", since=facts.now - 15 * 86_400, batch=4, loaded=loaded
            )
            for row in batch
        ]
    assert [row.request_id for row in rows] == [f"oneapi-{i}" for i in (6, 8, 9, 10, 11, 12)]
    async with db.transaction() as tx:
        assert await write_imported_logs(tx, rows) == 6
    async with db.transaction() as tx:
        assert await write_imported_logs(tx, rows + rows) == 0
    logged = await db.fetch_all("SELECT * FROM logs ORDER BY created_at")
    assert [row["request_id"] for row in logged] == [row.request_id for row in rows]
    ids = await load_id_map(db)
    by_id = {row["request_id"]: row for row in logged}
    ninth = by_id["oneapi-9"]
    assert ninth["user_id"] == ids.users["alice"]
    assert ninth["token_id"] == ids.tokens[("alice", "laptop")]
    assert ninth["channel_id"] is None  # azure-east is not a channel here
    assert by_id["oneapi-8"]["channel_id"] == ids.channels["openai-main"]
    assert ninth["cost"] == 4_100 * NANO_PER_UNIT and ninth["status"] == 200
    assert by_id["oneapi-12"]["token_id"] == ids.tokens[("carol", "ops")]
    await assert_rollup_matches_logs(db)


async def test_written_logs_take_the_ids_they_are_given(db: Database) -> None:
    row = LogRow(
        request_id="newapi-1", created_at=1_718_000_000, user="alice", token=("alice", "k"),
        channel="main", model="gpt-4o", prompt_tokens=10, completion_tokens=5, cached_tokens=4,
        cost=7, latency_ms=1500, stream=True,
    )  # fmt: skip
    ids = IdMap(users={"alice": 41}, tokens={("alice", "k"): 42}, channels={"main": 43})
    async with db.transaction() as tx:
        assert await write_imported_logs(tx, [row, replace(row, cost=9)], ids) == 1
    stored = await db.fetch_one("SELECT * FROM logs WHERE request_id = 'newapi-1'")
    assert stored is not None
    assert (stored["user_id"], stored["token_id"], stored["channel_id"]) == (41, 42, 43)
    assert (stored["cached_tokens"], stored["cost"], stored["stream"]) == (4, 7, 1)
    assert stored["latency_ms"] == 1500
    await assert_rollup_matches_logs(db)
