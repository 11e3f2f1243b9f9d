"""Planning: the exact lines a plan shows, what it leaves alone (sections not given, money,
keys not given, the same thing said otherwise), renames, and what it refuses before
anything is written."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from burncloud.crypto import hash_secret
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import channel_keys, redemptions, tokens
from burncloud.services.manifest.model import (
    ChannelSpec,
    Manifest,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.manifest.plan import plan_changes
from burncloud.services.manifest.read import read_manifest
from burncloud.services.price_catalog import Catalog
from burncloud.services.pricing import Price
from tests.services.manifest.stored import BOX, OPENAI_KEY, seed


async def stored(db: Database) -> Manifest:
    """The seeded database as a manifest, the starting point of every desired one."""
    await seed(db)
    return await read_manifest(db, BOX, with_keys=True)


async def lines(db: Database, desired: Manifest, *, prune: bool = True) -> list[str]:
    plan = await plan_changes(db, BOX, desired, prune=prune)
    assert plan.prune is prune and plan.desired is desired
    return [change.line() for change in plan.changes]


def named(specs: tuple[ChannelSpec, ...] | None, name: str) -> ChannelSpec:
    return next(spec for spec in specs or () if spec.name == name)


async def test_the_database_plans_nothing_against_itself(db: Database) -> None:
    current = await stored(db)
    assert await lines(db, current) == []


async def test_every_kind_of_change_has_its_exact_line_in_apply_order(db: Database) -> None:
    current = await stored(db)
    main = named(current.channels, "openai-main")
    assert current.prices is not None and current.users is not None
    desired = replace(
        current,
        settings={**(current.settings or {}), "invite_reward_inviter": str(parse_usd("2"))},
        groups={"default": Decimal(1), "vip": Decimal("0.9"), "team": Decimal("1.5")},
        users=(*current.users, UserSpec(name="bob", group="team", balance=parse_usd("3"))),
        channels=(
            replace(main, weight=3, keys=("sk-upstream-openai-0002",)),
            ChannelSpec(name="claude", type="anthropic", models=("claude-x",), keys=("sk-ant-1",)),
        ),
        prices=Catalog(
            prices={
                "gpt-4o": Price("gpt-4o", input=parse_usd("2.5"), output=parse_usd("12")),
                "claude-x": Price("claude-x", input=parse_usd("3"), output=parse_usd("15")),
            },
            channels={},
        ),
        tokens=(
            (current.tokens or ())[0],
            TokenSpec(user="alice", name="phone", models=("gpt-4o",)),
        ),
        redemptions=(),
    )
    assert await lines(db, desired) == [
        "~ setting invite_reward_inviter: 1 -> 2",
        "+ group team: ratio 1.5",
        "~ group vip: ratio 0.8 -> 0.9",
        "+ user bob",
        "+ channel claude",
        "~ channel openai-main: weight 1 -> 3, key: changed",
        "+ price claude-x",
        "~ price gpt-4o: output 10 -> 12, cached 1.25 -> -",
        "+ token alice/phone",
        "- token alice/laptop",
        f"- redemption {(current.redemptions or ())[0].code_sha256[:12]}"
        f" ({(current.redemptions or ())[0].hint})",
        "- price gpt-4o (channel openai-main)",
        "- price gpt-latest",
    ]


async def test_without_prune_what_the_file_leaves_out_stays(db: Database) -> None:
    current = await stored(db)
    desired = replace(
        current,
        tokens=(TokenSpec(user="alice", name="phone"),),
        redemptions=(),
        groups={"default": Decimal(1)},
        users=(),
        channels=(),
        prices=Catalog(prices={}, channels={}),
        settings={},
    )
    assert await lines(db, desired, prune=False) == ["+ token alice/phone"]


async def test_a_section_that_is_none_is_not_managed(db: Database) -> None:
    await seed(db)
    desired = Manifest(groups={"default": Decimal(1), "vip": Decimal("0.8"), "x": Decimal(2)})
    assert await lines(db, desired) == ["+ group x: ratio 2"]


async def test_the_default_group_is_never_deleted(db: Database) -> None:
    await seed(db)
    desired = Manifest(groups={"vip": Decimal("0.8")})
    assert await lines(db, desired) == []


async def test_balance_quota_and_used_of_existing_objects_are_never_compared(
    db: Database,
) -> None:
    current = await stored(db)
    desired = replace(
        current,
        users=tuple(replace(u, balance=parse_usd("99"), used=7) for u in current.users or ()),
        tokens=tuple(replace(t, quota=parse_usd("1"), used=9) for t in current.tokens or ()),
        redemptions=tuple(replace(r, quota=parse_usd("50")) for r in current.redemptions or ()),
    )
    assert await lines(db, desired) == []


async def test_a_channel_without_a_key_keeps_its_key_and_a_new_one_needs_one(
    db: Database,
) -> None:
    current = await stored(db)
    keyless = tuple(replace(spec, keys=None) for spec in current.channels or ())
    assert await lines(db, replace(current, channels=keyless)) == []
    new = ChannelSpec(name="claude", type="anthropic", models=("claude-x",))
    with pytest.raises(InvalidRequest, match=r"^channel 'claude': a new channel needs a key$"):
        await lines(db, replace(current, channels=(*keyless, new)))


async def test_a_file_without_keys_keeps_every_key_and_keys_repeated_are_one(
    db: Database,
) -> None:
    made = await seed(db)
    await channel_keys.add_keys(db, BOX, made["channel"], ["sk-b-0002"])
    current = await read_manifest(db, BOX, with_keys=True)
    main = named(current.channels, "openai-main")
    assert await lines(db, replace(current, channels=(replace(main, keys=None),))) == []
    repeated = ("sk-b-0002", OPENAI_KEY, " sk-b-0002 ")  # an importer's list, cleaned
    assert await lines(db, replace(current, channels=(replace(main, keys=repeated),))) == []


async def test_the_same_configuration_said_otherwise_plans_nothing(db: Database) -> None:
    made = await seed(db)
    await tokens.update_token(db, made["alice_token"], ips=["10.0.0.1", "192.168.0.0/16"])
    current = await read_manifest(db, BOX, with_keys=True)
    main = named(current.channels, "openai-main")
    laptop = (current.tokens or ())[1]
    desired = replace(
        current,
        channels=(
            replace(
                main,
                type="OpenAI",
                base_url=None,  # the kind's default
                keys=(f"  {OPENAI_KEY} ",),
                models=("gpt-4o", "gpt-4o-mini", "gpt-4o"),
                cost_ratio=Decimal("1.000"),
            ),
        ),
        groups={"default": Decimal("1.0"), "vip": Decimal("0.80")},
        tokens=(
            (current.tokens or ())[0],
            replace(laptop, ips=("10.0.0.1", "192.168.0.0/16"), key_sha256=None, key_hint=None),
        ),
    )
    assert laptop.ips == ("10.0.0.1/32", "192.168.0.0/16")
    assert await lines(db, desired) == []


async def test_renames_show_the_old_and_the_new_name_and_carry_what_follows(
    db: Database,
) -> None:
    current = await stored(db)
    admin_user, alice = current.users or ()
    admin_key, laptop = current.tokens or ()
    main = named(current.channels, "openai-main")
    assert current.prices is not None
    desired = replace(
        current,
        channels=(replace(main, name="openai-primary", renamed_from="openai-main", weight=2),),
        users=(admin_user, replace(alice, name="alicia", renamed_from="alice")),
        tokens=(admin_key, replace(laptop, user="alicia", name="work", renamed_from="laptop")),
        prices=replace(
            current.prices, channels={"openai-primary": current.prices.channels["openai-main"]}
        ),
    )
    assert await lines(db, desired) == [
        "~ user alice -> alicia (renamed)",
        "~ channel openai-main -> openai-primary (renamed): weight 1 -> 2",
        "~ token alicia/laptop -> alicia/work (renamed)",
    ]


async def test_a_rename_from_a_name_the_file_also_keeps_is_refused(db: Database) -> None:
    current = await stored(db)
    main = named(current.channels, "openai-main")
    twin = replace(main, name="openai-b", renamed_from="openai-main")
    with pytest.raises(InvalidRequest) as caught:
        await lines(db, replace(current, channels=(main, twin)))
    assert caught.value.message == (
        "channel 'openai-b': renamed_from 'openai-main', which another channel of the file"
        " already is"
    )


async def test_a_rename_whose_old_name_is_gone_creates(db: Database) -> None:
    current = await stored(db)
    main = named(current.channels, "openai-main")
    moved = replace(main, name="openai-b", renamed_from="nothing-of-that-name")
    assert await lines(db, replace(current, channels=(main, moved)), prune=False) == [
        "+ channel openai-b"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"users": (UserSpec(name="admin", role="admin"), UserSpec(name="x", group="gold"))},
            "user 'x': no group 'gold' (add it to groups)",
        ),
        (
            {"tokens": (TokenSpec(user="carol", name="k"),)},
            "token carol/k: no user 'carol' (add it to users)",
        ),
        (
            {"users": (UserSpec(name="admin", role="admin", inviter="zed"),)},
            "user 'admin': no user 'zed' to be its inviter (add it to users)",
        ),
        (
            {"groups": {"default": Decimal(1)}},  # alice and the channel are in vip
            "user 'alice': no group 'vip' (add it to groups)",
        ),
        (
            {"users": (UserSpec(name="admin", role="user"),), "tokens": ()},
            "users: no enabled admin would be left (keep one enabled admin)",
        ),
        (
            {"prices": Catalog(prices={}, channels={"gone": {}})},
            "prices of channel 'gone': no such channel (add it to channels)",
        ),
        (
            {
                "prices": Catalog(
                    prices={},
                    channels={"openai-main": {"o1": Price("o1", input=1, output=1)}},
                )
            },
            "price of 'o1' on channel 'openai-main': the channel does not serve it"
            " (it serves gpt-4o, gpt-4o-mini)",
        ),
    ],
)
async def test_a_name_that_will_not_exist_is_refused_before_anything_is_written(
    db: Database, change: dict[str, object], message: str
) -> None:
    await seed(db)
    with pytest.raises(InvalidRequest) as caught:
        await plan_changes(db, BOX, Manifest(**change), prune=True)  # type: ignore[arg-type]
    assert caught.value.message == message


async def test_a_key_hash_of_another_token_is_refused(db: Database) -> None:
    current = await stored(db)
    laptop = (current.tokens or ())[1]
    copy = TokenSpec(user="alice", name="copy", key_sha256=laptop.key_sha256)
    with pytest.raises(InvalidRequest) as caught:
        await plan_changes(db, BOX, Manifest(tokens=(copy,)), prune=False)
    assert caught.value.message == (
        "token alice/copy: its key_sha256 is token alice/laptop's"
        " (to rename a token, give renamed_from)"
    )


async def test_a_code_spent_since_the_file_was_written_is_left_alone(db: Database) -> None:
    made = await seed(db)
    [code] = await redemptions.create_codes(db, parse_usd("1"))
    await redemptions.redeem(db, code, "alice")
    spent = RedemptionSpec(hash_secret(code), parse_usd("1"))
    unused = RedemptionSpec(hash_secret(made["code"]), parse_usd("5"))
    assert await lines(db, Manifest(redemptions=(spent, unused))) == []


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (
            Manifest(channels=(ChannelSpec("b", "bedrock", ("m",), keys=("AKIA:secret",)),)),
            "channel 'b': bedrock channels need --config region=...",
        ),
        (
            Manifest(channels=(ChannelSpec("c", "openai", ("m",), model_map={"x": "y"}),)),
            "channel 'c': --map x=... maps a model the channel does not serve: add 'x' to --models",
        ),
        (
            Manifest(channels=(ChannelSpec("s", "openai", ("m",), auto_sync=60),)),
            "channel 's': auto-sync interval (seconds) must be at least 300",
        ),
        (
            Manifest(channels=(ChannelSpec("s", "openai", ("m",), balance_every=30),)),
            "channel 's': balance interval (seconds) must be at least 60",
        ),
        (
            Manifest(channels=(ChannelSpec("s", "openai", ("m",), keys=("sk a",)),)),
            "channel 's': a channel key must not contain whitespace",
        ),
        (
            Manifest(users=(UserSpec("a"), UserSpec(" a "))),
            "duplicate user 'a'",
        ),
        (
            Manifest(users=(UserSpec("a", role="root"),)),
            "user 'a': unknown role 'root': use one of admin, user",
        ),
        (
            Manifest(tokens=(TokenSpec("a", "k", ips=("10.0.0.1/8",)),)),
            "token a/k: 10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?",
        ),
        (
            Manifest(tokens=(TokenSpec("a", "k", key_sha256="abc"),)),
            "token a/k: a key hash is 64 hex digits (SHA-256)",
        ),
        (
            Manifest(groups={"bad name": Decimal(1)}),
            "group 'bad name': invalid group name 'bad name': no spaces or commas",
        ),
        (
            Manifest(settings={"secret_check": "x"}),
            "setting 'secret_check': unknown setting (expected one of:"
            " invite_reward_inviter, invite_reward_invitee)",
        ),
        (
            Manifest(redemptions=(RedemptionSpec("f" * 64, 0),)),
            f"redemption {'f' * 12}: a redemption code must be worth more than 0",
        ),
    ],
)
async def test_a_wrong_object_is_refused_naming_it(
    db: Database, desired: Manifest, message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await plan_changes(db, BOX, desired, prune=False)
    assert caught.value.message == message
