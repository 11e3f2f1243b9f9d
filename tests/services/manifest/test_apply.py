"""Applying a plan: one transaction through the services' own writes. After an apply the
plan is empty, a second apply changes nothing, prune deletes, renames keep ids, client
keys keep working, money is set only on creation, and any refusal leaves the database
exactly as it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

import pytest

from burncloud.crypto import generate_key, hash_secret, mask_secret
from burncloud.db import Database
from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services import channel_keys, channels, quota, tokens
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.manifest.apply import apply_plan
from burncloud.services.manifest.codec import dump_manifest, load_manifest
from burncloud.services.manifest.model import (
    ChannelSpec,
    Manifest,
    NewKey,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.manifest.plan import plan_changes
from burncloud.services.manifest.read import read_manifest
from burncloud.services.price_catalog import Catalog, price_data
from burncloud.services.pricing import Price
from burncloud.services.redemptions import redeem
from burncloud.services.settings import read_config_version
from burncloud.services.users import resolve_user
from tests.services.manifest.stored import BOX, OPENAI_KEY, rows, seed

CLIENT_KEY = "sk-" + "k" * 48  # a key clients of another gateway already hold


async def apply(db: Database, desired: Manifest, *, prune: bool = True) -> list[NewKey]:
    plan = await plan_changes(db, BOX, desired, prune=prune)
    return await apply_plan(db, BOX, plan)


async def replan(db: Database, desired: Manifest, *, prune: bool = True) -> list[str]:
    plan = await plan_changes(db, BOX, desired, prune=prune)
    return [change.line() for change in plan.changes]


def comparable(manifest: Manifest) -> Manifest:
    """``manifest`` without price version ids, which differ between databases by nature."""
    assert manifest.prices is not None

    def unversioned(table: Mapping[str, Price]) -> dict[str, Price]:
        return {model: replace(price, version=None) for model, price in table.items()}

    catalog = Catalog(
        prices=unversioned(manifest.prices.prices),
        channels={key: unversioned(t) for key, t in manifest.prices.channels.items()},
    )
    return replace(manifest, prices=catalog)


async def test_a_whole_installation_moves_to_an_empty_database(db: Database, tmp_path) -> None:
    from burncloud.db import open_database

    made = await seed(db)
    source = await read_manifest(db, BOX, with_keys=True)
    target = await open_database(f"sqlite:///{tmp_path}/target.db")
    try:
        await ensure_admin(target)  # a fresh install: its own admin and admin key
        assert await apply(target, source) == []
        assert await replan(target, source) == []
        moved = await read_manifest(target, BOX, with_keys=True)
        assert comparable(moved) == comparable(source)
        found = await tokens.find_token_by_key(target, made["alice_key"])
        assert found is not None and found.name == "laptop" and found.quota == parse_usd("5")
        alice = await resolve_user(target, "alice")
        assert (alice.balance, alice.group) == (parse_usd("25"), "vip")
    finally:
        await target.close()


async def test_apply_then_plan_is_empty_and_applying_again_changes_nothing(
    db: Database,
) -> None:
    await seed(db)
    desired = Manifest(
        groups={"default": Decimal(1), "vip": Decimal("0.7"), "team": Decimal(2)},
        users=(
            UserSpec("admin", role="admin", balance=UNLIMITED),
            UserSpec("alice", group="vip", rpm=60, max_concurrency=3),
            UserSpec("bob", group="team", balance=parse_usd("3"), enabled=False, inviter="alice"),
        ),
        channels=(
            ChannelSpec("openai-main", "openai", ("gpt-4o",), groups=("default", "team"), weight=3),
            ChannelSpec(
                "bedrock-us",
                "bedrock",
                ("claude-x",),
                keys=("AKIAEXAMPLE:secret",),
                config={"region": "us-east-1"},
                model_map={"claude-x": "anthropic.claude-x-v1:0"},
                cost_ratio=Decimal("0.5"),
                enabled=False,
            ),
        ),
    )
    await apply(db, desired, prune=False)
    assert await replan(db, desired, prune=False) == []
    version = await read_config_version(db)
    plan = await plan_changes(db, BOX, desired, prune=False)
    assert plan.is_empty and await apply_plan(db, BOX, plan) == []
    assert await read_config_version(db) == version  # nothing written, nothing to reload

    bob = await resolve_user(db, "bob")
    assert (bob.status, bob.group, bob.balance) == ("disabled", "team", parse_usd("3"))
    assert bob.inviter_id == (await resolve_user(db, "alice")).id
    alice = await resolve_user(db, "alice")
    assert (alice.rpm, alice.tpm, alice.max_concurrency) == (60, None, 3)
    listed = {channel.name: channel for channel in await channels.list_channels(db)}
    bedrock = listed["bedrock-us"]
    assert bedrock.status == "disabled" and bedrock.base_url.endswith("us-east-1.amazonaws.com")
    assert listed["openai-main"].weight == 3 and listed["openai-main"].key_hint == "sk-...0001"
    abilities = await db.fetch_all(
        "SELECT group_name, model FROM abilities WHERE channel_id = :id",
        {"id": listed["openai-main"].id},
    )
    assert sorted((r["group_name"], r["model"]) for r in abilities) == [
        ("default", "gpt-4o"),
        ("team", "gpt-4o"),
    ]


async def test_prune_deletes_what_the_file_leaves_out(db: Database) -> None:
    await seed(db)
    current = await read_manifest(db, BOX, with_keys=True)
    admin_user, _alice = current.users or ()
    admin_key, _laptop = current.tokens or ()
    desired = Manifest(
        channels=(),
        prices=Catalog(prices={}, channels={}),
        groups={"default": Decimal(1)},
        users=(admin_user,),
        tokens=(admin_key,),
        redemptions=(),
        settings={},
    )
    await apply(db, desired)
    assert await replan(db, desired) == []
    after = await read_manifest(db, BOX, with_keys=False)
    assert after.channels == () and after.redemptions == () and after.settings == {}
    assert after.prices == Catalog(prices={}, channels={})
    assert after.groups == {"default": Decimal(1)}
    assert [user.name for user in after.users or ()] == ["admin"]
    assert [(t.user, t.name) for t in after.tokens or ()] == [("admin", "admin")]
    assert await db.fetch_value("SELECT COUNT(*) FROM abilities") == 0


async def test_renames_keep_each_objects_id_and_what_points_at_it(db: Database) -> None:
    made = await seed(db)
    current = await read_manifest(db, BOX, with_keys=True)
    admin_user, alice = current.users or ()
    admin_key, laptop = current.tokens or ()
    [main] = current.channels or ()
    assert current.prices is not None
    desired = replace(
        current,
        channels=(replace(main, name="openai-primary", renamed_from="openai-main"),),
        users=(admin_user, replace(alice, name="alicia", renamed_from="alice")),
        tokens=(admin_key, replace(laptop, user="alicia", name="work", renamed_from="laptop")),
        prices=replace(
            current.prices, channels={"openai-primary": current.prices.channels["openai-main"]}
        ),
    )
    await apply(db, desired)
    assert await replan(db, desired) == []  # the file keeps renamed_from: still nothing
    channel = await channels.get_channel(db, made["channel"])
    assert channel.name == "openai-primary"
    token = await tokens.find_token_by_key(db, made["alice_key"])
    assert token is not None and (token.id, token.name) == (made["alice_token"], "work")
    assert (await resolve_user(db, "alicia")).id == token.user_id
    cost = await db.fetch_value(
        "SELECT COUNT(*) FROM channel_prices WHERE channel_id = :id", {"id": made["channel"]}
    )
    assert cost == 1


async def test_a_token_with_a_key_hash_accepts_the_key_clients_already_have(
    db: Database,
) -> None:
    await ensure_admin(db)
    token = TokenSpec(
        user="carol",
        name="imported",
        quota=parse_usd("7.5"),
        used=parse_usd("0.25"),
        expires_at=4_102_444_800,
        models=("gpt-4o",),
        ips=("10.0.0.0/8",),
        rpm=10,
        key_sha256=hash_secret(CLIENT_KEY),
        key_hint=mask_secret(CLIENT_KEY, visible_prefix=7),
    )
    new_keys = await apply(db, Manifest(users=(UserSpec("carol"),), tokens=(token,)), prune=False)
    assert new_keys == []
    found = await tokens.find_token_by_key(db, CLIENT_KEY)
    assert found is not None
    assert (found.name, found.quota, found.used, found.expires_at) == (
        "imported",
        parse_usd("7.5"),
        parse_usd("0.25"),
        4_102_444_800,
    )
    assert (found.models, found.ips, found.rpm, found.key_hint) == (
        ("gpt-4o",),
        ("10.0.0.0/8",),
        10,
        "sk-kkkk...kkkk",
    )


async def test_a_token_without_a_key_hash_gets_a_new_key_shown_once(db: Database) -> None:
    await ensure_admin(db)
    desired = Manifest(
        users=(UserSpec("dave"),),
        tokens=(TokenSpec("dave", "ci"), TokenSpec("dave", "old", active=False)),
    )
    new_keys = await apply(db, desired, prune=False)
    assert [(k.user, k.token) for k in new_keys] == [("dave", "ci"), ("dave", "old")]
    ci = await tokens.find_token_by_key(db, new_keys[0].key)
    old = await tokens.find_token_by_key(db, new_keys[1].key)
    assert ci is not None and ci.name == "ci" and ci.status == "active"
    assert old is not None and old.status == "revoked"
    assert await replan(db, desired, prune=False) == []  # a key made once is kept after


async def test_balances_and_quotas_are_set_on_creation_only(db: Database) -> None:
    await ensure_admin(db)
    desired = Manifest(
        users=(UserSpec("erin", balance=parse_usd("25")),),
        tokens=(
            TokenSpec("erin", "app", quota=parse_usd("4"), key_sha256=hash_secret(CLIENT_KEY)),
        ),
    )
    await apply(db, desired, prune=False)
    erin = await resolve_user(db, "erin")
    token = await tokens.find_token_by_key(db, CLIENT_KEY)
    assert token is not None
    await quota.add_user_balance(db, "erin", -parse_usd("5"))  # traffic spent some
    await quota.add_token_quota(db, token.id, -parse_usd("1"))
    more = replace(
        desired,
        users=(replace(desired.users[0], balance=parse_usd("100")),),  # type: ignore[index]
        tokens=(replace(desired.tokens[0], quota=parse_usd("100")),),  # type: ignore[index]
    )
    assert await replan(db, more, prune=False) == []
    await apply(db, more, prune=False)
    assert (await resolve_user(db, "erin")).balance == erin.balance - parse_usd("5")
    assert (await tokens.get_token(db, token.id)).quota == parse_usd("3")


async def test_one_refused_write_leaves_the_database_exactly_as_it_was(db: Database) -> None:
    await seed(db)
    admin_code = (await resolve_user(db, "admin")).invite_code
    before = await rows(db)
    desired = Manifest(
        groups={"default": Decimal(1), "vip": Decimal("0.8"), "new": Decimal(2)},
        users=(
            UserSpec("aaron", group="new", balance=parse_usd("1")),
            UserSpec("zoe", invite_code=admin_code),  # a rule only the write itself checks
        ),
        channels=(ChannelSpec("late", "openai", ("m",), keys=("sk-late-0001",)),),
    )
    plan = await plan_changes(db, BOX, desired, prune=False)
    with pytest.raises(
        InvalidRequest, match=f"invite code '{admin_code}' is taken by user 'admin'"
    ):
        await apply_plan(db, BOX, plan)
    assert await rows(db) == before


async def test_a_failure_after_users_are_written_undoes_them(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    before = await rows(db)

    async def refused(tx: Executor, draft: channels.ChannelFields, sealed: object) -> None:
        assert await tx.fetch_value("SELECT id FROM users WHERE name = 'aaron'") is not None
        raise InvalidRequest("bedrock channels need --config region=...")

    monkeypatch.setattr(channels, "insert_channel", refused)  # as apply calls it
    desired = Manifest(
        users=(UserSpec("admin", role="admin", balance=UNLIMITED), UserSpec("aaron")),
        channels=(ChannelSpec("late", "openai", ("m",), keys=("sk-late-0001",)),),
    )
    with pytest.raises(InvalidRequest, match="need --config region"):
        await apply(db, desired, prune=False)
    assert await rows(db) == before


async def test_a_change_made_since_the_plan_refuses_the_apply(db: Database) -> None:
    made = await seed(db)
    desired = Manifest(channels=(ChannelSpec("openai-main", "openai", ("gpt-4o",), weight=5),))
    plan = await plan_changes(db, BOX, desired, prune=False)
    await channels.update_channel(db, None, made["channel"], priority=9)
    before = await rows(db)
    with pytest.raises(InvalidRequest, match=r"^the database changed since the plan; run again$"):
        await apply_plan(db, BOX, plan)
    assert await rows(db) == before


async def test_base_urls_pass_the_callers_guard_before_anything_is_written(
    db: Database,
) -> None:
    await seed(db)
    checked: list[str] = []

    async def guard(url: str) -> None:
        checked.append(url)
        if "10.0.0.1" in url:
            raise InvalidRequest(f"base URL {url} is a private address")

    good = ChannelSpec(
        "proxy", "openai", ("m",), keys=("sk-p-0001",), base_url="https://proxy.example"
    )
    bad = ChannelSpec("inside", "openai", ("m",), keys=("sk-i-0001",), base_url="http://10.0.0.1")
    same = ChannelSpec(
        "openai-main", "openai", ("gpt-4o", "gpt-4o-mini"), groups=("default", "vip")
    )
    plan = await plan_changes(db, BOX, Manifest(channels=(good, same)), prune=False)
    await apply_plan(db, BOX, plan, check_url=guard)
    assert checked == ["https://proxy.example"]  # unchanged and default URLs are not asked
    before = await rows(db)
    plan = await plan_changes(db, BOX, Manifest(channels=(bad,)), prune=False)
    with pytest.raises(InvalidRequest, match="private address"):
        await apply_plan(db, BOX, plan, check_url=guard)
    assert await rows(db) == before


async def test_work_given_with_the_plan_runs_in_its_transaction(db: Database) -> None:
    await seed(db)
    before = await rows(db)
    desired = Manifest(groups={"default": Decimal(1), "vip": Decimal("0.8"), "x": Decimal(3)})
    plan = await plan_changes(db, BOX, desired, prune=False)

    async def failing_logs(tx: Executor) -> int:
        assert await tx.fetch_value("SELECT ratio FROM user_groups WHERE name = 'x'") == "3"
        raise InvalidRequest("log batch refused")

    with pytest.raises(InvalidRequest, match="log batch refused"):
        await apply_plan(db, BOX, plan, also=failing_logs)
    assert await rows(db) == before
    ran: list[bool] = []

    async def logs(tx: Executor) -> int:
        ran.append(True)
        return 0

    empty = await plan_changes(db, BOX, Manifest(), prune=False)
    await apply_plan(db, BOX, empty, also=logs)
    assert ran == [True]  # an import with nothing new still writes its logs


async def test_the_admin_role_can_move_to_another_user_in_one_apply(db: Database) -> None:
    await seed(db)
    desired = Manifest(
        users=(
            UserSpec("admin", role="user", balance=UNLIMITED),
            UserSpec("alice", role="admin", group="vip"),
        ),
    )
    await apply(db, desired, prune=False)
    assert (await resolve_user(db, "alice")).role == "admin"
    assert (await resolve_user(db, "admin")).role == "user"


async def test_a_user_leaves_a_group_that_is_deleted_in_the_same_apply(db: Database) -> None:
    await seed(db)
    current = await read_manifest(db, BOX, with_keys=True)
    admin_user, alice = current.users or ()
    [main] = current.channels or ()
    desired = replace(
        current,
        groups={"default": Decimal(1)},
        users=(admin_user, replace(alice, group="default")),
        channels=(replace(main, groups=("default",)),),
    )
    await apply(db, desired)
    assert (await read_manifest(db, BOX, with_keys=False)).groups == {"default": Decimal(1)}
    assert (await resolve_user(db, "alice")).group == "default"


async def test_redemption_codes_move_by_hash_and_stay_redeemable(db: Database) -> None:
    await ensure_admin(db)
    code = generate_key()
    desired = Manifest(redemptions=(RedemptionSpec(hash_secret(code), parse_usd("5"), "sk-...x"),))
    await apply(db, desired, prune=False)
    assert await redeem(db, code, "admin") == parse_usd("5")
    assert await replan(db, desired, prune=False) == []  # spent since: left alone


async def test_prices_and_aliases_are_written_and_pruned_in_a_valid_order(db: Database) -> None:
    await seed(db)
    desired = Manifest(
        prices=Catalog(
            prices={
                "claude-x": Price("claude-x", input=parse_usd("3"), output=parse_usd("15")),
                "claude-latest": Price("claude-latest", input=0, output=0, alias_of="claude-x"),
                "newest": Price("newest", input=0, output=0, alias_of="claude-latest"),
            },
            channels={},
        )
    )
    await apply(db, desired)
    assert await replan(db, desired) == []
    stored = await read_manifest(db, BOX, with_keys=False)
    assert stored.prices is not None
    assert {m: price_data(p) for m, p in stored.prices.prices.items()} == {
        "claude-x": {"input": "3", "output": "15"},
        "claude-latest": {"alias": "claude-x"},
        "newest": {"alias": "claude-latest"},
    }
    assert stored.prices.channels == {}


async def test_a_channels_keys_in_another_order_change_nothing_and_keep_their_state(
    db: Database,
) -> None:
    made = await seed(db)
    added = await channel_keys.add_keys(db, BOX, made["channel"], ["sk-b-0002", "sk-c-0003"])
    await channel_keys.set_key_status(db, made["channel"], added[0].id, "disabled")
    async with db.transaction() as tx:
        await channel_keys.write_key_status(tx, added[1].id, "auto_disabled", "out of credit")
        await tx.execute(
            "UPDATE channel_keys SET success_count = 7, failure_count = 3, used = 99"
            " WHERE channel_id = :c",
            {"c": made["channel"]},
        )
    current = await read_manifest(db, BOX, with_keys=True)
    [main] = current.channels or ()
    assert main.keys == (OPENAI_KEY, "sk-b-0002", "sk-c-0003")
    shuffled = replace(current, channels=(replace(main, keys=main.keys[::-1]),))
    before = await rows(db)
    assert await replan(db, shuffled) == []
    assert await apply(db, shuffled) == []
    assert await rows(db) == before  # every key's status, reason and counters kept


async def test_other_keys_replace_a_channels_keys(db: Database) -> None:
    made = await seed(db)
    current = await read_manifest(db, BOX, with_keys=True)
    [main] = current.channels or ()
    rotated = replace(current, channels=(replace(main, keys=("sk-new-0009", OPENAI_KEY)),))
    assert await replan(db, rotated) == ["~ channel openai-main: keys 1 -> 2 (1 added)"]
    await apply(db, rotated)
    assert await replan(db, rotated) == []
    stored = await channel_keys.list_keys(db, made["channel"])
    assert sorted(key.key_hint for key in stored) == ["sk-...0001", "sk-...0009"]
    assert (await channels.get_channel(db, made["channel"])).key_hint == "2 keys"
    single = replace(current, channels=(replace(main, keys=("sk-one-0005",)),))
    assert await replan(db, single) == ["~ channel openai-main: keys 2 -> 1 (1 added, 2 removed)"]
    await apply(db, single)
    [moved] = (await read_manifest(db, BOX, with_keys=True)).channels or ()
    assert moved.keys == ("sk-one-0005",)


POOL = ChannelSpec(
    "pool",
    "openai",
    ("m",),
    keys=("sk-pool-0001", "sk-pool-0002"),
    key_selection="round-robin",
    tags=("batch", "team-a"),
    rpm=10,
    tpm=1000,
    max_concurrency=2,
    overrides={
        "set_headers": {"X-Org": "acme-secret-org"},
        "set_params": {"temperature": 0.2},
        "drop_params": ["user"],
    },
    auto_sync=3600,
    balance_api="deepseek",
    balance_every=0,
    balance_alert_below="2.5",
)


async def test_a_new_channel_gets_every_key_and_option_and_each_change_has_its_line(
    db: Database,
) -> None:
    await seed(db)
    await apply(db, Manifest(channels=(POOL,)), prune=False)
    assert await replan(db, Manifest(channels=(POOL,)), prune=False) == []
    made = next(c for c in await channels.list_channels(db) if c.name == "pool")
    assert (made.key_selection, made.tags, made.rpm, made.tpm, made.max_concurrency) == (
        "round-robin",
        ("batch", "team-a"),
        10,
        1000,
        2,
    )
    assert made.overrides == POOL.overrides and made.auto_sync == 3600
    assert (made.balance_api, made.balance_every, made.balance_alert_below) == (
        "deepseek",
        0,
        "2.5",
    )
    assert len(await channel_keys.list_keys(db, made.id)) == 2
    changed = replace(
        POOL,
        key_selection="random",
        rpm=None,
        tags=(),
        overrides={"set_headers": {"X-Org": "other-org"}, "drop_params": ["user", "seed"]},
        auto_sync=None,
        balance_every=None,
        balance_alert_below="2.50",  # the same amount
    )
    [line] = await replan(db, Manifest(channels=(changed,)), prune=False)
    assert line == (
        "~ channel pool: key_selection round-robin -> random, tags batch,team-a -> -,"
        " rpm 10 -> -, auto_sync 1h -> -, balance_every never -> -,"
        ' overrides.drop_params ["user"] -> ["user","seed"],'
        " overrides.set_headers: X-Org changed,"
        ' overrides.set_params {"temperature":0.2} -> -'
    )
    assert "acme" not in line and "other-org" not in line  # a header's value may be a secret
    await apply(db, Manifest(channels=(changed,)), prune=False)
    after = await channels.get_channel(db, made.id)
    assert (after.rpm, after.tags, after.auto_sync, after.balance_every) == (None, (), None, None)
    assert after.overrides == {
        "set_headers": {"X-Org": "other-org"},
        "drop_params": ["user", "seed"],
    }


async def test_a_channel_moves_to_another_database_with_its_keys_and_options(
    db: Database, tmp_path
) -> None:
    from burncloud.db import open_database

    await seed(db)
    await apply(db, Manifest(channels=(POOL,)), prune=False)
    source = await read_manifest(db, BOX, with_keys=True)
    target = await open_database(f"sqlite:///{tmp_path}/target.db")
    try:
        await ensure_admin(target)
        await apply(target, source)
        assert await replan(target, source) == []
        moved = await read_manifest(target, BOX, with_keys=True)
        assert moved.channels == source.channels
    finally:
        await target.close()


async def test_a_credential_header_left_null_by_the_file_keeps_its_stored_value(
    db: Database,
) -> None:
    made = await seed(db)
    secret = {
        "set_headers": {"Authorization": "Bearer proxy-secret", "X-Org": "acme"},
        "set_params": {"n": 2.0},  # written 2: the same number
    }
    await channels.update_channel(db, None, made["channel"], overrides=secret)
    text = dump_manifest(await read_manifest(db, BOX, with_keys=False), "yaml", "omit")
    assert "proxy-secret" not in text
    from_file = load_manifest(text, "yaml", {})
    assert await replan(db, from_file) == []
    [main] = from_file.channels or ()
    other_org = {"set_headers": {"Authorization": None, "X-Org": "other"}, "set_params": {"n": 2}}
    changed = replace(from_file, channels=(replace(main, overrides=other_org),))
    line = "~ channel openai-main: overrides.set_headers: X-Org changed"
    assert await replan(db, changed) == [line]
    await apply(db, changed)
    stored = (await channels.get_channel(db, made["channel"])).overrides
    assert stored == {
        "set_headers": {"Authorization": "Bearer proxy-secret", "X-Org": "other"},
        "set_params": {"n": 2},
    }
    new = replace(main, name="copy", keys=("sk-copy-0001",), overrides=other_org)
    with pytest.raises(InvalidRequest) as caught:
        await replan(db, replace(from_file, channels=(main, new)))
    assert caught.value.message == (
        "channel 'copy': header override 'Authorization' has no value in the file (written"
        " with --secrets omit or env) and the channel has none: give it"
    )
