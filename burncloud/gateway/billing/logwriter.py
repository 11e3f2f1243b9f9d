"""The background batch writer of request logs and their billing.

The relay hands every finished request to ``LogWriter.submit`` (never blocks, never drops).
A background task flushes every ``interval`` seconds, or sooner once ``batch_size`` rows
wait: in ONE transaction it inserts the log rows, adds their costs to ``used`` of tokens,
users and channels, takes the settled amounts out of the routers' lease rows, and adds the
rows to the per-minute and per-hour totals (``log_minutes``, ``log_hours``: they and the
logs always agree). A crash therefore never refunds (by a lease sweep) what a log row
already billed, and ``tokens.used`` always equals the sum of the token's logged costs. A
failed flush keeps its rows and is retried with backoff; ``stop`` flushes everything it
can before it returns, and hands what it could not to the caller (the runtime spills them
to a file, ``log_spill``). While flushes fail, ``failing`` says why: /healthz reports
not-ready until one succeeds again.

Memory grows while the database is unreachable: rows are kept, not dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from burncloud.db.base import Database, Executor, batches
from burncloud.errors import BurncloudError
from burncloud.gateway.billing.reservations import Settlement
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.clock import now as wall_clock
from burncloud.services.leases import (
    BUDGET,
    TOKEN,
    USER,
    add_used,
    charge_directly,
    consume_leases,
)
from burncloud.services.rollup import MinuteTotals, prune_minutes

log = logging.getLogger("burncloud.logwriter")

MAX_BACKOFF = 5.0
PRUNE_EVERY = 600  # seconds between prunings of the per-minute rollup

_COLUMNS = (
    "created_at", "request_id", "user_id", "token_id", "channel_id", "model", "endpoint",
    "prompt_tokens", "completion_tokens", "cached_tokens", "cost", "latency_ms", "ttft_ms",
    "status", "stream", "estimated", "error", "route", "upstream_cost",
    "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens", "audio_input_tokens",
    "audio_output_tokens", "image_input_tokens", "image_output_tokens", "units",
    "price_version", "group_ratio",
)  # fmt: skip
ROWS_PER_INSERT = 200  # x 29 columns stays far below both engines' parameter limits


@lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    """One INSERT of ``rows`` rows: a single statement, so SQLite runs it in one step
    instead of handing the GIL back and forth with the event loop once per row."""
    values = ", ".join(
        "(" + ", ".join(f":{column}_{i}" for column in _COLUMNS) + ")" for i in range(rows)
    )
    return f"INSERT INTO logs ({', '.join(_COLUMNS)}) VALUES {values}"


@lru_cache(maxsize=16)
def _parameter_names(rows: int) -> tuple[str, ...]:
    """The names ``_insert_sql(rows)`` binds, row by row: built once per size, not per row."""
    return tuple(f"{column}_{i}" for i in range(rows) for column in _COLUMNS)


async def _insert_rows(tx: Executor, records: Sequence[LogRecord]) -> None:
    for chunk in batches(records, ROWS_PER_INSERT):
        values = itertools.chain.from_iterable(record.values() for record in chunk)
        params = dict(zip(_parameter_names(len(chunk)), values, strict=True))
        await tx.execute(_insert_sql(len(chunk)), params)


class BillingListener(Protocol):
    """Told which lease amounts a flush billed (the ``Ledger``)."""

    def on_billed(self, amounts: Mapping[int, int]) -> None: ...


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One finished request, as logged; ``settlement`` says which leases paid its cost.

    ``cost`` is billed to ``used`` of the token, user and channel; pass the ``Settlement``
    that ``Ledger.settle`` returned (it must be for the same cost), or None for a request
    that never reserved: a cost without one is taken from quota and balance directly.
    ``upstream_cost`` is what the answering channel charges us (None: unknown) and bills
    nobody. The token counts of each kind, ``units`` (``logged_usage.encode_units``) and
    ``price_version`` (None: not priced) let ``log show`` explain the bill later.
    """

    created_at: int
    request_id: str
    user_id: int | None
    token_id: int | None
    channel_id: int | None
    model: str
    endpoint: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: int
    latency_ms: int
    ttft_ms: int | None
    status: int
    stream: bool
    estimated: bool
    settlement: Settlement | None
    error: str = ""
    route: RouteTrace | None = None  # serialised when the row is written, off the request
    upstream_cost: int | None = None
    cache_write_tokens: int = 0  # every cache write, the 1h part included
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0  # part of completion_tokens
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    units: str = ""  # per-unit quantities as compact JSON, '' for none
    price_version: int | None = None
    group_ratio: str = ""  # the caller's group ratio the cost was computed with

    def __post_init__(self) -> None:
        if self.settlement is not None and self.settlement.cost != self.cost:
            raise ValueError("a log record's cost must be its settlement's cost")

    def row(self) -> dict[str, Any]:
        """The ``logs`` row: flags as 0/1."""
        return dict(zip(_COLUMNS, self.values(), strict=True))

    def values(self) -> tuple[Any, ...]:
        """The ``logs`` row's values in ``_COLUMNS`` order (spelled out: this runs for
        every request, and reading 29 attributes by name costs more)."""
        route = self.route.to_json() if self.route is not None else ""
        return (
            self.created_at, self.request_id, self.user_id, self.token_id, self.channel_id,
            self.model, self.endpoint, self.prompt_tokens, self.completion_tokens,
            self.cached_tokens, self.cost, self.latency_ms, self.ttft_ms, self.status,
            int(self.stream), int(self.estimated), self.error, route, self.upstream_cost,
            self.cache_write_tokens, self.cache_write_1h_tokens, self.reasoning_tokens,
            self.audio_input_tokens, self.audio_output_tokens, self.image_input_tokens,
            self.image_output_tokens, self.units, self.price_version, self.group_ratio,
        )  # fmt: skip


