"""The log writer: batched rows and billing, exact, surviving failures, flushed on stop."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from burncloud.db import Database
from burncloud.db.base import Executor
from burncloud.errors import InsufficientQuota, StorageUnavailable
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.billing.reservations import Settlement
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.clock import now
from burncloud.services.leases import sweep_expired_leases
from burncloud.services.tokens import Token
from burncloud.services.users import User
from tests.gateway.quota_db import (
    BACKENDS,
    BrokenDb,
    CommitGatedDb,
    CountingDb,
    OpenDb,
    database_factory,
    log_record,
    logged_cost,
    make_caller,
    make_channel,
    money,
)

# Ledgers here run with prefill_requests=0: a background top-up would move money between
# the quota and the lease rows while a test reads them. The top-up has its own test
# (test_a_low_lease_is_topped_up_in_the_background), and the router race test runs with it.

A = 1_000_000


@pytest.fixture(params=BACKENDS)
async def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    """Connections to one fresh database, SQLite or PostgreSQL."""
    async with database_factory(request.param, tmp_path) as connect:
        yield connect


@pytest.fixture
async def qdb(open_db: OpenDb) -> Database:
    """One connection to a fresh database, SQLite or PostgreSQL."""
    return await open_db()


async def wait_until_written(writer: LogWriter) -> None:
    for _ in range(500):
        if writer.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{writer.pending} rows still pending")


async def test_flush_writes_the_rows_and_used_exactly(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=100 * A)
    channel = await make_channel(qdb)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    costs = [A, 2 * A + 7, 0, A // 3]
    for cost in costs:
        settlement = ledger.settle(await ledger.reserve(token, user, 3 * A), cost)
        writer.submit(log_record(token, user, cost, settlement, channel_id=channel))
    assert (await money(qdb, token, user))["token_used"] == 0  # nothing written yet
    assert await writer.flush() == 4
    assert writer.pending == 0
    state = await money(qdb, token, user)
    assert state["token_used"] == state["user_used"] == sum(costs)
    assert await logged_cost(qdb, "channel_id", channel) == sum(costs)
    used = await qdb.fetch_value("SELECT used FROM channels WHERE id = :id", {"id": channel})
    assert used == sum(costs)
    # the billed costs left the lease rows: quota + leased + used is the initial quota
    assert state["quota"] + state["token_leased"] + state["token_used"] == 100 * A
    rows = await qdb.fetch_all("SELECT stream, estimated, status FROM logs")
    assert rows == [{"stream": 0, "estimated": 0, "status": 200}] * 4
    await ledger.stop()


async def test_failed_flush_keeps_the_rows_and_retries_without_duplicates(
    qdb: Database, caplog: pytest.LogCaptureFixture
) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=-1)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    broken = BrokenDb(qdb, failures=2)
    writer = LogWriter(broken, ledger, interval=0.01)  # type: ignore[arg-type]
    for cost in (A, 2 * A, 3 * A):
        settlement = ledger.settle(await ledger.reserve(token, user, 3 * A), cost)
        writer.submit(log_record(token, user, cost, settlement))
    with caplog.at_level(logging.ERROR, logger="burncloud.logwriter"):
        await writer.start()
        await wait_until_written(writer)
        await writer.stop()
    assert broken.failures == 0
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 3
    assert (await money(qdb, token, user))["token_used"] == 6 * A
    await ledger.stop()
    assert (await money(qdb, token, user))["quota"] == 94 * A


async def test_stop_flushes_everything_pending(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    writer = LogWriter(qdb, Ledger(qdb, "w1", prefill_requests=0), interval=60)
    await writer.start()
    for _ in range(7):
        writer.submit(log_record(token, user, A, None))
    assert await writer.stop() == 0
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 7
    assert (await money(qdb, token, user))["token_used"] == 7 * A


async def test_stop_gives_up_at_its_deadline_and_keeps_the_rows(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    broken = BrokenDb(qdb, failures=10**6)
    writer = LogWriter(broken, Ledger(qdb, "w1", prefill_requests=0), interval=0.01)  # type: ignore[arg-type]
    writer.submit(log_record(token, user, A, None))
    writer.submit(log_record(token, user, A, None))
    assert await writer.stop(retry_for=0.1) == 2
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 0
    broken.failures = 0
    assert await writer.stop() == 0
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 2


async def test_a_full_batch_is_written_before_the_interval(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    writer = LogWriter(qdb, Ledger(qdb, "w1", prefill_requests=0), interval=60, batch_size=3)
    await writer.start()
    for _ in range(3):
        writer.submit(log_record(token, user, A, None))
    await wait_until_written(writer)
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 3
    await writer.stop()


async def test_cost_without_a_settlement_is_charged_directly_never_below_zero(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=5 * A, balance=3 * A)
    writer = LogWriter(qdb, Ledger(qdb, "w1", prefill_requests=0))
    writer.submit(log_record(token, user, 4 * A, None))
    await writer.stop()
    state = await money(qdb, token, user)
    assert (state["quota"], state["balance"]) == (A, 0)
    assert state["token_used"] == state["user_used"] == 4 * A


async def test_cost_from_a_swept_lease_is_charged_to_the_subject(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=100 * A, balance=100 * A)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    settlement = ledger.settle(await ledger.reserve(token, user, 2 * A), A)
    assert await sweep_expired_leases(qdb, now() + 3600) == 2  # refunds the whole lease
    writer.submit(log_record(token, user, A, settlement))
    await writer.stop()
    state = await money(qdb, token, user)
    assert state["quota"] == state["balance"] == 99 * A
    assert state["token_used"] == A


@pytest.mark.parametrize("overage", [False, True], ids=["within", "overage"])
async def test_used_equals_the_sum_of_logged_costs_after_any_sequence(
    open_db: OpenDb, overage: bool
) -> None:
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=300 * A, balance=250 * A)
    rng = random.Random(20240611)
    ledgers = [Ledger(first, "a", prefill_requests=0), Ledger(second, "b", prefill_requests=0)]
    writers = [LogWriter(db, ledger) for db, ledger in zip((first, second), ledgers, strict=True)]
    refused = 0
    for step in range(300):
        ledger, writer = ledgers[step % 2], writers[step % 2]
        try:
            reservation = await ledger.reserve(token, user, rng.randint(0, 6 * A))
        except InsufficientQuota:
            refused += 1
            continue
        action = rng.random()
        if action < 0.15:
            ledger.release(reservation)
            continue
        cost = rng.randint(0, 8 * A if overage else reservation.amount)
        writer.submit(log_record(token, user, cost, ledger.settle(reservation, cost)))
        if action > 0.9:
            await writer.flush()
    for writer, ledger in zip(writers, ledgers, strict=True):
        await writer.stop()
        await ledger.stop()
    state = await money(first, token, user)
    spent = await logged_cost(first, "token_id", token.id)
    assert refused > 0 and spent > 0  # the sequence did run the balance dry
    assert state["token_used"] == state["user_used"] == spent
    assert await first.fetch_value("SELECT COUNT(*) FROM quota_leases") == 0
    if overage:  # costs above what was left were written off, never taken below zero
        assert 0 <= state["balance"] < 250 * A < spent
        assert 300 * A - spent <= state["quota"] <= 300 * A
    else:
        assert state["quota"] == 300 * A - spent
        assert state["balance"] == 250 * A - spent >= 0


async def test_flush_cancelled_at_commit_writes_each_row_once(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    gated = CommitGatedDb(qdb)
    writer = LogWriter(gated, Ledger(qdb, "w1", prefill_requests=0))  # type: ignore[arg-type]
    for _ in range(5):
        writer.submit(log_record(token, user, A, None))
    flushing = asyncio.create_task(writer.flush())
    await gated.committed.wait()
    flushing.cancel()
    gated.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    await writer.stop()
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 5
    assert (await money(qdb, token, user))["token_used"] == 5 * A


def test_a_log_record_must_carry_its_settlement_cost() -> None:
    settlement = Settlement("w1", 1, 1, reserved=2 * A, cost=A)
    with pytest.raises(ValueError, match="settlement"):
        log_record(None, None, 2 * A, settlement)


async def test_every_routed_attempt_counts_toward_its_channels_success_rate(
    qdb: Database,
) -> None:
    first, second = await make_channel(qdb), await make_channel(qdb)
    ledger = Ledger(qdb, "w1", prefill_requests=0)
    writer = LogWriter(qdb, ledger)
    routes = [
        [(first, 503), (second, 200)],  # failed over: one failure, one success
        [(first, None), (second, 429)],  # unreachable, then rate limited
        [(first, 400)],  # the client's fault: neither
        [(second, 200)],
        [(first, 499)],  # the client left: neither
    ]
    for attempts in routes:
        record = log_record(None, None, 0, None, channel_id=attempts[-1][0])
        trace = RouteTrace(attempts=[{"id": c, "status": s, "ms": 1} for c, s in attempts])
        writer.submit(dataclasses.replace(record, route=trace))
    await writer.flush()
    rows = await qdb.fetch_all("SELECT id, success_count, failure_count FROM channels ORDER BY id")
    assert [(r["success_count"], r["failure_count"]) for r in rows] == [(0, 2), (2, 1)]
    stored = await qdb.fetch_value("SELECT route FROM logs ORDER BY id LIMIT 1")
    assert '"status":503' in stored
    await ledger.stop()


_ROLLUP_TOTALS = (
    "requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "cost",
    "latency_ms_sum", "upstream_cost", "upstream_unknown", "upstream_unknown_revenue",
)  # fmt: skip


async def assert_rollup_matches_logs(db: Executor) -> None:
    """log_minutes and log_hours hold exactly the totals of the logs, added up here afresh:
    per bucket, overall and per model, channel, token, user and user group ('' for none);
    an error is a status of 400 or more but 499; an upstream cost of NULL is unknown."""
    logs = await db.fetch_all(
        "SELECT l.*, u.group_name FROM logs l LEFT JOIN users u ON u.id = l.user_id"
    )
    for table, column, span in (("log_minutes", "minute", 60), ("log_hours", "hour", 3600)):
        expected: dict[tuple[str, int, str], list[int]] = {}
        for row in logs:
            error = int(row["status"] >= 400 and row["status"] != 499)
            upstream = row["upstream_cost"]
            values = (
                1, error, *(row[c] for c in _ROLLUP_TOTALS[2:6]), row["latency_ms"],
                upstream or 0, int(upstream is None), row["cost"] if upstream is None else 0,
            )  # fmt: skip
            bucket = row["created_at"] - row["created_at"] % span
            for dim, key in (
                ("all", ""),
                ("model", row["model"]),
                *((d, "" if row[f"{d}_id"] is None else str(row[f"{d}_id"])) for d in IDS),
                ("group", row["group_name"] or ""),
            ):
                totals = expected.setdefault((dim, bucket, key), [0] * len(_ROLLUP_TOTALS))
                for i, value in enumerate(values):
                    totals[i] += value
        stored = {
            (row["dim"], row[column], row["key"]): [row[c] for c in _ROLLUP_TOTALS]
            for row in await db.fetch_all(f"SELECT * FROM {table}")
        }
        assert stored == expected, table


IDS = ("channel", "token", "user")


class FailsAfterTheRollup(CountingDb):
    """Fails the next transaction once its log rows and rollup upserts have run (at the
    first batched statement that follows them), so the rollback has both to undo."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.failures = 1
        self.statements_before_failing: list[str] = []

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        return self._failing() if self.failures else self.inner.transaction()

    @asynccontextmanager
    async def _failing(self) -> AsyncIterator[Any]:
        self.failures -= 1
        async with self.inner.transaction() as tx:
            yield _FailAtExecuteMany(tx, self.statements_before_failing)


