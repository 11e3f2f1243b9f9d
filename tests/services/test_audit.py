"""The audit trail's service, on SQLite and PostgreSQL: what a change records (fields that
differ, secrets masked), who (the actor of the context, ``unknown`` without one), in the
writer's transaction, append-only, and how the trail is read."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import audit, channels, prices, redemptions
from burncloud.services.admin_keys import create_admin_key, rotate_admin_key
from burncloud.services.audit import (
    AuditFilter,
    acting_as,
    current_actor,
    list_changes,
    parse_object,
    parse_since,
    record_change,
    set_actor,
)
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.groups import set_group
from burncloud.services.leases import TOKEN
from burncloud.services.quota import add_token_quota
from burncloud.services.tokens import create_token
from tests.conftest import CANARY_PREFIX
from tests.gateway.quota_db import BACKENDS, database_factory
from tests.key_fragments import fragments_in

BOX = SecretBox.from_passphrase("test-secret")
CANARY = f"{CANARY_PREFIX}service-0123456789abcdefghijklmn"
CANARY_2 = f"{CANARY_PREFIX}service-rotated-zyxwvutsrqponm98"


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


async def trail(db: Database) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(actor, object, action, name, changes) of every row, oldest first."""
    rows = await db.fetch_all("SELECT * FROM audit_log ORDER BY id")
    return [
        (
            row["actor"],
            f"{row['object_kind']}:{row['object_id']}",
            row["action"],
            row["object_name"],
            orjson.loads(row["changes"]),
        )
        for row in rows
    ]


async def test_a_change_records_the_fields_that_differ_and_masks_secrets(db: Database) -> None:
    async with db.transaction() as tx:
        await record_change(tx, "hook", 1, "ops", None, {"url": "http://a", "secret": "s1"})
        await record_change(
            tx,
            "hook",
            1,
            "ops",
            {"url": "http://a", "secret": "s1"},
            {"url": "http://b", "secret": "s2"},
        )
        await record_change(tx, "hook", 1, "ops", {"url": "http://b", "secret": "s2"}, None)
    assert await trail(db) == [
        (
            "unknown",
            "hook:1",
            "create",
            "ops",
            {"url": [None, "http://a"], "secret": [None, "(set)"]},
        ),
        (
            "unknown",
            "hook:1",
            "update",
            "ops",
            {"url": ["http://a", "http://b"], "secret": ["(hidden)", "(changed)"]},
        ),
        (
            "unknown",
            "hook:1",
            "delete",
            "ops",
            {"url": ["http://b", None], "secret": ["(hidden)", None]},
        ),
    ]


async def test_an_update_that_changes_nothing_records_nothing(db: Database) -> None:
    async with db.transaction() as tx:
        await record_change(tx, "group", "vip", "vip", {"ratio": "1"}, {"ratio": "1"})
    assert await trail(db) == []


def test_secret_fields_are_known_by_their_names() -> None:
    secret = ["key", "api_key", "secret", "webhook_secret", "password", "key_enc", "code_hash"]
    shown = ["key_hint", "code_hint", "invite_code", "monkey", "base_url", "keys"]
    assert [name for name in secret if not audit.is_secret_field(name)] == []
    assert [name for name in shown if audit.is_secret_field(name)] == []


def test_a_sealed_column_is_named_for_its_secret_and_stays_masked() -> None:
    row = {"id": 1, "key_enc": "x", "code_hash": "y", "url_enc": "z", "key_hint": "sk-...1234"}
    fields = audit.row_fields(row, frozenset({"id"}))
    assert fields == {"key": "x", "code": "y", "url_enc": "z", "key_hint": "sk-...1234"}
    assert all(audit.is_secret_field(name) for name in ("key", "code", "url_enc"))


