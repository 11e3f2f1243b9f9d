"""A long request history for the retention bench: log rows spread over ``DAYS`` days up to
now, with the per-hour (and, for the last 48 h, per-minute) rollup they would have left.

The rows belong to their own users, tokens, channels and models (``hist-...``,
``model-NN``), never to the bench's traffic, so a stats breakdown tells the two apart. The
rollup is added up in SQL with the log writer's rules (``services.rollup.MinuteTotals``:
an error is a status >= 400 but 499, an upstream cost of NULL is unknown, the group is the
user's), per-minute rows only from the hour ``prune_minutes`` would keep them from, which
it then records; ``check_rollup`` proves the totals equal the rows'. No history falls in
the ``GAP_HOURS`` from the hour 7 days before now: a 7-day window that moves by minutes
during the bench covers the same history at its start and at its end.
"""

from __future__ import annotations

import itertools
import random
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from burncloud.db import Database
from burncloud.services.rollup import MINUTES_KEPT, prune_minutes

DAY, HOUR = 86_400, 3_600
DAYS = 120
GAP_HOURS = 4
MODELS, USERS, TOKENS = 20, 50, 200
HISTORY_ID = 1001  # users and tokens of the history start here (the bench's come first)
CHUNK = 50_000
COLUMNS = (
    "created_at", "request_id", "user_id", "token_id", "channel_id", "model", "endpoint",
    "prompt_tokens", "completion_tokens", "cached_tokens", "cost", "latency_ms", "ttft_ms",
    "status", "stream", "estimated", "error", "route", "upstream_cost", "group_ratio",
)  # fmt: skip
STATUSES = [200] * 95 + [400, 429, 499, 500, 503]
DIMS = {
    "all": "''",
    "model": "l.model",
    "channel": "COALESCE(CAST(l.channel_id AS TEXT), '')",
    "token": "COALESCE(CAST(l.token_id AS TEXT), '')",
    "user": "COALESCE(CAST(l.user_id AS TEXT), '')",
    "group": "COALESCE(u.group_name, '')",
}
TOTALS = {
    "requests": "COUNT(*)",
    "errors": "SUM(CASE WHEN l.status >= 400 AND l.status <> 499 THEN 1 ELSE 0 END)",
    "prompt_tokens": "SUM(l.prompt_tokens)",
    "completion_tokens": "SUM(l.completion_tokens)",
    "cached_tokens": "SUM(l.cached_tokens)",
    "cost": "SUM(l.cost)",
    "latency_ms_sum": "SUM(l.latency_ms)",
    "upstream_cost": "SUM(COALESCE(l.upstream_cost, 0))",
    "upstream_unknown": "SUM(CASE WHEN l.upstream_cost IS NULL THEN 1 ELSE 0 END)",
    "upstream_unknown_revenue": "SUM(CASE WHEN l.upstream_cost IS NULL THEN l.cost ELSE 0 END)",
}


@dataclass(frozen=True, slots=True)
class History:
    """What was generated: ``rows`` log rows from ``start`` to ``end`` (unix seconds),
    leaving out ``[gap_start, gap_end)``; the channel ids the rows name."""

    rows: int
    start: int
    end: int
    gap_start: int
    gap_end: int
    channel_ids: tuple[int, ...]

    def moment(self, i: int) -> int:
        """The ``i``-th row's time: evenly spread over the span without the gap."""
        span = self.end - self.start - (self.gap_end - self.gap_start)
        at = self.start + i * span // self.rows
        return at + (self.gap_end - self.gap_start) if at >= self.gap_start else at


def plan_history(rows: int, now: int, channel_ids: tuple[int, ...]) -> History:
    week_ago = now - 7 * DAY
    gap = week_ago - week_ago % HOUR
    return History(rows, now - DAYS * DAY, now - 60, gap, gap + GAP_HOURS * HOUR, channel_ids)


def history_model(i: int) -> str:
    return f"model-{i:02d}"


def log_rows(history: History, seed: int = 19) -> Iterator[tuple[Any, ...]]:
    """The rows, oldest first, as ``COLUMNS`` tuples; each row's token (and so user) and
    model drawn independently, the channel the model's."""
    rng = random.Random(seed)
    channels = history.channel_ids
    for i in range(history.rows):
        token = rng.randrange(TOKENS)
        model = rng.randrange(MODELS)
        channel = channels[model % len(channels)]
        prompt, completion = rng.randint(10, 4000), rng.randint(1, 1000)
        cost = (prompt * 2500 + completion * 10000) // 1000 * 1000
        stream = rng.random() < 0.5
        status = rng.choice(STATUSES)
        latency = int(rng.lognormvariate(6.5, 0.6))
        attempt = f'{{"id":{channel},"status":{status},"ms":{latency}}}'
        yield (
            history.moment(i),
            f"hist-{i:08d}",
            HISTORY_ID + token % USERS,
            HISTORY_ID + token,
            channel,
            history_model(model),
            "chat/completions",
            prompt,
            completion,
            0,
            cost,
            latency,
            latency // 4 if stream else None,
            status,
            int(stream),
            0,
            "" if status < 400 else f"upstream answered {status}",
            f'{{"candidates":[{channel}],"skipped":[],"attempts":[{attempt}]}}',
            None if rng.random() < 0.2 else cost * 7 // 10,
            "1",
        )