class _FailAtExecuteMany:
    def __init__(self, tx: Executor, seen: list[str]) -> None:
        self._tx = tx
        self._seen = seen
        self.dialect = tx.dialect

    async def execute(self, sql: str, params: Any = None) -> int:
        self._seen.append(sql.split(" (", 1)[0])
        return await self._tx.execute(sql, params)

    async def execute_many(self, sql: str, rows: Any) -> None:
        raise ConnectionError("the database went away")

    async def fetch_all(self, sql: str, params: Any = None) -> Any:
        return await self._tx.fetch_all(sql, params)


def varied_records(
    token: Token, user: User, channel: int, count: int, seed: int
) -> list[LogRecord]:
    """Requests over three hours, two models, with and without token and channel, statuses
    that are and are not errors (499 is not)."""
    rng = random.Random(seed)
    start = now() - now() % 3600 - 2 * 3600
    records = []
    for i in range(count):
        base = log_record(token if rng.random() < 0.8 else None, user, rng.randint(0, 3 * A), None)
        records.append(
            dataclasses.replace(
                base,
                created_at=start + rng.randrange(3 * 3600),
                request_id=f"r{seed}-{i}",
                user_id=base.user_id if base.token_id is not None else None,
                channel_id=channel if rng.random() < 0.7 else None,
                model=rng.choice(("gpt-4", "claude-3")),
                prompt_tokens=rng.randint(0, 5000),
                completion_tokens=rng.randint(0, 900),
                cached_tokens=rng.randint(0, 100),
                latency_ms=rng.randint(1, 9000),
                status=rng.choice((200, 200, 200, 400, 429, 499, 500, 503)),
                upstream_cost=rng.choice((None, 0, rng.randint(0, 2 * A))),
            )
        )
    return records