async def test_the_actor_is_the_contexts_and_unknown_without_one() -> None:
    assert current_actor() == "unknown"
    with acting_as("cli:ann@box"):
        assert current_actor() == "cli:ann@box"
        with acting_as("token:7"):
            assert current_actor() == "token:7"
        assert current_actor() == "cli:ann@box"

        async def request() -> str:  # an admin request: its own task
            set_actor("token:9")
            return current_actor()

        assert await asyncio.create_task(request()) == "token:9"
        assert current_actor() == "cli:ann@box"  # the request's actor stays in its task
    assert current_actor() == "unknown"
    assert audit.local_actor("dash").startswith("dash:") and "@" in audit.local_actor("dash")


async def test_a_change_is_recorded_in_the_writers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), acting_as("cli:ann@box"):
        async with db.transaction() as tx:
            await set_group(tx, "vip", "0.8")
            raise RuntimeError("the writer fails after the change")
    assert await trail(db) == []
    with acting_as("cli:ann@box"):
        async with db.transaction() as tx:
            await set_group(tx, "vip", "0.8")
    assert await trail(db) == [
        ("cli:ann@box", "group:vip", "create", "vip", {"ratio": [None, "0.8"]})
    ]


async def test_the_audit_log_is_append_only(db: Database) -> None:
    async with db.transaction() as tx:
        await record_change(tx, "group", "vip", "vip", None, {"ratio": "0.8"})
    refused = (sqlite3.IntegrityError, _postgres_raise())
    statements = [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log WHERE id = 1",
        "DELETE FROM audit_log",
    ]
    if db.dialect == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(refused, match="the audit log is append-only"):
            await db.execute(sql)
    assert await trail(db) == [("unknown", "group:vip", "create", "vip", {"ratio": [None, "0.8"]})]


def _postgres_raise() -> type[Exception]:
    try:
        from asyncpg.exceptions import RaiseError
    except ImportError:  # no asyncpg: only SQLite runs
        return sqlite3.IntegrityError
    return RaiseError  # type: ignore[no-any-return]


async def test_a_channels_key_never_reaches_the_trail(db: Database) -> None:
    channel = await channels.add_channel(
        db, BOX, type="openai", name="main", key=CANARY, models=["a"]
    )
    await channels.update_channel(db, BOX, channel.id, key=CANARY_2, weight=2)
    await channels.delete_channel(db, channel.id)
    rows = await db.fetch_all("SELECT * FROM audit_log")
    text = orjson.dumps(rows).decode()
    for key in (CANARY, CANARY_2):
        assert key not in text and fragments_in(text, key) == []
    found = await trail(db)
    by_object = [(name, action) for _, name, action, _, _ in found]
    assert by_object == [
        ("channel:1", "create"),
        ("channel_key:1", "create"),
        ("channel:1", "update"),
        ("channel_key:1", "delete"),
        ("channel_key:2", "create"),
        ("channel:1", "delete"),
    ]
    created, key_made, updated, key_gone = (entry[4] for entry in found[:4])
    assert (key_made["key"], key_gone["key"]) == ([None, "(set)"], ["(hidden)", None])
    assert set(updated) == {"key_hint", "weight"}  # the channel's hint; its keys apart
    assert created["key_hint"][1] == channel.key_hint
    assert "used" not in created and "success_count" not in created  # counters are not config


async def test_token_keys_and_redemption_codes_are_masked(db: Database) -> None:
    await ensure_admin(db)
    _, key = await create_admin_key(db, "ci")
    rotated = await rotate_admin_key(db)
    codes = await redemptions.create_codes(db, parse_usd("1"))
    text = orjson.dumps(await db.fetch_all("SELECT * FROM audit_log")).decode()
    for secret in (key, rotated.key, codes[0]):
        assert secret not in text and fragments_in(text, secret) == []
    rows = await trail(db)
    assert rows[-2][1:3] == ("token:1", "update")
    assert rows[-2][4]["key"] == ["(hidden)", "(changed)"]
    assert rows[-1][4]["code"] == [None, "(set)"] and rows[-1][4]["quota"] == [None, "1"]


