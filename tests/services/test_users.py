from __future__ import annotations

import pytest

from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNITS_PER_USD, UNLIMITED
from burncloud.services.invites import invite_info, set_invite_rewards, sign_up
from burncloud.services.settings import read_config_version
from burncloud.services.users import (
    add_user,
    disable_user,
    enable_user,
    list_users,
    resolve_user,
    update_user,
)

USD = UNITS_PER_USD


async def test_list_users_returns_every_user_oldest_first(db) -> None:
    await add_user(db, name="alice")
    await add_user(db, name="bob", role="admin")
    assert [(u.name, u.role) for u in await list_users(db)] == [("alice", "user"), ("bob", "admin")]


async def test_update_user_changes_only_the_given_fields(db) -> None:
    await db.execute("INSERT INTO user_groups (name, ratio, updated_at) VALUES ('vip', '2', 0)")
    alice = await add_user(db, name="alice", balance=3 * USD)
    updated = await update_user(db, "alice", group="vip")
    assert (updated.name, updated.role, updated.group) == ("alice", "user", "vip")
    assert updated.balance == 3 * USD
    renamed = await update_user(db, str(alice.id), name="alicia", role="admin")
    assert (renamed.name, renamed.role, renamed.group) == ("alicia", "admin", "vip")


async def test_update_user_refuses_bad_values_and_changes_nothing(db) -> None:
    await add_user(db, name="alice")
    await add_user(db, name="bob")
    with pytest.raises(InvalidRequest, match="already exists"):
        await update_user(db, "alice", name="bob")
    with pytest.raises(InvalidRequest, match="unknown group"):
        await update_user(db, "alice", group="nope")
    with pytest.raises(InvalidRequest, match="unknown role"):
        await update_user(db, "alice", role="root")
    with pytest.raises(InvalidRequest, match="nothing to update"):
        await update_user(db, "alice")
    with pytest.raises(NotFound):
        await update_user(db, "carol", role="admin")
    alice = await resolve_user(db, "alice")
    assert (alice.name, alice.role, alice.group) == ("alice", "user", "default")


async def test_update_user_sets_and_clears_rate_limits(db) -> None:
    await add_user(db, name="alice")
    before = await read_config_version(db)
    limited = await update_user(db, "alice", rpm=60, tpm=1000, max_concurrency=4)
    assert (limited.rpm, limited.tpm, limited.max_concurrency) == (60, 1000, 4)
    assert await read_config_version(db) > before
    cleared = await update_user(db, "alice", rpm=-1, max_concurrency=-1)
    assert (cleared.rpm, cleared.tpm, cleared.max_concurrency) == (None, 1000, None)
    assert (await resolve_user(db, "alice")).to_json()["tpm"] == 1000


@pytest.mark.parametrize(("field", "value"), [("rpm", 0), ("tpm", -5), ("max_concurrency", 0)])
async def test_update_user_refuses_a_non_positive_rate_limit(db, field, value) -> None:
    await add_user(db, name="alice")
    with pytest.raises(InvalidRequest, match=f"{field.replace('_', ' ')} must be a positive"):
        await update_user(db, "alice", **{field: value})
    alice = await resolve_user(db, "alice")
    assert (alice.rpm, alice.tpm, alice.max_concurrency) == (None, None, None)


async def test_all_digit_user_names_are_refused(db) -> None:
    with pytest.raises(InvalidRequest, match="digits"):
        await add_user(db, name="42")
    await add_user(db, name="alice")
    with pytest.raises(InvalidRequest, match="digits"):
        await update_user(db, "alice", name="7")


async def test_disabling_the_last_enabled_admin_is_refused(db) -> None:
    await add_user(db, name="root", role="admin")
    await add_user(db, name="alice")
    with pytest.raises(InvalidRequest, match="last enabled admin"):
        await disable_user(db, "root")
    assert (await resolve_user(db, "root")).status == "enabled"


async def test_demoting_the_last_enabled_admin_is_refused(db) -> None:
    await add_user(db, name="root", role="admin")
    with pytest.raises(InvalidRequest, match="last enabled admin"):
        await update_user(db, "root", role="user")
    assert (await resolve_user(db, "root")).role == "admin"


async def test_an_admin_can_be_disabled_while_another_admin_is_enabled(db) -> None:
    await add_user(db, name="root", role="admin")
    await add_user(db, name="ops", role="admin")
    assert (await disable_user(db, "root")).status == "disabled"
    with pytest.raises(InvalidRequest, match="last enabled admin"):
        await disable_user(db, "ops")


