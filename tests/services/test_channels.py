from __future__ import annotations

from decimal import Decimal

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import ConfigError, InvalidRequest, NotFound
from burncloud.services import channels
from burncloud.services.channel_health import auto_disable
from burncloud.services.channel_keys import list_keys, usable_key
from burncloud.services.channel_types import (
    get_channel_type,
    normalize_base_url,
    parse_pairs,
    validate_base_url,
)
from burncloud.services.settings import read_config_version

BOX = SecretBox.from_passphrase("test-secret")


async def add_group(db: Database, name: str) -> None:
    await db.execute(
        "INSERT INTO user_groups (name, ratio, updated_at) VALUES (:n, '1', 0)", {"n": name}
    )


async def abilities(db: Database) -> set[tuple[str, str, int, int, int, int]]:
    rows = await db.fetch_all("SELECT * FROM abilities")
    return {
        (r["group_name"], r["model"], r["channel_id"], r["enabled"], r["priority"], r["weight"])
        for r in rows
    }


async def add(db: Database, **changes: object) -> channels.Channel:
    fields: dict = {"type": "openai", "name": "main", "key": "sk-upstream-0001", "models": ["m1"]}
    fields.update(changes)
    return await channels.add_channel(db, BOX, **fields)


async def test_add_builds_one_ability_per_group_and_model(db: Database) -> None:
    await add_group(db, "vip")
    ch = await add(db, models=["a", "b"], groups=["default", "vip"], weight=3, priority=2)
    assert await abilities(db) == {
        ("default", "a", ch.id, 1, 2, 3),
        ("default", "b", ch.id, 1, 2, 3),
        ("vip", "a", ch.id, 1, 2, 3),
        ("vip", "b", ch.id, 1, 2, 3),
    }


async def test_every_write_bumps_the_config_version(db: Database) -> None:
    versions = [await read_config_version(db)]
    ch = await add(db)
    versions.append(await read_config_version(db))
    await channels.update_channel(db, None, ch.id, name="renamed")
    versions.append(await read_config_version(db))
    await channels.disable_channel(db, ch.id)
    versions.append(await read_config_version(db))
    await channels.delete_channel(db, ch.id)
    versions.append(await read_config_version(db))
    assert versions == sorted(set(versions))


async def test_models_and_groups_are_stripped_split_and_deduplicated(db: Database) -> None:
    ch = await add(db, models=[" a , b", "a", "c,"], groups=["default,default"])
    assert ch.models == ("a", "b", "c")
    assert ch.groups == ("default",)


async def test_key_is_stored_encrypted_with_only_a_hint_visible(db: Database) -> None:
    ch = await add(db, key="sk-upstream-secret-9876")
    row = await db.fetch_one(
        "SELECT key_enc, key_hint FROM channel_keys WHERE channel_id = :id", {"id": ch.id}
    )
    assert row is not None
    assert "sk-upstream-secret-9876" not in row["key_enc"]
    assert row["key_hint"] == ch.key_hint == "sk-...9876"
    assert (await usable_key(db, BOX, ch.id)).key == "sk-upstream-secret-9876"
    assert "sk-upstream-secret-9876" not in str(ch.to_json())


async def test_decrypt_with_another_secret_is_a_config_error(db: Database) -> None:
    ch = await add(db)
    with pytest.raises(ConfigError, match="BURNCLOUD_SECRET"):
        await usable_key(db, SecretBox.from_passphrase("other"), ch.id)


async def test_to_json_gives_used_as_a_decimal_string(db: Database) -> None:
    ch = await add(db)
    await db.execute("UPDATE channels SET used = 15000000 WHERE id = :id", {"id": ch.id})
    data = (await channels.get_channel(db, ch.id)).to_json()
    assert data["used"] == "0.015"
    assert "key" not in data and data["key_hint"] == "sk-...0001"


async def test_update_changes_only_the_given_fields(db: Database) -> None:
    ch = await add(db, models=["a", "b"], model_map={"a": "a-0613"}, weight=5)
    updated = await channels.update_channel(db, None, ch.id, name="renamed")
    assert updated.name == "renamed"
    assert (updated.models, updated.model_map, updated.weight, updated.key_hint) == (
        ("a", "b"),
        {"a": "a-0613"},
        5,
        ch.key_hint,
    )


async def test_update_rebuilds_abilities(db: Database) -> None:
    ch = await add(db, models=["a", "b"])
    await channels.update_channel(db, None, ch.id, models=["c"], priority=7, weight=0)
    assert await abilities(db) == {("default", "c", ch.id, 1, 7, 0)}


async def test_update_with_a_new_key_replaces_hint_and_ciphertext(db: Database) -> None:
    ch = await add(db)
    updated = await channels.update_channel(db, BOX, ch.id, key="sk-rotated-key-4321")
    assert updated.key_hint == "sk-...4321"
    assert [key.key_hint for key in await list_keys(db, ch.id)] == ["sk-...4321"]
    assert (await usable_key(db, BOX, ch.id)).key == "sk-rotated-key-4321"