async def test_a_quota_change_records_what_can_be_spent_with_leases(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await create_token(db, "t", quota_units=parse_usd("10"))
    async with db.transaction() as tx:  # a router holds 4 USD of it
        await tx.execute(
            "UPDATE tokens SET quota = quota - 4000000000 WHERE id = :id", {"id": token.id}
        )
        await tx.execute(
            "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
            " VALUES ('r1', :s, :id, 4000000000, 9999999999)",
            {"s": TOKEN, "id": token.id},
        )
    await add_token_quota(db, token.id, parse_usd("5"))
    assert (await trail(db))[-1][1:] == ("token:2", "update", "t", {"quota": ["10", "15"]})


async def test_prices_are_recorded_field_by_field(db: Database) -> None:
    async with db.transaction() as tx:
        await prices.set_price(tx, "gpt-4o", parse_usd("2.5"), parse_usd("10"))
        await prices.set_price(tx, "gpt-4o", parse_usd("2.5"), parse_usd("10"))  # no change
        await prices.set_price(tx, "gpt-4o", parse_usd("3"), parse_usd("10"))
        await prices.set_alias(tx, "latest", "gpt-4o")
        await prices.delete_price(tx, "latest")
    assert [row[1:] for row in await trail(db)] == [
        ("price:gpt-4o", "create", "gpt-4o", {"input": [None, "2.5"], "output": [None, "10"]}),
        ("price:gpt-4o", "update", "gpt-4o", {"input": ["2.5", "3"]}),
        ("price:latest", "create", "latest", {"alias": [None, "gpt-4o"]}),
        ("price:latest", "delete", "latest", {"alias": ["gpt-4o", None]}),
    ]


async def test_the_trail_is_read_newest_first_by_time_and_object(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for at, (kind, object_id) in enumerate(
        [("channel", "3"), ("channel", "4"), ("token", "3"), ("channel", "3")], start=100
    ):
        monkeypatch.setattr(audit, "now", lambda at=at: at)
        async with db.transaction() as tx:
            await record_change(tx, kind, object_id, "x", None, {"n": at})

    async def ids(limit: int = 100, **filters: Any) -> list[tuple[str, int]]:
        found = await list_changes(db, AuditFilter(**filters), limit)
        return [(entry.object, entry.at) for entry in found]

    assert await ids() == [
        ("channel:3", 103),
        ("token:3", 102),
        ("channel:4", 101),
        ("channel:3", 100),
    ]
    assert await ids(kind="channel", object_id="3") == [("channel:3", 103), ("channel:3", 100)]
    assert await ids(kind="channel", since=101) == [("channel:3", 103), ("channel:4", 101)]
    assert await ids(limit=1) == [("channel:3", 103)]
    with pytest.raises(InvalidRequest, match="limit must be from 1 to 1000"):
        await list_changes(db, AuditFilter(), 1001)


def test_since_and_object_are_read_as_the_cli_and_api_take_them() -> None:
    at = 1_750_000_000
    assert parse_since("7d", at) == at - 7 * 86400
    assert parse_since("1700000000", at) == 1_700_000_000
    assert parse_since("2025-06-15", at) == 1_749_945_600
    assert parse_since("2025-06-15T12:00:00+02:00", at) == 1_749_981_600
    with pytest.raises(InvalidRequest, match="invalid since 'yesterday'"):
        parse_since("yesterday", at)
    assert parse_object("channel:3") == ("channel", "3")
    assert parse_object("channel-price:3:gpt-4o") == ("channel-price", "3:gpt-4o")
    assert parse_object(" channel ") == ("channel", None)
    for bad in ("", ":3", "channel:", "two words"):
        with pytest.raises(InvalidRequest, match="invalid object"):
            parse_object(bad)


def test_no_code_path_updates_or_deletes_the_trail() -> None:
    """Append-only from the product's side: burncloud only inserts and reads audit rows."""
    root = Path(__file__).resolve().parents[2] / "burncloud"
    writes = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+audit_log\b", re.I)
    found = [str(path) for path in root.rglob("*.py") if writes.search(path.read_text())]
    assert found == []
    assert any("INSERT INTO audit_log" in path.read_text() for path in root.rglob("*.py"))