async def test_enable_user_restores_a_disabled_user(db) -> None:
    await add_user(db, name="alice")
    assert (await disable_user(db, "alice")).status == "disabled"
    assert (await enable_user(db, "alice")).status == "enabled"
    assert (await resolve_user(db, "alice")).status == "enabled"


async def test_every_user_write_bumps_the_config_version(db) -> None:
    versions = [await read_config_version(db)]
    await add_user(db, name="alice")
    versions.append(await read_config_version(db))
    await update_user(db, "alice", role="admin")
    versions.append(await read_config_version(db))
    await add_user(db, name="bob", role="admin")
    await disable_user(db, "alice")
    versions.append(await read_config_version(db))
    await enable_user(db, "alice")
    versions.append(await read_config_version(db))
    assert versions == sorted(set(versions))


async def test_sign_up_through_an_invite_credits_both_rewards_exactly(db) -> None:
    alice = await add_user(db, name="alice", balance=2 * USD)
    await set_invite_rewards(db, inviter=1_500_000_000, invitee=250_000_000)
    bob = await sign_up(db, name="bob", invite_code=alice.invite_code, balance=USD)
    assert bob.inviter_id == alice.id
    assert bob.balance == USD + 250_000_000
    assert (await resolve_user(db, "alice")).balance == 2 * USD + 1_500_000_000


async def test_sign_up_keeps_unlimited_balances_unlimited(db) -> None:
    root = await add_user(db, name="root", role="admin", balance=UNLIMITED)
    await set_invite_rewards(db, inviter=USD, invitee=USD)
    bob = await sign_up(db, name="bob", invite_code=root.invite_code, balance=UNLIMITED)
    assert bob.balance == UNLIMITED
    assert (await resolve_user(db, "root")).balance == UNLIMITED


async def test_sign_up_with_an_unknown_invite_code_creates_nobody(db) -> None:
    await set_invite_rewards(db, invitee=USD)
    with pytest.raises(NotFound, match="unknown invite code"):
        await sign_up(db, name="bob", invite_code="not-a-code")
    with pytest.raises(NotFound):
        await resolve_user(db, "bob")


async def test_a_failed_sign_up_credits_no_reward(db) -> None:
    alice = await add_user(db, name="alice")
    await set_invite_rewards(db, inviter=USD)
    with pytest.raises(InvalidRequest, match="unknown group"):
        await sign_up(db, name="bob", invite_code=alice.invite_code, group="nope")
    assert (await resolve_user(db, "alice")).balance == 0


async def test_invite_code_of_a_disabled_user_is_refused(db) -> None:
    alice = await add_user(db, name="alice")
    await disable_user(db, "alice")
    with pytest.raises(InvalidRequest, match="disabled"):
        await sign_up(db, name="bob", invite_code=alice.invite_code)


async def test_invite_info_names_the_inviter_and_the_invitees(db) -> None:
    alice = await add_user(db, name="alice")
    await sign_up(db, name="bob", invite_code=alice.invite_code)
    await sign_up(db, name="carol", invite_code=alice.invite_code)
    info = (await invite_info(db, "alice")).to_json()
    assert info["invite_code"] == alice.invite_code
    assert [entry["name"] for entry in info["invited"]] == ["bob", "carol"]
    assert (await invite_info(db, "bob")).to_json()["inviter"] == "alice"


async def test_negative_invite_rewards_are_refused(db) -> None:
    with pytest.raises(InvalidRequest, match="negative"):
        await set_invite_rewards(db, inviter=-1)


async def test_delete_user_refuses_the_last_admin_and_a_user_with_tokens(db) -> None:
    from burncloud.services.tokens import create_token
    from burncloud.services.users import delete_user

    await add_user(db, name="root", role="admin")
    await add_user(db, name="alice")
    await create_token(db, "app", user_ref="alice")
    async with db.transaction() as tx:
        with pytest.raises(InvalidRequest, match="last enabled admin and cannot be deleted"):
            await delete_user(tx, "root")
        with pytest.raises(InvalidRequest, match=r"^user 'alice' still has 1 token"):
            await delete_user(tx, "alice")
    await add_user(db, name="bob")
    async with db.transaction() as tx:
        await delete_user(tx, "bob")
    assert [u.name for u in await list_users(db)] == ["root", "alice"]
