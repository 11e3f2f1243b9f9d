"""Reading the database as a manifest: every section, money as `show` reports it, keys only
when asked, operator settings only, and names that repeat refused with the way out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.crypto import hash_secret, mask_secret
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services import channel_keys, channels, quota, tokens
from burncloud.services.leases import take_lease
from burncloud.services.manifest.model import RedemptionSpec, TokenSpec, UserSpec
from burncloud.services.manifest.read import read_manifest
from burncloud.services.price_catalog import price_data
from burncloud.services.redemptions import redeem
from tests.services.manifest.stored import BOX, OPENAI_KEY, seed


async def test_every_section_is_read_as_stored(db: Database) -> None:
    made = await seed(db)
    manifest = await read_manifest(db, BOX, with_keys=True)

    [channel] = manifest.channels or ()
    assert (channel.name, channel.type, channel.keys) == ("openai-main", "openai", (OPENAI_KEY,))
    assert channel.base_url == "https://api.openai.com/v1"  # the default, written out
    assert channel.models == ("gpt-4o", "gpt-4o-mini")
    assert channel.groups == ("default", "vip")
    assert (channel.cost_ratio, channel.enabled) == (Decimal(1), True)

    assert manifest.groups == {"default": Decimal(1), "vip": Decimal("0.8")}
    assert manifest.prices is not None
    assert {m: price_data(p) for m, p in manifest.prices.prices.items()} == {
        "gpt-4o": {"input": "2.5", "output": "10", "cached": "1.25"},
        "gpt-latest": {"alias": "gpt-4o"},
    }
    assert {
        name: {m: price_data(p) for m, p in table.items()}
        for name, table in manifest.prices.channels.items()
    } == {"openai-main": {"gpt-4o": {"input": "2", "output": "8"}}}

    assert [user.name for user in manifest.users or ()] == ["admin", "alice"]
    alice = (manifest.users or ())[1]
    assert (alice.role, alice.group, alice.balance, alice.used) == (
        "user",
        "vip",
        parse_usd("25"),
        0,
    )
    assert alice.invite_code and alice.inviter is None

    [admin_key, laptop] = manifest.tokens or ()
    assert (admin_key.user, admin_key.name, admin_key.scopes) == ("admin", "admin", {"admin"})
    assert laptop == TokenSpec(
        user="alice",
        name="laptop",
        quota=parse_usd("5"),
        models=("gpt-4o",),
        key_sha256=hash_secret(made["alice_key"]),
        key_hint=laptop.key_hint,
    )
    assert laptop.key_hint and laptop.key_hint.startswith(made["alice_key"][:7])

    [code] = manifest.redemptions or ()
    assert code == RedemptionSpec(hash_secret(made["code"]), parse_usd("5"), code.hint)
    assert code.hint == mask_secret(made["code"])
    assert manifest.settings == {
        "invite_reward_inviter": str(parse_usd("1")),
        "invite_reward_invitee": str(parse_usd("0.5")),
    }


async def test_keys_are_left_out_unless_asked_for(db: Database) -> None:
    await seed(db)
    manifest = await read_manifest(db, BOX, with_keys=False)
    assert [channel.keys for channel in manifest.channels or ()] == [None]


async def test_every_key_is_read_whatever_its_status_and_every_channel_option(
    db: Database,
) -> None:
    made = await seed(db)
    added = await channel_keys.add_keys(db, BOX, made["channel"], ["sk-b-0002", "sk-c-0003"])
    await channel_keys.set_key_status(db, made["channel"], added[0].id, "disabled")
    async with db.transaction() as tx:  # what a health check does to a failing key
        for key in await channel_keys.list_keys(tx, made["channel"]):
            if key.status == "enabled":
                await channel_keys.write_key_status(tx, key.id, "auto_disabled", "invalid key")
    await channels.update_channel(
        db,
        None,
        made["channel"],
        key_selection="round-robin",
        tags=["prod"],
        rpm=60,
        overrides={"set_params": {"temperature": 0.2}},
        auto_sync=86400,
        balance_api="openrouter",
        balance_every=0,
        balance_alert_below="2.5",
    )
    [channel] = (await read_manifest(db, BOX, with_keys=True)).channels or ()
    assert channel.keys == (OPENAI_KEY, "sk-b-0002", "sk-c-0003")
    assert (channel.key_selection, channel.tags, channel.rpm, channel.tpm) == (
        "round-robin",
        ("prod",),
        60,
        None,
    )
    assert channel.overrides == {"set_params": {"temperature": 0.2}}
    assert (channel.auto_sync, channel.balance_api, channel.balance_every) == (
        86400,
        "openrouter",
        0,
    )
    assert channel.balance_alert_below == "2.5" and channel.enabled


async def test_an_auto_disabled_channel_reads_as_enabled_and_a_disabled_one_not(
    db: Database,
) -> None:
    made = await seed(db)
    await channels.set_channel_status(db, made["channel"], "auto_disabled", "5 failures")
    [channel] = (await read_manifest(db, BOX, with_keys=False)).channels or ()
    assert channel.enabled is True
    await channels.disable_channel(db, made["channel"])
    [channel] = (await read_manifest(db, BOX, with_keys=False)).channels or ()
    assert channel.enabled is False


async def test_money_held_in_routers_leases_is_still_the_owners(db: Database) -> None:
    made = await seed(db)
    alice = await db.fetch_value("SELECT id FROM users WHERE name = 'alice'")
    await take_lease(db, "router-1", "user", alice, parse_usd("3"), 60)
    await take_lease(db, "router-1", "token", made["alice_token"], parse_usd("2"), 60)
    await db.execute(
        "UPDATE users SET used = :u WHERE id = :id", {"u": parse_usd("1"), "id": alice}
    )
    stored = await db.fetch_value("SELECT balance FROM users WHERE id = :id", {"id": alice})
    assert stored == parse_usd("22")
    manifest = await read_manifest(db, BOX, with_keys=False)
    users = {user.name: user for user in manifest.users or ()}
    assert users["alice"] == UserSpec(
        name="alice",
        group="vip",
        balance=parse_usd("25"),  # 22 stored + 3 leased, as `user show` says
        used=parse_usd("1"),
        invite_code=users["alice"].invite_code,
    )
    assert users["admin"].balance == UNLIMITED
    state = await quota.get_token_quota(db, made["alice_token"])
    [_, laptop] = manifest.tokens or ()
    assert laptop.quota == state.remaining == parse_usd("5")


async def test_used_codes_and_internal_settings_are_not_configuration(db: Database) -> None:
    made = await seed(db)
    await redeem(db, made["code"], "alice")
    await db.execute("INSERT INTO settings (key, value) VALUES ('rollup.kept_from', '12')")
    manifest = await read_manifest(db, BOX, with_keys=False)
    assert manifest.redemptions == ()
    assert set(manifest.settings or {}) == {"invite_reward_inviter", "invite_reward_invitee"}


async def test_a_revoked_token_reads_as_inactive(db: Database) -> None:
    made = await seed(db)
    await tokens.revoke_token(db, made["alice_token"])
    [_, laptop] = (await read_manifest(db, BOX, with_keys=False)).tokens or ()
    assert laptop.active is False


async def test_two_channels_of_one_name_are_refused_with_the_rename_command(
    db: Database,
) -> None:
    made = await seed(db)
    other = await channels.add_channel(
        db, BOX, type="openai", name="spare", key=OPENAI_KEY, models=["gpt-4o"]
    )
    # an older database: names were not unique before
    await db.execute("UPDATE channels SET name = 'openai-main' WHERE id = :id", {"id": other.id})
    with pytest.raises(InvalidRequest) as caught:
        await read_manifest(db, BOX, with_keys=False)
    assert caught.value.message == (
        f"channels {made['channel']} and {other.id} share the name 'openai-main': a manifest"
        " matches them by name; rename all but one with `burncloud channel update ID --name NEW`"
    )


async def test_two_tokens_of_one_user_and_name_are_refused_with_the_rename_command(
    db: Database,
) -> None:
    made = await seed(db)
    second, _ = await tokens.create_token(db, "laptop", user_ref="alice")
    with pytest.raises(InvalidRequest) as caught:
        await read_manifest(db, BOX, with_keys=False)
    assert caught.value.message == (
        f"tokens {made['alice_token']} and {second.id} of user 'alice' share the name 'laptop':"
        " a manifest matches them by name; rename all but one with"
        " `burncloud token update ID --name NEW`"
    )
