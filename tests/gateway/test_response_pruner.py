"""The background pruning of expired stored responses: a round as a worker starts, one
worker per round, and a stop that leaves no task behind."""

from __future__ import annotations

import asyncio

from burncloud.db import Database
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.upkeep.response_pruner import ResponsePruner
from burncloud.services.response_store import DAY, remember_passthrough
from burncloud.services.users import create_user

T0 = 1_800_000_000
GUARD = 10  # seconds: a hung test fails instead of hanging


class Pause:
    """The pruner's sleep: records that a round ended, then waits until cancelled."""

    def __init__(self) -> None:
        self.rounds_done = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.rounds_done.set()
        await asyncio.get_running_loop().create_future()


async def _rows(db: Database, user: int, *ids_and_days: tuple[str, int]) -> None:
    for response_id, days in ids_and_days:
        await remember_passthrough(db, response_id, user, None, 1, T0, days)


async def _left(db: Database) -> list[str]:
    return [row["id"] for row in await db.fetch_all("SELECT id FROM responses ORDER BY id")]


async def _user(db: Database) -> int:
    async with db.transaction() as tx:
        return (await create_user(tx, name="alice")).id


async def test_prune_once_deletes_what_expired_by_the_clock(db: Database) -> None:
    user = await _user(db)
    await _rows(db, user, ("resp_a", 1), ("resp_b", 2), ("resp_c", 3))
    pruner = ResponsePruner(db, LocalState(), clock=lambda: T0 + 2 * DAY)
    assert await pruner.prune_once() == 2
    assert await _left(db) == ["resp_c"]


async def test_a_starting_worker_prunes_at_once_and_stops_cleanly(db: Database) -> None:
    user = await _user(db)
    await _rows(db, user, ("resp_a", 1), ("resp_b", 5))
    pause = Pause()
    pruner = ResponsePruner(db, LocalState(), clock=lambda: T0 + 3 * DAY, sleep=pause)
    await pruner.start()
    try:
        async with asyncio.timeout(GUARD):
            await pause.rounds_done.wait()
        assert await _left(db) == ["resp_b"]
    finally:
        await pruner.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "burncloud-response-pruner"]


async def test_one_worker_prunes_per_round(db: Database) -> None:
    user = await _user(db)
    state = LocalState()  # the workers' shared state
    later = T0 + 3 * DAY
    first, second = Pause(), Pause()
    one = ResponsePruner(db, state, clock=lambda: later, sleep=first)
    other = ResponsePruner(db, state, clock=lambda: later, sleep=second)
    await one.start()
    try:
        async with asyncio.timeout(GUARD):
            await first.rounds_done.wait()
        await _rows(db, user, ("resp_late", 1))  # expired, but the round was taken
        await other.start()
        async with asyncio.timeout(GUARD):
            await second.rounds_done.wait()
        assert await _left(db) == ["resp_late"]
    finally:
        await one.stop()
        await other.stop()