async def test_a_new_key_brings_a_channel_health_checks_took_out_back(db: Database) -> None:
    ch = await add(db)
    (key,) = await list_keys(db, ch.id)
    assert await auto_disable(db, ch.id, key.id, "401 invalid key")
    updated = await channels.update_channel(db, BOX, ch.id, key="sk-rotated-key-4321")
    assert (updated.status, updated.status_reason) == ("enabled", "")


async def test_many_keys_are_summarised_and_a_channel_needs_one(db: Database) -> None:
    ch = await add(db, key=["sk-upstream-first-0001", "sk-upstream-second-0002"])
    assert ch.key_hint == "2 keys"
    with pytest.raises(InvalidRequest, match="a channel needs a key"):
        await add(db, name="keyless", key=[])
    with pytest.raises(InvalidRequest, match="whitespace"):
        await add(db, name="spaced", key=["sk-a b"])


async def test_update_with_nothing_is_refused(db: Database) -> None:
    ch = await add(db)
    with pytest.raises(InvalidRequest, match="nothing to update"):
        await channels.update_channel(db, None, ch.id)


async def test_failed_update_changes_nothing(db: Database) -> None:
    ch = await add(db, models=["a"], model_map={"a": "x"})
    with pytest.raises(InvalidRequest, match="does not serve"):
        await channels.update_channel(db, None, ch.id, models=["b"])
    assert (await channels.get_channel(db, ch.id)).models == ("a",)
    assert await abilities(db) == {("default", "a", ch.id, 1, 0, 1)}


async def test_changing_type_moves_a_default_base_url_but_keeps_a_custom_one(
    db: Database,
) -> None:
    default = await add(db)
    custom = await add(db, name="custom", base_url="https://proxy.example.com/openai")
    moved = await channels.update_channel(db, None, default.id, type="anthropic")
    kept = await channels.update_channel(db, None, custom.id, type="anthropic")
    assert moved.base_url == "https://api.anthropic.com"
    assert kept.base_url == "https://proxy.example.com/openai"


async def test_bedrock_base_url_follows_its_region(db: Database) -> None:
    ch = await add(db, type="bedrock", key="AKIAEXAMPLE:secret", config={"region": "us-east-1"})
    assert ch.base_url == "https://bedrock-runtime.us-east-1.amazonaws.com"
    moved = await channels.update_channel(db, None, ch.id, config={"region": "eu-west-1"})
    assert moved.base_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"


async def test_disable_turns_abilities_off_and_enable_clears_the_reason(db: Database) -> None:
    ch = await add(db)
    disabled = await channels.disable_channel(db, ch.id, "quota exhausted")
    assert (disabled.status, disabled.status_reason) == ("disabled", "quota exhausted")
    assert await abilities(db) == {("default", "m1", ch.id, 0, 0, 1)}
    enabled = await channels.enable_channel(db, ch.id)
    assert (enabled.status, enabled.status_reason) == ("enabled", "")
    assert await abilities(db) == {("default", "m1", ch.id, 1, 0, 1)}


async def test_auto_disabled_channel_keeps_its_abilities_off_after_an_update(
    db: Database,
) -> None:
    ch = await add(db)
    await channels.set_channel_status(db, ch.id, "auto_disabled", "5 failures")
    await channels.update_channel(db, None, ch.id, weight=4)
    assert await abilities(db) == {("default", "m1", ch.id, 0, 0, 4)}


async def test_delete_removes_the_channel_and_its_abilities(db: Database) -> None:
    ch = await add(db)
    await channels.delete_channel(db, ch.id)
    assert await abilities(db) == set()
    with pytest.raises(NotFound):
        await channels.get_channel(db, ch.id)


