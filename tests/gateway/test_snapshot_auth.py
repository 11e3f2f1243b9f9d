"""The router's in-memory configuration and the auth checks made against it."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from burncloud.crypto import SecretBox
from burncloud.errors import InvalidToken, PermissionDenied, TokenExpired
from burncloud.gateway.relay.auth import authenticate, authorize_model, extract_key
from burncloud.gateway.snapshot import ConfigCache, load_snapshot
from burncloud.services.admin_keys import create_admin_key
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.channels import add_channel, disable_channel
from burncloud.services.key_scopes import ADMIN, RELAY
from burncloud.services.tokens import create_token, revoke_token
from burncloud.services.users import create_user, disable_user, update_user

BOX = SecretBox.from_passphrase("test-secret")


@pytest.fixture
async def seeded(db):
    await ensure_admin(db)
    async with db.transaction() as tx:
        await create_user(tx, name="alice")
    await add_channel(
        db, BOX, type="openai", name="main", key="sk-upstream-1234", models=["gpt-4", "gpt-4o"]
    )
    await add_channel(
        db,
        BOX,
        type="openai",
        name="backup",
        key="sk-upstream-5678",
        models=["gpt-4"],
        priority=-1,
    )
    return db


async def test_snapshot_holds_decrypted_keys_and_routes_best_priority_first(seeded) -> None:
    snapshot = await load_snapshot(seeded, BOX)
    route = snapshot.routes[("default", "gpt-4")]
    assert [c.upstream.name for c in route] == ["main", "backup"]
    assert route[0].upstream.key == "sk-upstream-1234"
    assert snapshot.models_for("default") == ["gpt-4", "gpt-4o"]


async def test_disabled_channel_leaves_the_routes(seeded) -> None:
    await disable_channel(seeded, 1, "maintenance")
    snapshot = await load_snapshot(seeded, BOX)
    assert [c.upstream.name for c in snapshot.routes[("default", "gpt-4")]] == ["backup"]
    assert ("default", "gpt-4o") not in snapshot.routes


async def test_authenticate_accepts_a_valid_key(seeded) -> None:
    token, key = await create_token(seeded, "app", user_ref="alice")
    caller = authenticate(await load_snapshot(seeded, BOX), key, "127.0.0.1")
    assert (caller.token.id, caller.user.name, caller.group) == (token.id, "alice", "default")


async def test_a_key_is_also_accepted_without_its_sk_prefix(seeded) -> None:
    """One API and New API clients may send the bare key; imported keys keep working."""
    token, key = await create_token(seeded, "app", user_ref="alice")
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key.removeprefix("sk-"), None).token.id == token.id
    with pytest.raises(InvalidToken):
        authenticate(snapshot, "sk-" + key, None)


async def test_unknown_revoked_and_missing_keys_are_invalid(seeded) -> None:
    token, key = await create_token(seeded, "app", user_ref="alice")
    snapshot = await load_snapshot(seeded, BOX)
    for bad in (None, "", "sk-nope"):
        with pytest.raises(InvalidToken):
            authenticate(snapshot, bad, None)
    await revoke_token(seeded, token.id)
    with pytest.raises(InvalidToken):
        authenticate(await load_snapshot(seeded, BOX), key, None)


async def test_expired_key_is_token_expired(seeded) -> None:
    _, key = await create_token(seeded, "app", user_ref="alice", expires_at=int(time.time()) + 60)
    snapshot = await load_snapshot(seeded, BOX)
    token = next(iter(t for t in snapshot.tokens.values() if t.name == "app"))
    past = replace(token, expires_at=int(time.time()) - 1)
    tokens = {h: (past if t is token else t) for h, t in snapshot.tokens.items()}
    with pytest.raises(TokenExpired):
        authenticate(replace(snapshot, tokens=tokens), key, None)


async def test_disabled_user_and_foreign_ip_are_denied(seeded) -> None:
    _, key = await create_token(seeded, "app", user_ref="alice", ips="10.0.0.0/8")
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key, "10.1.2.3").user.name == "alice"
    with pytest.raises(PermissionDenied):
        authenticate(snapshot, key, "192.168.1.1")
    await disable_user(seeded, "alice")
    with pytest.raises(PermissionDenied):
        authenticate(await load_snapshot(seeded, BOX), key, "10.1.2.3")


async def test_model_allow_list(seeded) -> None:
    _, key = await create_token(seeded, "app", user_ref="alice", models="gpt-4")
    caller = authenticate(await load_snapshot(seeded, BOX), key, None)
    authorize_model(caller, "gpt-4")
    with pytest.raises(PermissionDenied):
        authorize_model(caller, "gpt-4o")


def test_extract_key_from_each_header() -> None:
    assert extract_key({b"authorization": b"Bearer sk-a"}) == "sk-a"
    assert extract_key({b"authorization": b"bearer  sk-a "}) == "sk-a"
    assert extract_key({b"x-api-key": b"sk-b"}) == "sk-b"
    assert extract_key({b"x-goog-api-key": b"sk-c"}) == "sk-c"
    assert extract_key({b"authorization": b"Basic abc"}) is None


async def test_cache_reloads_only_when_the_version_moves(seeded) -> None:
    cache = ConfigCache(seeded, BOX, interval=3600)
    await cache.start()
    try:
        assert await cache.refresh() is False
        _, key = await create_token(seeded, "new", user_ref="alice")
        assert await cache.refresh() is True
        assert authenticate(cache.snapshot, key, None).token.name == "new"
    finally:
        await cache.stop()


async def test_a_relay_key_of_an_admin_never_reaches_the_admin_scope(seeded) -> None:
    _, key = await create_token(seeded, "app", user_ref="admin")
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key, None).user.name == "admin"
    with pytest.raises(PermissionDenied, match=r"needs an admin key.*admin-key create"):
        authenticate(snapshot, key, None, scope=ADMIN)


async def test_a_relay_key_stays_relay_when_its_user_is_made_admin(seeded) -> None:
    _, key = await create_token(seeded, "app", user_ref="alice")
    await update_user(seeded, "alice", role="admin")
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key, None).user.is_admin
    with pytest.raises(PermissionDenied, match="needs an admin key"):
        authenticate(snapshot, key, None, scope=ADMIN)


async def test_an_admin_only_key_is_refused_on_the_relay_saying_what_to_use(seeded) -> None:
    _, key = await create_admin_key(seeded, "ops")
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key, None, scope=ADMIN).user.name == "admin"
    with pytest.raises(PermissionDenied, match=r"admin key.*token create.*--relay"):
        authenticate(snapshot, key, None)


async def test_an_admin_key_made_with_relay_reaches_both(seeded) -> None:
    _, key = await create_admin_key(seeded, "ops", relay=True)
    snapshot = await load_snapshot(seeded, BOX)
    assert authenticate(snapshot, key, None, scope=ADMIN).token.name == "ops"
    assert authenticate(snapshot, key, None, scope=RELAY).token.name == "ops"


async def test_an_admin_key_stops_reaching_the_admin_scope_when_its_owner_is_demoted(
    seeded,
) -> None:
    _, key = await create_admin_key(seeded, "ops", relay=True)
    await update_user(seeded, "alice", role="admin")  # another admin, so one may be demoted
    await update_user(seeded, "admin", role="user")
    snapshot = await load_snapshot(seeded, BOX)
    with pytest.raises(PermissionDenied, match="no longer an admin"):
        authenticate(snapshot, key, None, scope=ADMIN)
    assert authenticate(snapshot, key, None).user.name == "admin"  # relaying needs no role
