"""`burncloud log prune --older-than D [--dry-run]`: counts, deletes in batches, reports."""

from __future__ import annotations

import asyncio
import time

from burncloud.db import open_database
from tests.conftest import Invoke


async def _insert(db_url: str, ages: list[int]) -> None:
    db = await open_database(db_url)
    try:
        now = int(time.time())
        rows = [{"at": now - age, "id": f"r-{n}"} for n, age in enumerate(ages)]
        await db.execute_many(
            "INSERT INTO logs (created_at, request_id, status) VALUES (:at, :id, 200)", rows
        )
    finally:
        await db.close()


def test_prune_counts_then_deletes_the_rows_older_than_the_window(
    cli: Invoke, bootstrapped: None, db_url: str
) -> None:
    day = 86_400
    asyncio.run(_insert(db_url, [40 * day] * 30 + [10 * day] * 5 + [60] * 2))
    dry = cli("log", "prune", "--older-than", "30d", "--dry-run")
    assert (dry.exit_code, dry.stdout.strip()) == (
        0,
        "30 log rows are older than 30d (dry run, nothing deleted)",
    )
    done = cli("log", "prune", "--older-than", "30d")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("deleted 30 log rows older than 30d, ")
    assert done.stdout.rstrip().endswith("freed")
    assert "35" not in cli("log", "prune", "--older-than", "1h", "--dry-run").stdout
    assert cli("log", "prune", "--older-than", "1h").stdout.startswith("deleted 5 log rows")


def test_a_bad_window_is_one_line(cli: Invoke, bootstrapped: None) -> None:
    result = cli("log", "prune", "--older-than", "a while")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: --older-than: invalid window 'a while': use a number and s, m, h or d, like 15m"
    )