@dataclass(slots=True)
class _Bill:
    """What one batch adds up to, per id."""

    used: dict[str, dict[int, int]]
    leases: dict[int, int]
    lease_subjects: dict[int, tuple[str, int]]
    direct: dict[str, dict[int, int]]
    outcomes: dict[int, list[int]]  # channel id -> [successes, failures]
    key_outcomes: dict[int, list[int]]  # channel key id -> [successes, failures]
    minutes: MinuteTotals  # the rollup's per-minute totals


def _add_up(records: Iterable[LogRecord]) -> _Bill:
    """Aggregate a batch's costs per token, user, channel, channel key and lease, and each
    channel's and key's successes and failures (every attempt of the route counts,
    failed-over ones too)."""
    bill = _Bill(
        {"tokens": {}, "users": {}, "channels": {}, "channel_keys": {}, "budget_windows": {}},
        {},
        {},
        {TOKEN: {}, USER: {}, BUDGET: {}},
        {},
        {},
        MinuteTotals(),
    )
    for record in records:
        bill.minutes.add(record)
        if record.route is not None and record.route.attempts:
            for attempt in record.route.attempts:
                _count_outcome(bill.outcomes, attempt["id"], attempt["status"])
                if "key" in attempt:
                    _count_outcome(bill.key_outcomes, attempt["key"], attempt["status"])
            answered = record.route.attempts[-1]  # the key that served, paid for
            if record.cost and "key" in answered and answered["id"] == record.channel_id:
                _add(bill.used["channel_keys"], answered["key"], record.cost)
        for table, rid in (
            ("tokens", record.token_id),
            ("users", record.user_id),
            ("channels", record.channel_id),
        ):
            if rid is not None and record.cost:
                _add(bill.used[table], rid, record.cost)
        _add_charges(bill, record)
    return bill


def _add_charges(bill: _Bill, record: LogRecord) -> None:
    if record.settlement is None:
        for subject, rid in ((TOKEN, record.token_id), (USER, record.user_id)):
            if rid is not None and record.cost:
                _add(bill.direct[subject], rid, record.cost)
        return
    for charge in record.settlement.charges:
        if charge.subject == BUDGET:  # a window's charges add up to the cost: its use
            _add(bill.used["budget_windows"], charge.subject_id, charge.amount)
        if charge.lease_id is None:
            _add(bill.direct[charge.subject], charge.subject_id, charge.amount)
        else:
            _add(bill.leases, charge.lease_id, charge.amount)
            bill.lease_subjects[charge.lease_id] = (charge.subject, charge.subject_id)


def _count_outcome(outcomes: dict[int, list[int]], channel_id: int, status: int | None) -> None:
    """A 200 is a success; no answer, 429, 5xx or a refused key is the channel's failure;
    what the client caused (400, a disconnect) is neither."""
    if status == 200:
        outcomes.setdefault(channel_id, [0, 0])[0] += 1
    elif status is None or status in (401, 402, 403, 429) or (status >= 500):
        outcomes.setdefault(channel_id, [0, 0])[1] += 1