async def seed_owners(db: Database) -> None:
    """The history's users and tokens (their ids from HISTORY_ID)."""
    now = int(time.time())
    async with db.transaction() as tx:
        await tx.execute_many(
            "INSERT INTO users (id, name, invite_code, balance, created_at)"
            " VALUES (:id, :name, :code, -1, :now)",
            [
                {"id": HISTORY_ID + i, "name": f"hist-user-{i}", "code": f"hist-{i}", "now": now}
                for i in range(USERS)
            ],
        )
        await tx.execute_many(
            "INSERT INTO tokens (id, name, key_hash, key_hint, user_id, created_at, updated_at)"
            " VALUES (:id, :name, :hash, 'sk-...hist', :user, :now, :now)",
            [
                {
                    "id": HISTORY_ID + i,
                    "name": f"hist-key-{i}",
                    "hash": secrets.token_hex(16),
                    "user": HISTORY_ID + i % USERS,
                    "now": now,
                }
                for i in range(TOKENS)
            ],
        )


def load_sqlite(path: str, history: History) -> None:
    """Insert the rows with the standard library's sqlite3 (the bulk path: no event loop),
    a transaction per CHUNK rows."""
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO logs ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        rows = log_rows(history)
        while chunk := list(itertools.islice(rows, CHUNK)):
            conn.execute("BEGIN")
            conn.executemany(sql, chunk)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def load_postgres(dsn: str, schema: str, history: History) -> None:
    """COPY the rows in (asyncpg's bulk path), CHUNK rows at a time."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = log_rows(history)
        while chunk := list(itertools.islice(rows, CHUNK)):
            await conn.copy_records_to_table(
                "logs", records=chunk, columns=list(COLUMNS), schema_name=schema
            )
    finally:
        await conn.close()


def _rollup_sql(table: str, time_column: str, span: int, dim: str) -> str:
    bucket = f"l.created_at - l.created_at % {span}"
    key = DIMS[dim]
    sums = ", ".join(TOTALS.values())
    return (
        f"INSERT INTO {table} ({time_column}, dim, key, {', '.join(TOTALS)})"
        f" SELECT {bucket}, '{dim}', {key}, {sums}"
        " FROM logs l LEFT JOIN users u ON u.id = l.user_id"
        f" WHERE l.created_at >= :since AND l.model LIKE 'model-%'"
        f" GROUP BY {bucket}{'' if dim == 'all' else ', ' + key}"
    )


async def add_rollup(db: Database, now: int) -> None:
    """The history's rollup rows (the tables hold none of it before), then the first minute
    kept recorded as the writer's pruning records it; tokens', users' and channels' ``used``
    as the writer would have billed them."""
    kept = now - MINUTES_KEPT
    kept -= kept % HOUR
    for table, time_column, span, since in (
        ("log_hours", "hour", HOUR, 0),
        ("log_minutes", "minute", 60, kept),
    ):
        for dim in DIMS:
            async with db.transaction() as tx:
                await tx.execute(_rollup_sql(table, time_column, span, dim), {"since": since})
    await prune_minutes(db, now)
    async with db.transaction() as tx:
        for table, column in (("tokens", "token_id"), ("users", "user_id")):
            await tx.execute(
                f"UPDATE {table} SET used = (SELECT COALESCE(SUM(cost), 0) FROM logs"
                f" WHERE {column} = {table}.id) WHERE id >= :first",
                {"first": HISTORY_ID},
            )


async def check_rollup(db: Database, now: int) -> None:
    """Each dimension's per-hour totals, and the per-minute ones from the first minute kept,
    equal the history rows' own: RuntimeError if not."""
    kept = now - MINUTES_KEPT
    kept -= kept % HOUR
    sums = ", ".join(f"{sql} AS {name}" for name, sql in TOTALS.items())
    for table, time_column, since in (("log_hours", "hour", 0), ("log_minutes", "minute", kept)):
        truth = await db.fetch_one(
            f"SELECT {sums} FROM logs l WHERE l.created_at >= :since AND l.model LIKE 'model-%'",
            {"since": since},
        )
        for dim in DIMS:
            found = await db.fetch_one(
                f"SELECT {', '.join(f'SUM({n}) AS {n}' for n in TOTALS)} FROM {table}"
                f" WHERE dim = :dim AND {time_column} >= :since",
                {"dim": dim, "since": since},
            )
            assert truth is not None and found is not None
            if {k: int(v or 0) for k, v in found.items()} != {
                k: int(v or 0) for k, v in truth.items()
            }:
                raise RuntimeError(f"{table} dim {dim} disagrees with the logs: {found} {truth}")
