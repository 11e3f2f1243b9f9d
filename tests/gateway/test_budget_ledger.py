"""Budget windows in the quota ledger: held and billed like quota, exact under concurrency,
refused with the window and its reset, and fresh money when a window turns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.errors import BudgetExceeded, InsufficientQuota
from burncloud.gateway.billing.budget_book import HeldWindow
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.services import budgets
from burncloud.services.budgets import TOKEN, USER, BudgetRule
from burncloud.services.tokens import Token
from burncloud.services.users import User
from tests.gateway.quota_db import (
    BACKENDS,
    FakeClock,
    OpenDb,
    database_factory,
    log_record,
    make_caller,
)

A = 1_000_000  # one request: 0.001 USD
RICH = 10**15
UNLIMITED = -1
NOON = 1_796_644_800  # 2026-12-07T12:00:00Z


@pytest.fixture(params=BACKENDS)
async def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    async with database_factory(request.param, tmp_path) as connect:
        yield connect


@pytest.fixture
async def qdb(open_db: OpenDb) -> Database:
    return await open_db()


class WallClock:
    """A settable wall clock for the budget book (unix seconds)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def budget(db: Database, scope: str, sid: int, amount: int, period: str) -> BudgetRule:
    async with db.transaction() as tx:
        return await budgets.set_budget(tx, scope, sid, amount, period, now=NOON)


async def windows(ledger: Ledger, rules: list[tuple[BudgetRule, int]]) -> list[HeldWindow]:
    return await ledger.budgets.windows(rules)


async def window_state(db: Database) -> list[tuple[int, int, int, int]]:
    """(amount, remaining, leased, used) of each window row."""
    rows = await db.fetch_all("SELECT * FROM budget_windows ORDER BY id")
    leased = await db.fetch_all(
        "SELECT subject_id, amount FROM quota_leases WHERE subject = 'budget'"
    )
    held = {row["subject_id"]: 0 for row in leased}
    for row in leased:
        held[row["subject_id"]] += row["amount"]
    return [(r["amount"], r["remaining"], held.get(r["id"], 0), r["used"]) for r in rows]


async def one_request(
    ledger: Ledger,
    writer: LogWriter,
    token: Token,
    user: User,
    rules: list[tuple[BudgetRule, int]],
    amount: int,
    cost: int,
) -> bool:
    try:
        held = await windows(ledger, rules)
        reservation = await ledger.reserve(token, user, amount, held)
    except InsufficientQuota:
        return False
    await asyncio.sleep(0)
    writer.submit(log_record(token, user, cost, ledger.settle(reservation, cost)))
    return True


async def test_a_window_is_held_and_billed_like_a_quota(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(qdb, TOKEN, token.id, 10 * A, "day")
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=WallClock(NOON))
    writer = LogWriter(qdb, ledger)
    assert await one_request(ledger, writer, token, user, [(rule, token.id)], 2 * A, A)
    await writer.flush()
    ((amount, remaining, leased, used),) = await window_state(qdb)
    assert (amount, used) == (10 * A, A) and remaining + leased + used == amount
    await writer.stop()
    await ledger.stop()
    assert await window_state(qdb) == [(10 * A, 9 * A, 0, A)]


async def test_a_spent_window_refuses_with_its_name_reset_and_retry_after(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=RICH)
    rule = await budget(qdb, TOKEN, token.id, 3 * A, "day")
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=WallClock(NOON + 3600))
    held = await windows(ledger, [(rule, token.id)])
    for _ in range(3):
        ledger.settle(await ledger.reserve(token, user, A, held), A)
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.reserve(token, user, A, held)
    error = refused.value
    assert error.status == 402 and error.code == "budget_exceeded"
    assert "this API key's daily budget of 0.003 USD" in error.message
    assert "resets at 2026-12-08T00:00:00+00:00" in error.message
    assert error.headers == {"Retry-After": str(11 * 3600)}
    await ledger.stop()


async def test_a_refusing_window_gives_back_what_the_quota_and_balance_held(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=100 * A)
    rule = await budget(qdb, USER, user.id, A, "month")
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=WallClock(NOON))
    held = await windows(ledger, [(rule, user.id)])
    with pytest.raises(BudgetExceeded, match="the account's monthly budget"):
        await ledger.reserve(token, user, 2 * A, held)
    assert await ledger.affordable(token, user, held) == A
    reservation = await ledger.reserve(token, user, A, held)  # the quota was not lost
    assert [side[0] for side in reservation.sides()] == ["token", "user", "budget"]
    ledger.release(reservation)
    await ledger.stop()