def _add(totals: dict[int, int], key: int, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


async def persist_records(tx: Executor, records: Sequence[LogRecord]) -> Mapping[int, int]:
    """Write and bill ``records`` in ``tx`` as a flush does; the amounts billed per lease."""
    bill = _add_up(records)
    await _persist(tx, records, bill)
    return bill.leases


async def _persist(tx: Executor, records: Sequence[LogRecord], bill: _Bill) -> None:
    """Insert the rows, add them to the rollup and bill them; lease rows first, then
    subjects (the lock order)."""
    await _insert_rows(tx, records)
    await bill.minutes.write(tx)
    for lease_id in await consume_leases(tx, bill.leases):
        subject, sid = bill.lease_subjects[lease_id]  # swept meanwhile: bill the subject
        _add(bill.direct[subject], sid, bill.leases[lease_id])
    for table, subject in (("tokens", TOKEN), ("users", USER), ("budget_windows", BUDGET)):
        await add_used(tx, table, bill.used[table])
        await charge_directly(tx, subject, bill.direct[subject])
    for table, outcomes in (("channels", bill.outcomes), ("channel_keys", bill.key_outcomes)):
        await add_used(tx, table, bill.used[table])
        await tx.execute_many(
            f"UPDATE {table} SET success_count = success_count + :ok,"
            " failure_count = failure_count + :failed WHERE id = :id",
            [
                {"ok": ok, "failed": failed, "id": rid}
                for rid, (ok, failed) in sorted(outcomes.items())
            ],
        )


class LogWriter:
    """Batches log rows and their billing into one transaction per flush."""

    def __init__(
        self,
        db: Database,
        ledger: BillingListener,
        *,
        interval: float = 0.2,
        batch_size: int = 500,
        max_batch: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ledger = ledger
        self._interval = interval
        self._batch_size = batch_size
        self._max_batch = max_batch
        self._clock = clock
        self._pending: deque[LogRecord] = deque()
        self._flushing = asyncio.Lock()
        # A flush every ``interval``, sooner once a batch is full; after a failure a backoff
        # that new rows do not cut short; a stop lets a flush in progress finish.
        self._flushes = Periodic(
            "log writer",
            self._flush_then_prune,
            interval=interval,
            cancel_on_stop=False,
            failure=Failure(
                log, "writing log rows failed; retrying", every_time=False, backoff=self._backoff
            ),
            clock=clock,
        )
        self._next_prune = 0.0
        self._failures = 0
        self._failure: str | None = None

    @property
    def pending(self) -> int:
        """How many rows wait to be written."""
        return len(self._pending)

    @property
    def failing(self) -> str | None:
        """Why the latest flush failed, while no flush has succeeded since; else None."""
        return self._failure

    def submit(self, record: LogRecord) -> None:
        """Queue ``record`` for the next flush; never blocks, never drops."""
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._flushes.run_now()

    async def flush(self) -> int:
        """Write what is pending now, one transaction per batch; how many rows were written.

        On a failure the rows stay queued and the error propagates.
        """
        written = 0
        while self._pending:
            # shielded: a cancelled caller must not leave a committed batch queued (billed twice)
            written += await asyncio.shield(self._write_batch())
        return written

    async def _write_batch(self) -> int:
        async with self._flushing:
            batch = list(itertools.islice(self._pending, self._max_batch))
            if not batch:
                return 0
            bill = _add_up(batch)
            async with self._db.transaction() as tx:
                await _persist(tx, batch, bill)
            for _ in batch:
                self._pending.popleft()
            self._ledger.on_billed(bill.leases)
            return len(batch)

    async def start(self) -> None:
        """Start the background flushing task."""
        if not self._flushes.running:
            self._next_prune = self._clock() + PRUNE_EVERY / 10
            self._flushes.start()

    async def stop(self, retry_for: float = 30.0) -> int:
        """Stop the task and flush everything, retrying for ``retry_for`` s; rows left unwritten."""
        await self._flushes.stop()
        deadline = self._clock() + retry_for
        while self._pending:
            if await self._try_flush():
                continue
            backoff = self._backoff(self._failures)
            if self._clock() + backoff > deadline:
                break
            await asyncio.sleep(backoff)
        if self._pending:
            log.error("log writer stopped with %d rows unwritten", len(self._pending))
        return len(self._pending)

    def take_unwritten(self) -> list[LogRecord]:
        """The rows ``stop`` could not write, handed over and forgotten here."""
        rows = list(self._pending)
        self._pending.clear()
        return rows

    async def _flush_then_prune(self) -> None:
        """One round of the task: flush what is pending (raising if that fails), then prune
        the rollup when due."""
        if self._pending:
            await self._flush_counting_failures()
        if self._clock() >= self._next_prune:
            self._next_prune = self._clock() + PRUNE_EVERY
            await self._prune()

    async def _prune(self) -> None:
        """Drop per-minute rollup rows past their keep (every worker does; it is idempotent)."""
        try:
            await prune_minutes(self._db, wall_clock())
        except Exception:
            log.exception("pruning the per-minute rollup failed; next try in %d s", PRUNE_EVERY)

    async def _try_flush(self) -> bool:
        """Flush; on failure log once per failure streak and return False."""
        try:
            await self._flush_counting_failures()
        except Exception:
            if self._failures == 1:
                log.exception("writing %d log rows failed; retrying", len(self._pending))
            return False
        return True

    async def _flush_counting_failures(self) -> None:
        """Flush; a failure is counted and kept as ``failing``'s reason, then raised."""
        try:
            await self.flush()
        except Exception as exc:
            self._failures += 1
            self._failure = exc.message if isinstance(exc, BurncloudError) else "a write failed"
            raise
        if self._failures:
            log.info("log rows written again after %d failed attempts", self._failures)
        self._failures = 0
        self._failure = None

    def _backoff(self, failures: int) -> float:
        """The wait after ``failures`` failed flushes in a row."""
        return min(self._interval * float(1 << min(failures, 16)), MAX_BACKOFF)
