from __future__ import annotations

import asyncio

import pytest

from burncloud.crypto import hash_secret
from burncloud.db import open_database, parse_database_url
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNITS_PER_USD, UNLIMITED
from burncloud.services.redemptions import create_codes, list_redemptions, redeem
from burncloud.services.users import add_user, resolve_user

USD = UNITS_PER_USD


@pytest.mark.sqlite_only  # reads the SQLite file directly
async def test_codes_are_stored_only_as_hashes(db, db_url) -> None:
    codes = await create_codes(db, 5 * USD, count=3)
    assert len(set(codes)) == 3
    path = parse_database_url(db_url).sqlite_path
    stored = b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    for code in codes:
        assert hash_secret(code).encode() in stored
        assert code.encode() not in stored


async def test_list_redemptions_shows_hints_never_codes(db) -> None:
    [code] = await create_codes(db, 2 * USD)
    [listed] = [r.to_json() for r in await list_redemptions(db)]
    assert code not in str(listed)
    assert listed["code"].endswith(code[-4:])
    assert (listed["quota"], listed["status"], listed["used_by"]) == ("2", "unused", None)


async def test_redeem_credits_the_quota_to_the_user(db) -> None:
    alice = await add_user(db, name="alice", balance=USD)
    [code] = await create_codes(db, 2_500_000_000)
    assert await redeem(db, code, "alice") == 2_500_000_000
    assert (await resolve_user(db, "alice")).balance == 3_500_000_000
    [used] = await list_redemptions(db, "used")
    assert (used.used_by, used.status) == (alice.id, "used")
    assert used.used_at is not None


async def test_a_code_works_only_once(db) -> None:
    await add_user(db, name="alice")
    await add_user(db, name="bob")
    [code] = await create_codes(db, USD)
    await redeem(db, code, "alice")
    with pytest.raises(InvalidRequest, match="already been used"):
        await redeem(db, code, "bob")
    assert (await resolve_user(db, "alice")).balance == USD
    assert (await resolve_user(db, "bob")).balance == 0


async def test_an_unknown_code_is_not_found(db) -> None:
    await add_user(db, name="alice")
    with pytest.raises(NotFound, match="unknown redemption code"):
        await redeem(db, "no-such-code", "alice")


async def test_a_code_redeemed_for_an_unknown_user_stays_unused(db) -> None:
    [code] = await create_codes(db, USD)
    with pytest.raises(NotFound):
        await redeem(db, code, "nobody")
    assert [r.status for r in await list_redemptions(db)] == ["unused"]


async def test_an_unlimited_balance_stays_unlimited_and_the_code_is_spent(db) -> None:
    await add_user(db, name="root", role="admin", balance=UNLIMITED)
    [code] = await create_codes(db, USD)
    assert await redeem(db, code, "root") == USD
    assert (await resolve_user(db, "root")).balance == UNLIMITED
    assert [r.status for r in await list_redemptions(db)] == ["used"]


async def test_concurrent_redeems_on_two_connections_succeed_once(db, db_url) -> None:
    await add_user(db, name="alice")
    [code] = await create_codes(db, 7 * USD)
    first, second = await open_database(db_url), await open_database(db_url)
    try:
        results = await asyncio.gather(
            redeem(first, code, "alice"), redeem(second, code, "alice"), return_exceptions=True
        )
    finally:
        await first.close()
        await second.close()
    assert sorted(type(r).__name__ for r in results) == ["InvalidRequest", "int"]
    assert (await resolve_user(db, "alice")).balance == 7 * USD


@pytest.mark.parametrize(("quota", "count"), [(0, 1), (USD, 0), (USD, 1001)])
async def test_create_codes_refuses_worthless_or_bad_counts(db, quota, count) -> None:
    with pytest.raises(InvalidRequest):
        await create_codes(db, quota, count)
    assert await list_redemptions(db) == []


async def test_list_redemptions_refuses_an_unknown_status(db) -> None:
    with pytest.raises(InvalidRequest, match="unknown status"):
        await list_redemptions(db, "spent")