async def test_unknown_id_is_not_found_everywhere(db: Database) -> None:
    for call in (
        channels.get_channel(db, 42),
        channels.update_channel(db, None, 42, name="x"),
        channels.enable_channel(db, 42),
        channels.disable_channel(db, 42),
        channels.delete_channel(db, 42),
    ):
        with pytest.raises(NotFound, match="no channel with id 42"):
            await call


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "cohere"}, "use one of openai, openai-compatible, azure"),
        ({"name": "  "}, "needs a name"),
        ({"key": " "}, "needs a key"),
        ({"key": "sk a"}, "whitespace"),
        ({"models": [" , "]}, "at least one model"),
        ({"groups": ["nope"]}, "unknown group 'nope'"),
        ({"weight": -1}, "weight must be at least 0"),
        ({"model_map": {"other": "x"}}, "does not serve"),
        ({"config": {"secret_access_key": "x"}}, "credential"),
        ({"type": "azure"}, "azure channels need --base-url"),
        ({"type": "openai-compatible"}, "need --base-url"),
        ({"type": "bedrock"}, "need --config region="),
        ({"type": "bedrock", "config": {"region": "us.evil.com/"}}, "not an AWS region"),
    ],
)
async def test_invalid_channels_are_refused(db: Database, changes: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        await add(db, **changes)
    assert await channels.list_channels(db) == []


@pytest.mark.parametrize(
    ("type_name", "url", "stored"),
    [
        ("openai", "https://api.example.com", "https://api.example.com/v1"),
        ("openai", "https://api.example.com/", "https://api.example.com/v1"),
        ("qwen", "HTTP://Local.Host:8080", "http://local.host:8080/v1"),
        ("openai-compatible", "http://127.0.0.1:9000/api/v1/", "http://127.0.0.1:9000/api/v1"),
        ("anthropic", "https://api.example.com", "https://api.example.com"),
        ("azure", "https://res.openai.azure.com/", "https://res.openai.azure.com"),
    ],
)
def test_base_url_normalisation(type_name: str, url: str, stored: str) -> None:
    assert normalize_base_url(get_channel_type(type_name), url) == stored


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com", "http:// or https://"),
        ("api.example.com", "http:// or https://"),
        ("https://user:pass@api.example.com", "credentials"),
        ("https://", "no host"),
        ("https://api.example.com/v1?x=1", "query or fragment"),
        ("https://api.example.com/v1#top", "query or fragment"),
        ("https://api.example.com:99999", "bad port"),
        ("https://api.example .com", "not a base URL"),
    ],
)
def test_bad_base_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        validate_base_url(url)


def test_credentials_are_not_echoed_in_the_error() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_base_url("ftp://user:hunter2@example.com")
    assert "hunter2" not in info.value.message


def test_parse_pairs_skips_empty_entries_and_refuses_half_pairs() -> None:
    assert parse_pairs(["a=b", "", " c = d=e "], "map") == {"a": "b", "c": "d=e"}
    for bad in ("a", "=b", "a="):
        with pytest.raises(InvalidRequest, match="use NAME=VALUE"):
            parse_pairs([bad], "map")


async def test_a_channel_costs_the_list_price_unless_given_a_cost_ratio(db: Database) -> None:
    assert (await add(db)).cost_ratio == Decimal(1)
    ch = await add(db, name="reseller", cost_ratio="0.30")
    assert (ch.cost_ratio, ch.to_json()["cost_ratio"]) == (Decimal("0.3"), "0.3")
    stored = await db.fetch_value("SELECT cost_ratio FROM channels WHERE id = :id", {"id": ch.id})
    assert stored == "0.3"  # normalised text: exact, never a float


async def test_updating_other_fields_keeps_the_cost_ratio(db: Database) -> None:
    ch = await add(db, cost_ratio="0.3")
    renamed = await channels.update_channel(db, None, ch.id, name="renamed")
    assert renamed.cost_ratio == Decimal("0.3")
    changed = await channels.update_channel(db, None, ch.id, cost_ratio=Decimal("1.5"))
    assert changed.cost_ratio == Decimal("1.5")


@pytest.mark.parametrize(
    ("ratio", "message"),
    [("-0.1", "non-negative"), ("abc", "not a decimal"), ("Infinity", "finite"), ("1001", "1000")],
)
async def test_a_bad_cost_ratio_is_refused_naming_it(db: Database, ratio: str, message: str):
    with pytest.raises(InvalidRequest, match=f"cost ratio.*{message}"):
        await add(db, cost_ratio=ratio)
    ch = await add(db)
    with pytest.raises(InvalidRequest, match="cost ratio"):
        await channels.update_channel(db, None, ch.id, cost_ratio=ratio)
    assert (await channels.get_channel(db, ch.id)).cost_ratio == Decimal(1)


async def test_a_name_another_channel_has_is_refused_on_add_and_update(db: Database) -> None:
    first = await add(db, name="main")
    second = await add(db, name="spare")
    with pytest.raises(
        InvalidRequest, match=f"^channel name 'main' is taken by channel {first.id}$"
    ):
        await add(db, name=" main ")
    with pytest.raises(
        InvalidRequest, match=f"^channel name 'main' is taken by channel {first.id}$"
    ):
        await channels.update_channel(db, None, second.id, name="main")
    kept = await channels.update_channel(db, None, first.id, name="main", weight=2)
    assert (kept.name, kept.weight) == ("main", 2)  # its own name is not taken


async def test_twins_from_before_names_were_unique_can_still_be_changed(db: Database) -> None:
    """An older database may hold two channels of one name: each stays editable, and may
    be renamed apart, but neither may take a name a third channel has."""
    first = await add(db, name="main")
    second = await add(db, name="spare")
    await db.execute("UPDATE channels SET name = 'main' WHERE id = :id", {"id": second.id})
    changed = await channels.update_channel(db, None, second.id, weight=4)
    assert (changed.name, changed.weight) == ("main", 4)
    renamed = await channels.update_channel(db, None, second.id, name="main-2")
    assert renamed.name == "main-2"
    with pytest.raises(InvalidRequest, match=f"taken by channel {first.id}"):
        await channels.update_channel(db, None, second.id, name="main")