async def test_500_requests_on_a_daily_budget_for_50_let_exactly_50_through_two_ledgers(
    open_db: OpenDb,
) -> None:
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=UNLIMITED, balance=RICH)
    rule = await budget(first, TOKEN, token.id, 50 * A, "day")
    clock = WallClock(NOON)
    ledgers = [
        Ledger(first, "router-a", prefill_requests=0, wall_clock=clock),
        Ledger(second, "router-b", prefill_requests=0, wall_clock=clock),
    ]
    writers = [LogWriter(db, ledger) for db, ledger in zip((first, second), ledgers, strict=True)]
    rules = [(rule, token.id)]
    results = await asyncio.gather(
        *(one_request(ledgers[i % 2], writers[i % 2], token, user, rules, A, A) for i in range(500))
    )
    assert sum(results) == 50
    for writer, ledger in zip(writers, ledgers, strict=True):
        await writer.stop()
        await ledger.stop()
    assert await window_state(first) == [(50 * A, 0, 0, 50 * A)]
    balance = await first.fetch_value("SELECT balance FROM users WHERE id = :id", {"id": user.id})
    assert balance == RICH - 50 * A  # the same money left the balance: no double charge


async def test_a_5_hour_window_refills_when_it_ends(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(qdb, TOKEN, token.id, 2 * A, "5h")
    clock = WallClock(NOON + 17 * 60)
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=clock)
    writer = LogWriter(qdb, ledger)
    rules = [(rule, token.id)]
    assert [await one_request(ledger, writer, token, user, rules, A, A) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    clock.at += 5 * 3600 - 1
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.reserve(token, user, A, await windows(ledger, rules))
    assert refused.value.headers["Retry-After"] == "1"
    clock.at += 1  # the window ended: the next request opens a new one
    assert await one_request(ledger, writer, token, user, rules, A, A)
    await writer.stop()
    await ledger.stop()
    rows = await qdb.fetch_all("SELECT seq, starts_at, used FROM budget_windows ORDER BY seq")
    assert [(r["seq"], r["starts_at"], r["used"]) for r in rows] == [
        (1, NOON + 17 * 60, 2 * A),
        (2, NOON + 17 * 60 + 5 * 3600, A),
    ]


async def test_a_day_turning_at_local_midnight_opens_a_fresh_window(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(qdb, TOKEN, token.id, A, "day")
    shanghai_midnight = NOON + 4 * 3600  # 16:00 UTC
    clock = WallClock(shanghai_midnight - 1)
    ledger = Ledger(qdb, "w1", prefill_requests=0, timezone="Asia/Shanghai", wall_clock=clock)
    writer = LogWriter(qdb, ledger)
    rules = [(rule, token.id)]
    assert await one_request(ledger, writer, token, user, rules, A, A)
    with pytest.raises(BudgetExceeded, match=r"resets at 2026-12-08T00:00:00\+08:00"):
        await ledger.reserve(token, user, A, await windows(ledger, rules))
    clock.at = shanghai_midnight
    assert await one_request(ledger, writer, token, user, rules, A, A)
    await writer.stop()
    await ledger.stop()


async def test_a_cost_above_the_reservation_is_billed_to_the_window_too(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(qdb, TOKEN, token.id, 10 * A, "week")
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=WallClock(NOON))
    writer = LogWriter(qdb, ledger)
    held = await windows(ledger, [(rule, token.id)])
    free = await ledger.reserve(token, user, 0, held)  # a free-looking request that cost
    writer.submit(log_record(token, user, 3 * A, ledger.settle(free, 3 * A)))
    await writer.stop()
    await ledger.stop()
    assert await window_state(qdb) == [(10 * A, 7 * A, 0, 3 * A)]


async def test_a_crashed_routers_window_lease_is_swept_back(open_db: OpenDb) -> None:
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(first, TOKEN, token.id, 10 * A, "day")
    clock = FakeClock()
    crashed = Ledger(first, "crashed", ttl=2, prefill_requests=0, clock=clock,
                     wall_clock=WallClock(NOON))  # fmt: skip
    await crashed.reserve(token, user, A, await windows(crashed, [(rule, token.id)]))
    ((_, remaining, leased, _),) = await window_state(first)
    assert leased > 0 and remaining + leased == 10 * A
    survivor = Ledger(second, "survivor", prefill_requests=0, wall_clock=WallClock(NOON))
    assert await survivor.sweep_expired(now=2**40) == 1  # long after it expired
    assert await window_state(first) == [(10 * A, 10 * A, 0, 0)]
    await survivor.stop()


async def test_a_budget_removed_since_the_snapshot_limits_nothing(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=UNLIMITED, balance=UNLIMITED)
    rule = await budget(qdb, TOKEN, token.id, A, "day")
    ledger = Ledger(qdb, "w1", prefill_requests=0, wall_clock=WallClock(NOON))
    held = await windows(ledger, [(rule, token.id)])
    async with qdb.transaction() as tx:
        await budgets.remove_budget(tx, TOKEN, token.id, "day")
    reservation = await ledger.reserve(token, user, 5 * A, held)  # the stale window: no 402
    assert list(reservation.sides()) == []
    await ledger.stop()
