from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from burncloud.db import Database, open_database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services import quota, tokens
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.settings import read_config_version
from burncloud.services.users import create_user

FUTURE = 4_102_444_800  # 2100-01-01T00:00:00Z


async def _user(db: Database, name: str, balance: int = 0) -> int:
    async with db.transaction() as tx:
        return (await create_user(tx, name=name, balance=balance)).id


async def test_create_token_belongs_to_the_admin_by_default(db: Database) -> None:
    await ensure_admin(db)
    token, key = await tokens.create_token(db, "ci")
    admin = await db.fetch_one("SELECT id FROM users WHERE role = 'admin'")
    assert admin is not None and token.user_id == admin["id"]
    assert key.startswith("sk-") and token.key_hint != key
    assert token.quota == UNLIMITED


async def test_create_token_for_a_named_user_with_limits(db: Database) -> None:
    alice = await _user(db, "alice")
    token, _ = await tokens.create_token(
        db,
        "app",
        user_ref="alice",
        quota_units=parse_usd("2.5"),
        expires_at="2099-01-31",
        models="gpt-4, gpt-4o,gpt-4",
        ips="10.0.0.1, 2001:db8::/32",
    )
    assert token.user_id == alice
    assert token.quota == 2_500_000_000
    assert token.models == ("gpt-4", "gpt-4o")
    assert token.ips == ("10.0.0.1/32", "2001:db8::/32")


async def test_create_token_without_an_admin_is_refused(db: Database) -> None:
    with pytest.raises(NotFound, match="admin"):
        await tokens.create_token(db, "orphan")


async def test_create_token_refuses_a_negative_quota(db: Database) -> None:
    await ensure_admin(db)
    with pytest.raises(InvalidRequest, match="negative"):
        await tokens.create_token(db, "bad", quota_units=-5)


async def test_find_token_by_key_matches_only_that_key(db: Database) -> None:
    await ensure_admin(db)
    token, key = await tokens.create_token(db, "ci")
    found = await tokens.find_token_by_key(db, key)
    assert found is not None and found.id == token.id
    assert await tokens.find_token_by_key(db, key + "x") is None


def test_parse_expiry_minus_one_and_never_mean_no_expiry() -> None:
    assert tokens.parse_expiry("-1") is None
    assert tokens.parse_expiry(-1) is None
    assert tokens.parse_expiry("never") is None


def test_parse_expiry_takes_unix_seconds() -> None:
    assert tokens.parse_expiry(str(FUTURE)) == FUTURE


