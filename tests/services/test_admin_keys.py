"""Admin keys: made only by the operator's commands, always the admin user's, admin-scoped;
every other way of making a key makes a relay key."""

from __future__ import annotations

import pytest

from burncloud.db import Database
from burncloud.errors import NotFound
from burncloud.services import admin_keys, tokens
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.settings import read_config_version
from burncloud.services.users import create_user, disable_user


async def _admin_user_id(db: Database, name: str = "admin") -> int:
    value = await db.fetch_value("SELECT id FROM users WHERE name = :n", {"n": name})
    return int(value)


async def test_the_first_run_key_is_an_admin_key_that_does_not_relay(db: Database) -> None:
    await ensure_admin(db)
    [first] = await tokens.list_tokens(db)
    assert (first.name, first.scopes, first.user_id) == ("admin", {"admin"}, 1)
    assert first.allows("admin") and not first.allows("relay")


async def test_token_create_makes_relay_keys_even_for_the_admin(db: Database) -> None:
    await ensure_admin(db)
    for user_ref in (None, "admin", 1):
        token, _ = await tokens.create_token(db, "app", user_ref=user_ref)
        assert token.scopes == {"relay"} and token.user_id == 1
        assert not token.allows("admin")
    updated = await tokens.update_token(db, token.id, name="renamed", quota_units=0)
    assert updated.scopes == {"relay"}


async def test_admin_keys_belong_to_the_oldest_enabled_admin(db: Database) -> None:
    await ensure_admin(db)
    async with db.transaction() as tx:
        await create_user(tx, name="ops", role="admin")
    plain, _ = await admin_keys.create_admin_key(db, "ci")
    relaying, key = await admin_keys.create_admin_key(db, "ci-relay", relay=True)
    assert plain.scopes == {"admin"} and relaying.scopes == {"admin", "relay"}
    assert plain.user_id == relaying.user_id == await _admin_user_id(db)
    assert key.startswith("sk-") and relaying.key_hint != key
    await disable_user(db, "admin")
    moved, _ = await admin_keys.create_admin_key(db, "ops-key")
    assert moved.user_id == await _admin_user_id(db, "ops")


async def test_listing_admin_keys_leaves_relay_keys_out(db: Database) -> None:
    await ensure_admin(db)
    await tokens.create_token(db, "relay-of-admin")
    made, _ = await admin_keys.create_admin_key(db, "second", relay=True)
    listed = await admin_keys.list_admin_keys(db)
    assert [(t.id, t.name) for t in listed] == [(1, "admin"), (made.id, "second")]


async def test_revoking_takes_admin_keys_only(db: Database) -> None:
    await ensure_admin(db)
    relay, _ = await tokens.create_token(db, "app")
    made, _ = await admin_keys.create_admin_key(db, "second")
    before = await read_config_version(db)
    assert (await admin_keys.revoke_admin_key(db, made.id)).status == "revoked"
    assert await read_config_version(db) > before
    with pytest.raises(NotFound, match="not an admin key"):
        await admin_keys.revoke_admin_key(db, relay.id)
    assert (await tokens.get_token(db, relay.id)).status == "active"
    with pytest.raises(NotFound, match="no token with id 999"):
        await admin_keys.revoke_admin_key(db, 999)


async def test_rotate_renews_the_admin_key_and_never_a_relay_namesake(db: Database) -> None:
    await ensure_admin(db)
    namesake, _ = await tokens.create_token(db, "admin")  # a relay key named admin
    await tokens.delete_token(db, 1)  # the first-run admin key is gone
    rotated = await admin_keys.rotate_admin_key(db)
    assert rotated.token_id != namesake.id
    renewed = await tokens.get_token(db, rotated.token_id)
    assert (renewed.name, renewed.scopes) == ("admin", {"admin"})
    again = await admin_keys.rotate_admin_key(db)
    assert again.token_id == rotated.token_id and again.key != rotated.key
    assert (await tokens.get_token(db, namesake.id)).key_hint == namesake.key_hint
