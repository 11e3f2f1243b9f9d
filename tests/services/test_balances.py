"""services.balances: what an owner can spend is its stored amount plus what routers hold."""

from __future__ import annotations

from burncloud.db import Database
from burncloud.money import UNITS_PER_USD, UNLIMITED
from burncloud.services.balances import Holding, read_holdings
from burncloud.services.leases import TOKEN, USER, return_lease, take_lease
from burncloud.services.quota import get_token_quota
from burncloud.services.tokens import create_token, get_token
from burncloud.services.users import add_user, get_user

USD = UNITS_PER_USD


async def test_a_lease_moves_money_without_changing_what_can_be_spent(db: Database) -> None:
    alice = await add_user(db, name="alice", balance=2 * USD)
    lease = await take_lease(db, "r1", USER, alice.id, USD // 2, 60)
    await take_lease(db, "r2", USER, alice.id, USD // 4, 60)
    assert lease is not None
    holding = (await read_holdings(db, USER))[alice.id]
    assert holding == Holding(stored=USD * 5 // 4, held=USD * 3 // 4, used=0)
    assert holding.spendable == (await get_user(db, alice.id)).balance == 2 * USD
    assert await return_lease(db, "r1", lease, USD // 2)
    assert (await read_holdings(db, USER, alice.id))[alice.id].spendable == 2 * USD


async def test_an_unlimited_owner_stays_unlimited_whatever_a_lease_row_says(db: Database) -> None:
    await add_user(db, name="alice")
    token, _ = await create_token(db, "app", user_ref="alice")
    await db.execute(  # a lease left from before the token became unlimited
        "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
        " VALUES ('r1', 'token', :id, :x, 0)",
        {"id": token.id, "x": USD},
    )
    assert (await read_holdings(db, TOKEN, token.id))[token.id] == Holding(UNLIMITED, 0, 0)
    assert (await get_token(db, token.id)).quota == UNLIMITED
    state = await get_token_quota(db, token.id)
    assert (state.remaining, state.held) == (UNLIMITED, 0)


async def test_holdings_of_one_owner_or_all(db: Database) -> None:
    alice = await add_user(db, name="alice", balance=USD)
    bob = await add_user(db, name="bob", balance=UNLIMITED)
    assert set(await read_holdings(db, USER)) == {alice.id, bob.id}
    assert set(await read_holdings(db, USER, bob.id)) == {bob.id}
    assert await read_holdings(db, USER, 999) == {}
