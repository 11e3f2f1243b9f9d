"""The quota ledger: reservations from leases, exact under concurrency, never overspent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.errors import InsufficientQuota, ServiceUnavailable
from burncloud.gateway.billing.ledger import Ledger, slice_size
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.services.clock import now
from burncloud.services.leases import sweep_expired_leases
from burncloud.services.tokens import Token
from burncloud.services.users import User
from tests.gateway.quota_db import (
    BACKENDS,
    CommitGatedDb,
    CountingDb,
    FakeClock,
    OpenDb,
    database_factory,
    log_record,
    logged_cost,
    make_caller,
    money,
)

# Ledgers here run with prefill_requests=0: a background top-up would move money between
# the quota and the lease rows while a test reads them. The top-up has its own test
# (test_a_low_lease_is_topped_up_in_the_background), and the router race test runs with it.

A = 1_000_000  # one request's reservation: 0.001 USD
RICH = 10**15


@pytest.fixture(params=BACKENDS)
async def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    """Connections to one fresh database, SQLite or PostgreSQL."""
    async with database_factory(request.param, tmp_path) as connect:
        yield connect


@pytest.fixture
async def qdb(open_db: OpenDb) -> Database:
    """One connection to a fresh database, SQLite or PostgreSQL."""
    return await open_db()


async def request(
    ledger: Ledger, writer: LogWriter | None, token: Token, user: User, amount: int, cost: int
) -> bool:
    """One request: reserve, yield while "in flight", settle, log; False when refused."""
    try:
        reservation = await ledger.reserve(token, user, amount)
    except InsufficientQuota:
        return False
    await asyncio.sleep(0)
    settlement = ledger.settle(reservation, cost)
    if writer is not None:
        writer.submit(log_record(token, user, cost, settlement))
    return True


async def watch_minimum(db: Database, token: Token, done: asyncio.Event) -> int:
    """The lowest quota seen while ``done`` is unset."""
    lowest = RICH
    while not done.is_set():
        quota = await db.fetch_value("SELECT quota FROM tokens WHERE id = :id", {"id": token.id})
        lowest = min(lowest, quota)
        await asyncio.sleep(0)
    return lowest


def test_slices_are_a_few_requests_and_shrink_to_one_near_exhaustion() -> None:
    assert slice_size(10, 10, 1_000) == 250  # a quarter of what remains
    assert slice_size(10, 10, 10**9) == 500  # at most 50 requests
    assert slice_size(10, 10, 39) == 10  # near exhaustion: one request
    assert slice_size(10, 4, 1_000) == 244  # tops a fragment up to whole requests
    assert slice_size(10, 10, 10) == 10


async def test_reservation_served_from_lease_does_no_database_write(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=100 * A)
    counting = CountingDb(qdb)
    ledger = Ledger(counting, "w1", prefill_requests=0)  # type: ignore[arg-type]
    ledger.settle(await ledger.reserve(token, user, A), A)
    before = counting.calls
    for _ in range(10):
        ledger.settle(await ledger.reserve(token, user, A), A // 2)
    assert counting.calls == before
    state = await money(qdb, token, user)
    assert state["quota"] == 75 * A and state["token_leased"] == 25 * A


async def test_2000_concurrent_requests_on_quota_for_50_let_exactly_50_through(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=50 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    done = asyncio.Event()
    watcher = asyncio.create_task(watch_minimum(qdb, token, done))
    results = await asyncio.gather(
        *(request(ledger, writer, token, user, A, A) for _ in range(2000))
    )
    done.set()
    assert sum(results) == 50
    assert await watcher >= 0
    await writer.stop()
    await ledger.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == 0 and state["token_leased"] == 0
    assert state["token_used"] == 50 * A == await logged_cost(qdb, "token_id", token.id)
    assert state["balance"] == RICH - 50 * A


async def test_two_ledgers_sharing_one_token_let_exactly_50_through(open_db: OpenDb) -> None:
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=50 * A, balance=RICH)
    ledgers = [
        Ledger(first, "router-a", prefill_requests=0),
        Ledger(second, "router-b", prefill_requests=0),
    ]
    writers = [LogWriter(db, ledger) for db, ledger in zip((first, second), ledgers, strict=True)]
    results = await asyncio.gather(
        *(request(ledgers[i % 2], writers[i % 2], token, user, A, A) for i in range(2000))
    )
    assert sum(results) == 50
    for writer, ledger in zip(writers, ledgers, strict=True):
        await writer.stop()
        await ledger.stop()
    state = await money(first, token, user)
    assert state["quota"] == 0 and state["token_used"] == 50 * A
    assert await logged_cost(first, "token_id", token.id) == 50 * A


async def test_short_user_balance_refuses_with_402_and_gives_the_token_side_back(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=A // 2)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    with pytest.raises(InsufficientQuota) as refused:
        await ledger.reserve(token, user, A)
    assert refused.value.status == 402
    assert "balance" in refused.value.message and "API key" not in refused.value.message
    assert await ledger.affordable(token, user) == A // 2
    await ledger.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == 100 * A and state["balance"] == A // 2
    assert state["token_leased"] == 0


async def test_short_token_quota_names_the_key(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=A - 1, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    with pytest.raises(InsufficientQuota, match="API key's quota"):
        await ledger.reserve(token, user, A)
    await ledger.stop()
    assert (await money(qdb, token, user))["balance"] == RICH


async def test_unlimited_token_and_user_never_touch_the_database(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    counting = CountingDb(qdb)
    ledger = Ledger(counting, "w1", prefill_requests=0)  # type: ignore[arg-type]
    for _ in range(20):
        settlement = ledger.settle(await ledger.reserve(token, user, A), 3 * A)
        assert settlement.charges == ()
    assert await ledger.affordable(token, user) is None
    assert counting.calls == 0


async def test_settle_below_the_reservation_returns_the_rest(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=10 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    reservation = await ledger.reserve(token, user, 4 * A)
    assert await ledger.affordable(token, user) == 6 * A
    settlement = ledger.settle(reservation, A)
    assert [(c.subject, c.amount) for c in settlement.charges] == [("token", A), ("user", A)]
    assert None not in {c.lease_id for c in settlement.charges}
    assert await ledger.affordable(token, user) == 9 * A
    writer.submit(log_record(token, user, A, settlement))
    await writer.stop()
    await ledger.stop()
    assert (await money(qdb, token, user))["quota"] == 9 * A


async def test_release_gives_everything_back_and_only_once(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=10 * A, balance=10 * A)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    reservation = await ledger.reserve(token, user, 5 * A)
    ledger.release(reservation)
    ledger.release(reservation)
    assert await ledger.affordable(token, user) == 10 * A
    with pytest.raises(RuntimeError):
        ledger.settle(reservation, A)
    await ledger.stop()
    state = await money(qdb, token, user)
    assert (state["quota"], state["balance"]) == (10 * A, 10 * A)


async def test_stop_returns_the_leases_so_quota_is_initial_minus_costs(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=1000 * A, balance=700 * A)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    costs = [A, 3 * A, A // 3, 0, 7 * A + 11, 2 * A]
    for cost in costs:
        await request(ledger, writer, token, user, 5 * A, cost)
    assert (await money(qdb, token, user))["token_leased"] > 0
    await writer.stop()
    await ledger.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == 1000 * A - sum(costs)
    assert state["balance"] == 700 * A - sum(costs)
    assert state["token_used"] == state["user_used"] == sum(costs)
    assert await qdb.fetch_value("SELECT COUNT(*) FROM quota_leases") == 0


async def test_cost_above_the_reservation_is_covered_as_far_as_possible(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    settlement = ledger.settle(await ledger.reserve(token, user, 60 * A), 150 * A)
    token_charges = [(c.lease_id is None, c.amount) for c in settlement.charges]
    assert token_charges[:2] == [(False, 60 * A), (True, 90 * A)]  # the lease had no more
    assert token_charges[2:] == [(False, 60 * A), (False, 90 * A)]  # the user's lease had
    writer.submit(log_record(token, user, 150 * A, settlement))
    await writer.stop()
    await ledger.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == 0  # never negative: the 50 uncovered are written off
    assert state["token_used"] == 150 * A == await logged_cost(qdb, "token_id", token.id)
    assert state["balance"] == RICH - 150 * A


async def test_crashed_ledger_is_swept_once_refunding_only_what_it_did_not_spend(
    open_db: OpenDb,
) -> None:
    crashed_db, db_b, db_c = await open_db(), await open_db(), await open_db()
    token, user = await make_caller(crashed_db, quota=100 * A, balance=100 * A)
    crashed = Ledger(crashed_db, "crashed", ttl=60, prefill_requests=0)  # no live tasks
    writer = LogWriter(crashed_db, crashed)
    for cost in (A // 2, A, 2 * A):
        await request(crashed, writer, token, user, 2 * A, cost)
    await writer.flush()
    await crashed.reserve(token, user, 2 * A)  # in flight when it crashed
    await request(crashed, writer, token, user, 2 * A, 5 * A)  # settled, never logged
    later = now() + 3600
    swept = await asyncio.gather(
        Ledger(db_b, "b", prefill_requests=0).sweep_expired(later),
        sweep_expired_leases(db_c, later),
    )
    assert sorted(swept) == [0, 2]  # the token's and the user's lease, swept by one router
    state = await money(db_b, token, user)
    spent = A // 2 + A + 2 * A
    assert state["quota"] == state["balance"] == 100 * A - spent
    assert state["token_used"] == spent == await logged_cost(db_b, "token_id", token.id)
    assert await db_b.fetch_value("SELECT COUNT(*) FROM quota_leases") == 0


async def test_live_ledger_whose_lease_was_swept_bills_the_subject_directly(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=RICH)
    ledger = Ledger(qdb, "stalled", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    reservation = await ledger.reserve(token, user, 2 * A)
    assert await sweep_expired_leases(qdb, now() + 3600) == 2
    await ledger.renew()  # notices its leases are gone
    settlement = ledger.settle(reservation, A)
    assert {charge.lease_id for charge in settlement.charges} == {None}
    writer.submit(log_record(token, user, A, settlement))
    await writer.stop()
    assert await request(ledger, writer, token, user, 2 * A, A)  # takes a fresh lease
    await writer.stop()
    await ledger.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == 98 * A and state["token_used"] == 2 * A


async def test_idle_lease_goes_back_to_the_database(qdb: Database) -> None:
    clock = FakeClock()
    token, user = await make_caller(qdb, quota=100 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", idle_after=5, clock=clock, prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    await request(ledger, writer, token, user, A, A)
    clock.now += 10
    assert await ledger.return_idle() == 0  # its cost is not billed yet
    await writer.flush()
    clock.now += 10
    assert await ledger.return_idle() == 2
    state = await money(qdb, token, user)
    assert state["quota"] == 99 * A and state["balance"] == RICH - A
    assert await qdb.fetch_value("SELECT COUNT(*) FROM quota_leases") == 0
    assert await request(ledger, writer, token, user, A, A)  # and is taken again on demand
    await writer.stop()
    await ledger.stop()


async def test_lease_taken_near_exhaustion_goes_back_sooner(qdb: Database) -> None:
    clock = FakeClock()
    scarce, _ = await make_caller(qdb, quota=5 * A, balance=-1, name="scarce")
    plenty, user = await make_caller(qdb, quota=100 * A, balance=-1, name="plenty")
    ledger = Ledger(qdb, "w1", idle_after=5, clock=clock, prefill_requests=0)
    ledger.release(await ledger.reserve(scarce, user, A))
    ledger.release(await ledger.reserve(plenty, user, A))
    clock.now += 1
    assert await ledger.return_idle() == 1
    leased = await qdb.fetch_all("SELECT subject_id FROM quota_leases")
    assert leased == [{"subject_id": plenty.id}]
    await ledger.stop()


async def test_renew_pushes_the_expiry_of_held_leases(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", ttl=60, prefill_requests=0)
    await ledger.reserve(token, user, A)
    await qdb.execute("UPDATE quota_leases SET expires_at = 0")
    await ledger.renew()
    assert await qdb.fetch_value("SELECT MIN(expires_at) FROM quota_leases") >= now() + 59
    await ledger.stop()


async def test_background_task_returns_idle_leases(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=-1)
    ledger = Ledger(qdb, "w1", idle_after=0, tick=0.01, prefill_requests=0)
    ledger.release(await ledger.reserve(token, user, A))
    await ledger.start()
    for _ in range(200):
        if await qdb.fetch_value("SELECT COUNT(*) FROM quota_leases") == 0:
            break
        await asyncio.sleep(0.01)
    await ledger.stop()
    assert (await money(qdb, token, user))["quota"] == 100 * A


async def test_reserve_after_stop_is_refused(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    await ledger.stop()
    with pytest.raises(ServiceUnavailable):
        await ledger.reserve(token, user, A)


async def test_request_cancelled_while_taking_a_lease_keeps_the_slice_accounted(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=-1)
    gated = CommitGatedDb(qdb)
    ledger = Ledger(gated, "w1", prefill_requests=0)  # type: ignore[arg-type]
    pending = asyncio.create_task(ledger.reserve(token, user, A))
    await gated.committed.wait()
    pending.cancel()
    gated.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await asyncio.sleep(0.01)  # the shielded take finishes its bookkeeping
    assert (await money(qdb, token, user))["token_leased"] == 25 * A
    assert await ledger.affordable(token, user) == 100 * A
    await ledger.stop()
    assert (await money(qdb, token, user))["quota"] == 100 * A


async def test_a_low_lease_is_topped_up_in_the_background(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=1000 * A, balance=RICH)
    ledger = Ledger(qdb, "busy")
    held = [await ledger.reserve(token, user, A) for _ in range(45)]  # first slice: 50
    for _ in range(100):  # the top-up runs beside the requests, not in front of them
        remaining = await qdb.fetch_value("SELECT quota FROM tokens WHERE id = :i", {"i": token.id})
        if remaining < 950 * A:
            break
        await asyncio.sleep(0.01)
    assert remaining < 950 * A
    for reservation in held:
        ledger.release(reservation)
    await ledger.stop()
    assert (
        await qdb.fetch_value("SELECT quota FROM tokens WHERE id = :i", {"i": token.id}) == 1000 * A
    )


async def test_a_slice_spent_by_a_faster_request_is_not_handed_out_twice(qdb: Database) -> None:
    """The refill's shielded take lands its money in the lease a loop turn before the
    waiting request resumes; a request on the lock-free path may spend it first. The
    waiting one must then take its own money, not a second claim on the same slice."""
    token, user = await make_caller(qdb, quota=2 * A, balance=RICH)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    key = ("token", token.id)

    async def spend_as_soon_as_it_lands() -> object:
        # Polls every loop turn on purpose: it must run in the one turn that matters.
        while (lease := ledger._pool.get(key)) is None or lease.available < A:  # noqa: ASYNC110
            await asyncio.sleep(0)
        return await ledger.reserve(token, user, A)  # the lock-free path

    faster = asyncio.create_task(spend_as_soon_as_it_lands())
    waiting = await ledger.reserve(token, user, A)  # takes the first slice: one request
    assert faster.done()  # it took that slice before the waiting request resumed
    await faster
    lease = ledger._pool.get(key)
    assert lease is not None and lease.available == 0 and lease.reserved == 2 * A
    state = await money(qdb, token, user)
    assert (state["quota"], state["token_leased"]) == (0, 2 * A)  # both reservations paid
    with pytest.raises(InsufficientQuota):
        await ledger.reserve(token, user, A)
    ledger.settle(waiting, A)
    await ledger.stop()


async def _serve_until_refused(ledger: Ledger, writer: LogWriter, token: Token, user: User) -> int:
    served = 0
    while await request(ledger, writer, token, user, A, A):
        served += 1
    return served


@pytest.mark.parametrize("recall", [False, True])
async def test_money_idle_in_another_routers_lease_is_recalled_before_refusing(
    open_db: OpenDb, recall: bool
) -> None:
    """Router A took a slice of 50 requests' worth and went quiet; B then has the traffic.
    Without a recall B refuses while A's lease holds money (it would come back only once
    A's lease idles); with one, A gives its free money back and B serves every request."""
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=200 * A, balance=RICH)
    quiet = Ledger(first, "router-a", prefill_requests=0)
    giving: list[asyncio.Task[int]] = []

    def ask_a(key: tuple[str, int]) -> None:
        giving.append(asyncio.create_task(quiet.give_back(key)))

    busy = Ledger(second, "router-b", prefill_requests=0, recall=ask_a if recall else None)
    writers = [LogWriter(first, quiet), LogWriter(second, busy)]
    assert await request(quiet, writers[0], token, user, A, A)  # A now holds 49 idle
    served = await _serve_until_refused(busy, writers[1], token, user)
    assert served == (199 if recall else 150)
    assert bool(giving) == recall
    await asyncio.gather(*giving)
    for writer, ledger in zip(writers, (quiet, busy), strict=True):
        await writer.stop()
        await ledger.stop()
    state = await money(first, token, user)
    assert state["token_used"] == (1 + served) * A
    assert state["quota"] + state["token_used"] == 200 * A
