"""LogFollower: every new log row once, in id order, though batches commit out of id order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.services.log_follow import HOLE_TTL, LogFollower
from tests.gateway.quota_db import BACKENDS, FakeClock, OpenDb, database_factory

INSERT = (
    "INSERT INTO logs (id, created_at, request_id, model, status)"
    " VALUES (:id, 0, :rid, :model, 200)"
)


@pytest.fixture(params=BACKENDS)
async def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    async with database_factory(request.param, tmp_path) as connect:
        yield connect


async def put(db: Database, *ids: int, model: str = "gpt-4") -> None:
    for rid in ids:
        await db.execute(INSERT, {"id": rid, "rid": f"r{rid}", "model": model})


def ids(lines) -> list[int]:
    return [line.id for line in lines]


async def test_rows_that_commit_late_are_still_followed_once(open_db: OpenDb) -> None:
    db = await open_db()
    await put(db, 1, 2)
    clock = FakeClock()
    follower = LogFollower(db, clock=clock)
    await follower.start()  # after the rows logged so far
    await put(db, 3, 5, 6)  # 4 is still being written by another router
    assert ids(await follower.poll()) == [3, 5, 6]
    assert ids(await follower.poll()) == []
    await put(db, 4, 7)
    assert ids(await follower.poll()) == [4, 7]
    assert ids(await follower.poll()) == []


async def test_a_gap_that_never_fills_is_given_up(open_db: OpenDb) -> None:
    db = await open_db()
    clock = FakeClock()
    follower = LogFollower(db, clock=clock)
    await follower.start()
    await put(db, 1, 3)  # 2 was rolled back: it never comes
    assert ids(await follower.poll()) == [1, 3]
    clock.now += HOLE_TTL + 1
    assert ids(await follower.poll()) == []
    await put(db, 2)  # far too late: no longer looked for
    assert ids(await follower.poll()) == []


async def test_filters_apply_to_rows_not_to_the_ids_followed(open_db: OpenDb) -> None:
    db = await open_db()
    follower = LogFollower(db, model="claude")
    await follower.start()
    await put(db, 1, 2, model="gpt-4")
    await put(db, 4, model="claude")
    assert ids(await follower.poll()) == [4]
    await put(db, 3, model="claude")  # late, and it matches
    assert ids(await follower.poll()) == [3]


async def test_more_rows_than_a_batch_are_all_followed(open_db: OpenDb) -> None:
    db = await open_db()
    follower = LogFollower(db)
    await follower.start()
    async with db.transaction() as tx:
        await tx.execute_many(
            INSERT, [{"id": i, "rid": f"r{i}", "model": "m"} for i in range(1, 2_502)]
        )
    assert ids(await follower.poll()) == list(range(1, 2_502))


async def test_concurrent_transactions_committing_out_of_order(open_db: OpenDb) -> None:
    """The real thing: ids drawn from the sequence in one order, committed in the other."""
    first, second = await open_db(), await open_db()
    follower = LogFollower(first)
    await follower.start()
    insert = "INSERT INTO logs (created_at, request_id, status) VALUES (0, :rid, 200) RETURNING id"
    async with first.transaction() as slow:
        early = await slow.fetch_value(insert, {"rid": "early"})
        if first.dialect == "sqlite":
            later = None  # one writer at a time: SQLite cannot interleave them
        else:
            later = await second.fetch_value(insert, {"rid": "later"})  # commits first
            assert ids(await follower.poll()) == [later]
    assert ids(await follower.poll()) == [early]
    if later is not None:
        assert later > early
