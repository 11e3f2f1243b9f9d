"""Time one dashboard refresh over a database of 1,000,000 log rows.

    python bench/stats_timing.py [--rows 1000000] [--refreshes 20] [--window 24h]
                                 [--no-postgres] [--keep DIR]

Generates the logs (the 24 h up to NOW, 20 models, 10 channels, 200 tokens of 50 users,
each row's model, channel and token drawn independently: the worst case for the rollup)
and their rollup (by migration 4's backfill, which adds up what the log writer would have
written), then times the queries of one refresh of `burncloud dash` (burncloud_tui's
DatabaseSource: the three figures, channels, models, tokens, users and the tail, with the
tables over the last ``--window``) ``--refreshes`` times, and prints the median and the
slowest per query and per refresh. On SQLite always; on PostgreSQL too when it answers at
$BURNCLOUD_TEST_POSTGRES (default ``postgresql://postgres@127.0.0.1/test``), in a schema
of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from burncloud.db import Database, open_database
from burncloud.db.schema import ROLLUP, render
from burncloud.services import stats

PG_URL = os.environ.get("BURNCLOUD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test")
NOW = 1_750_031_999  # 23:59:59 UTC: "spend today" covers the whole generated day
MODELS, CHANNELS, USERS, TOKENS = 20, 10, 50, 200
CHUNK = 20_000
LOG_COLUMNS = (
    "created_at", "request_id", "user_id", "token_id", "channel_id", "model", "endpoint",
    "prompt_tokens", "completion_tokens", "cached_tokens", "cost", "latency_ms", "ttft_ms",
    "status", "stream", "estimated", "error", "route",
)  # fmt: skip
STATUSES = [200] * 95 + [400, 429, 499, 500, 503]

Step = Callable[[Database], Awaitable[Any]]


def refresh_steps(window: int) -> dict[str, Step]:
    """The queries of one dashboard refresh (burncloud_tui.db_source), by name."""
    since = NOW - window
    return {
        "live_summary": lambda db: stats.live_summary(db, NOW),
        "minute_series": lambda db: stats.minute_series(db, NOW, 60),
        "hourly_spend": lambda db: stats.hourly_spend(db, NOW, 24),
        "breakdown(model)": lambda db: stats.breakdown(db, since, "model"),
        "breakdown(token)": lambda db: stats.breakdown(db, since, "token"),
        "breakdown(user)": lambda db: stats.breakdown(db, since, "user"),
        "channel_rows": lambda db: stats.channel_rows(db, since),
        "recent_logs(100)": lambda db: stats.recent_logs(db, limit=100),
    }


def log_rows(count: int, seed: int = 6) -> Iterator[tuple[Any, ...]]:
    """``count`` log rows over the 24 h before NOW, oldest first, as LOG_COLUMNS tuples."""
    rng = random.Random(seed)
    start = NOW - 86_400 + 1
    for i in range(count):
        token = rng.randrange(TOKENS) + 1
        prompt, completion = rng.randint(10, 4000), rng.randint(1, 1000)
        stream = rng.random() < 0.5
        latency = int(rng.lognormvariate(6.5, 0.6))
        yield (
            start + i * 86_400 // count,
            f"req-{i}",
            (token - 1) % USERS + 1,
            token,
            rng.randrange(CHANNELS) + 1,
            f"model-{rng.randrange(MODELS):02d}",
            "chat/completions",
            prompt,
            completion,
            0,
            (prompt * 30 + completion * 60) * 1000,
            latency,
            latency // 4 if stream else None,
            rng.choice(STATUSES),
            int(stream),
            0,
            "",
            "",
        )


async def seed_names(db: Database) -> None:
    """Users, tokens and channels, so the breakdowns show names."""
    async with db.transaction() as tx:
        await tx.execute_many(
            "INSERT INTO users (id, name, invite_code, created_at) VALUES (:id, :name, :code, 0)",
            [{"id": i, "name": f"user-{i}", "code": f"inv-{i}"} for i in range(1, USERS + 1)],
        )
        await tx.execute_many(
            "INSERT INTO tokens (id, name, key_hash, key_hint, user_id, created_at, updated_at)"
            " VALUES (:id, :name, :hash, 'sk-...', :user, 0, 0)",
            [
                {"id": i, "name": f"key-{i}", "hash": f"h{i}", "user": (i - 1) % USERS + 1}
                for i in range(1, TOKENS + 1)
            ],
        )
        await tx.execute_many(
            "INSERT INTO channels (id, type, name, key_enc, key_hint, base_url, models,"
            " created_at, updated_at) VALUES (:id, 'openai', :name, 'x', 'x',"
            " 'http://127.0.0.1', 'm', 0, 0)",
            [{"id": i, "name": f"channel-{i}"} for i in range(1, CHANNELS + 1)],
        )


async def load_sqlite(db: Database, count: int) -> None:
    placeholders = ", ".join(f":{column}" for column in LOG_COLUMNS)
    sql = f"INSERT INTO logs ({', '.join(LOG_COLUMNS)}) VALUES ({placeholders})"
    rows = log_rows(count)
    while chunk := [
        dict(zip(LOG_COLUMNS, row, strict=True)) for row in itertools.islice(rows, CHUNK)
    ]:
        async with db.transaction() as tx:
            await tx.execute_many(sql, chunk)


async def load_postgres(url: str, count: int) -> None:
    """COPY the rows in (asyncpg's bulk path), in chunks to bound memory."""
    import asyncpg

    schema = url.rsplit("search_path=", 1)[1]
    conn = await asyncpg.connect(PG_URL)
    try:
        rows = log_rows(count)
        while chunk := list(itertools.islice(rows, CHUNK * 5)):
            await conn.copy_records_to_table(
                "logs", records=chunk, columns=list(LOG_COLUMNS), schema_name=schema
            )
    finally:
        await conn.close()


async def build(db: Database, count: int, loader: Callable[[], Awaitable[None]]) -> float:
    """Seed names, load the logs, backfill the rollup; the seconds it took."""
    started = time.perf_counter()
    await seed_names(db)
    await loader()
    async with db.transaction() as tx:
        for statement in ROLLUP:
            if statement.lstrip().startswith("INSERT"):  # the migration's backfill
                await tx.execute(render(statement, db.dialect))
    await db.execute("ANALYZE")
    return time.perf_counter() - started


async def time_refreshes(db: Database, refreshes: int, window: int) -> dict[str, list[float]]:
    """Milliseconds per step and per whole refresh, over ``refreshes`` refreshes."""
    steps = refresh_steps(window)
    timings: dict[str, list[float]] = {name: [] for name in [*steps, "refresh"]}
    for step in steps.values():  # warm the caches once
        await step(db)
    for _ in range(refreshes):
        total = 0.0
        for name, step in steps.items():
            started = time.perf_counter()
            await step(db)
            elapsed = (time.perf_counter() - started) * 1000
            timings[name].append(elapsed)
            total += elapsed
        timings["refresh"].append(total)
    return timings


def report(
    engine: str, count: int, built: float, rollup: int, timings: dict[str, list[float]]
) -> None:
    print(f"\n{engine}: {count:,} log rows, {rollup:,} rollup rows, built in {built:.1f} s")
    print(f"  {'query':<20} {'median ms':>10} {'max ms':>10}")
    for name, values in timings.items():
        print(f"  {name:<20} {statistics.median(values):>10.2f} {max(values):>10.2f}")


async def run_engine(engine: str, url: str, args: argparse.Namespace) -> None:
    db = await open_database(url)
    try:
        if engine == "sqlite":
            built = await build(db, args.rows, lambda: load_sqlite(db, args.rows))
        else:
            built = await build(db, args.rows, lambda: load_postgres(url, args.rows))
        rollup = int(await db.fetch_value("SELECT COUNT(*) FROM log_minutes"))
        rollup += int(await db.fetch_value("SELECT COUNT(*) FROM log_hours"))
        timings = await time_refreshes(db, args.refreshes, stats.parse_window(args.window))
        report(engine, args.rows, built, rollup, timings)
    finally:
        await db.close()


async def postgres_schema() -> str | None:
    """A fresh schema's URL, or None (and why) when PostgreSQL does not answer."""
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_URL, timeout=3)
    except (ImportError, OSError, TimeoutError) as exc:
        print(f"\npostgresql: skipped ({PG_URL} unreachable: {exc})")
        return None
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"


async def drop_schema(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA {url.rsplit('search_path=', 1)[1]} CASCADE")
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="stats-bench-") as tmp:
        path = Path(args.keep or tmp) / "stats.db"
        path.unlink(missing_ok=True)
        await run_engine("sqlite", f"sqlite:///{path}", args)
    if args.no_postgres:
        return
    url = await postgres_schema()
    if url is not None:
        try:
            await run_engine("postgresql", url, args)
        finally:
            await drop_schema(url)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="log rows to generate")
    parser.add_argument("--refreshes", type=int, default=20, help="refreshes to time")
    parser.add_argument("--window", default="24h", help="breakdown window (the dash: 24h)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--keep", metavar="DIR", help="write the SQLite file to DIR and keep it")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