async def test_the_rollup_equals_the_logs_after_flushes_and_a_failed_one(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    channel = await make_channel(qdb)
    failing = FailsAfterTheRollup(qdb)
    writer = LogWriter(failing, Ledger(qdb, "w1", prefill_requests=0))  # type: ignore[arg-type]
    records = varied_records(token, user, channel, 360, seed=1)
    for record in records[:120]:
        writer.submit(record)
    with pytest.raises(StorageUnavailable):  # the ConnectionError, translated
        await writer.flush()
    assert list(dict.fromkeys(failing.statements_before_failing))[:3] == [
        "INSERT INTO logs",
        "INSERT INTO log_minutes",
        "INSERT INTO log_hours",
    ]  # the rows and the rollup were written, then rolled back together
    assert await qdb.fetch_value("SELECT COUNT(*) FROM log_minutes") == 0
    assert writer.pending == 120
    for batch in (records[120:200], records[200:201], records[201:]):
        for record in batch:
            writer.submit(record)
        await writer.flush()
    assert await qdb.fetch_value("SELECT COUNT(*) FROM logs") == 360
    await assert_rollup_matches_logs(qdb)
    errors = sum(r.status >= 400 and r.status != 499 for r in records)
    total = await qdb.fetch_one(
        "SELECT SUM(requests) AS requests, SUM(errors) AS errors, SUM(cost) AS cost"
        " FROM log_hours WHERE dim = 'all'"
    )
    assert total is not None
    assert (int(total["requests"]), int(total["errors"]), int(total["cost"])) == (
        360,
        errors,
        sum(r.cost for r in records),
    )


async def test_concurrent_writers_keep_one_rollup(open_db: OpenDb) -> None:
    """Two routers' writers flushing at once into the same buckets: no deadlock, no lost
    update (PostgreSQL runs the upserts concurrently; SQLite one after the other)."""
    first, second = await open_db(), await open_db()
    token, user = await make_caller(first, quota=-1, balance=-1)
    channel = await make_channel(first)
    writers = [
        LogWriter(db, Ledger(db, name, prefill_requests=0))
        for db, name in ((first, "a"), (second, "b"))
    ]
    for round_ in range(4):
        for i, writer in enumerate(writers):
            for record in varied_records(token, user, channel, 150, seed=10 * round_ + i):
                writer.submit(record)
        await asyncio.gather(*(writer.flush() for writer in writers))
    assert await first.fetch_value("SELECT COUNT(*) FROM logs") == 1200
    await assert_rollup_matches_logs(first)


def test_batches_are_inserted_in_a_handful_of_statement_shapes() -> None:
    """Each statement text is cached with its parameter rewrite (kilobytes each): batch
    sizes from 1 to 5,000 must not build more than the powers of two and the full size."""
    from burncloud.db.base import batch_sizes
    from burncloud.gateway.billing.logwriter import ROWS_PER_INSERT

    shapes: set[int] = set()
    for count in range(5_001):
        sizes = batch_sizes(count, ROWS_PER_INSERT)
        assert sum(sizes) == count and all(0 < size <= ROWS_PER_INSERT for size in sizes)
        shapes.update(sizes)
    assert shapes == {ROWS_PER_INSERT, 1, 2, 4, 8, 16, 32, 64, 128}