def test_parse_expiry_date_lasts_through_the_end_of_that_day_utc() -> None:
    expected = datetime(2099, 1, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert tokens.parse_expiry("2099-01-31") == int(expected)


def test_parse_expiry_datetime_without_offset_is_utc() -> None:
    noon = int(datetime(2099, 1, 31, 12, tzinfo=UTC).timestamp())
    assert tokens.parse_expiry("2099-01-31T12:00:00Z") == noon
    assert tokens.parse_expiry("2099-01-31T12:00:00") == noon
    assert tokens.parse_expiry("2099-01-31T14:00:00+02:00") == noon


@pytest.mark.parametrize("past", ["2020-01-01", "2020-01-01T00:00:00Z", "1600000000"])
def test_parse_expiry_refuses_the_past(past: str) -> None:
    with pytest.raises(InvalidRequest, match="in the past"):
        tokens.parse_expiry(past)


@pytest.mark.parametrize("bad", ["tomorrow", "2099-13-01", "-5", "31/01/2099"])
def test_parse_expiry_refuses_garbage(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid expiry"):
        tokens.parse_expiry(bad)


def test_parse_ips_normalises_to_networks_and_drops_duplicates() -> None:
    assert tokens.parse_ips("10.0.0.1, 10.0.0.1/32,192.168.0.0/16, ::1") == (
        "10.0.0.1/32",
        "192.168.0.0/16",
        "::1/128",
    )
    assert tokens.parse_ips("") == ()


def test_parse_ips_suggests_the_network_when_host_bits_are_set() -> None:
    with pytest.raises(InvalidRequest, match=r"did you mean 10\.0\.0\.0/24"):
        tokens.parse_ips("10.0.0.1/24")


@pytest.mark.parametrize("bad", ["10.0.0.256", "example.com", "10.0.0.0/33"])
def test_parse_ips_refuses_what_is_not_an_address(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid IP"):
        tokens.parse_ips(bad)


def test_parse_models_refuses_names_with_spaces() -> None:
    with pytest.raises(InvalidRequest, match="invalid model"):
        tokens.parse_models(["gpt 4"])


async def test_update_token_changes_only_the_given_fields(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", models="gpt-4", expires_at=FUTURE)
    updated = await tokens.update_token(db, token.id, rpm=60, ips="10.0.0.0/8")
    assert (updated.rpm, updated.ips) == (60, ("10.0.0.0/8",))
    assert (updated.name, updated.models, updated.expires_at) == ("ci", ("gpt-4",), FUTURE)


async def test_update_token_minus_one_clears_expiry_and_limits(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", expires_at=FUTURE)
    await tokens.update_token(db, token.id, tpm=1000, max_concurrency=4)
    cleared = await tokens.update_token(db, token.id, expires_at="-1", tpm=-1, max_concurrency=-1)
    assert (cleared.expires_at, cleared.tpm, cleared.max_concurrency) == (None, None, None)


async def test_update_token_refuses_a_zero_rate_limit(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci")
    with pytest.raises(InvalidRequest, match="rpm"):
        await tokens.update_token(db, token.id, rpm=0)


async def test_update_unknown_token_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="no token with id 42"):
        await tokens.update_token(db, 42, name="x")


async def test_revoke_keeps_the_row_and_delete_removes_it(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci")
    assert (await tokens.revoke_token(db, token.id)).status == "revoked"
    assert (await tokens.get_token(db, token.id)).status == "revoked"
    await tokens.delete_token(db, token.id)
    with pytest.raises(NotFound):
        await tokens.get_token(db, token.id)
    with pytest.raises(NotFound):
        await tokens.delete_token(db, token.id)


async def test_list_tokens_filters_by_user(db: Database) -> None:
    await ensure_admin(db)
    await _user(db, "bob")
    await tokens.create_token(db, "admin-ci")
    mine, _ = await tokens.create_token(db, "bob-app", user_ref="bob")
    assert [t.id for t in await tokens.list_tokens(db, "bob")] == [mine.id]
    assert len(await tokens.list_tokens(db)) == 3  # with the bootstrap admin key


async def test_every_token_and_quota_write_bumps_the_config_version(db: Database) -> None:
    await ensure_admin(db)
    before = await read_config_version(db)
    token, _ = await tokens.create_token(db, "ci", quota_units=0)
    await tokens.update_token(db, token.id, name="renamed")
    await quota.add_token_quota(db, token.id, 5)
    await quota.set_token_quota(db, token.id, 7)
    await quota.set_user_balance(db, "admin", 9)
    await quota.add_user_balance(db, "admin", 1)
    await tokens.revoke_token(db, token.id)
    await tokens.delete_token(db, token.id)
    assert await read_config_version(db) == before + 8


async def test_concurrent_quota_adds_end_exactly_at_the_sum(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", quota_units=0)
    cent = parse_usd("0.01")
    await asyncio.gather(*(quota.add_token_quota(db, token.id, cent) for _ in range(50)))
    assert (await quota.get_token_quota(db, token.id)).remaining == parse_usd("0.5")


async def test_concurrent_withdrawals_from_two_connections_never_overdraw(
    db: Database, db_url: str
) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", quota_units=parse_usd("0.1"))
    other = await open_database(db_url)
    try:
        takes = [quota.add_token_quota(d, token.id, -parse_usd("0.01")) for d in (db, other) * 10]
        results = await asyncio.gather(*takes, return_exceptions=True)
    finally:
        await other.close()
    refused = [r for r in results if isinstance(r, InvalidRequest)]
    assert len(refused) == 10 and all("below zero" in r.message for r in refused)
    assert (await quota.get_token_quota(db, token.id)).remaining == 0


async def test_adding_to_an_unlimited_quota_is_refused(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci")
    with pytest.raises(InvalidRequest, match="unlimited"):
        await quota.add_token_quota(db, token.id, 1)
    assert (await quota.get_token_quota(db, token.id)).remaining == UNLIMITED


async def test_set_token_quota_accepts_unlimited_and_refuses_negative(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", quota_units=3)
    assert (await quota.set_token_quota(db, token.id, UNLIMITED)).unlimited
    with pytest.raises(InvalidRequest, match="negative"):
        await quota.set_token_quota(db, token.id, -2)
    with pytest.raises(NotFound):
        await quota.set_token_quota(db, 999, 1)


async def test_user_balance_adds_and_refuses_to_go_below_zero(db: Database) -> None:
    await _user(db, "carol", balance=parse_usd("1"))
    state = await quota.add_user_balance(db, "carol", -parse_usd("0.25"))
    assert state.to_json()["balance"] == "0.75"
    with pytest.raises(InvalidRequest, match="below zero"):
        await quota.add_user_balance(db, "carol", -parse_usd("1"))
    assert (await quota.get_user_balance(db, "carol")).remaining == parse_usd("0.75")


async def test_adding_beyond_the_maximum_is_refused(db: Database) -> None:
    await ensure_admin(db)
    token, _ = await tokens.create_token(db, "ci", quota_units=quota.MAX_QUOTA_UNITS)
    with pytest.raises(InvalidRequest, match="exceed"):
        await quota.add_token_quota(db, token.id, 1)
