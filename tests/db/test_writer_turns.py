"""SQLite write transactions take turns through an flock beside the database, so a writer
wakes when the lock is free instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import time

from burncloud.db import open_database
from burncloud.db.sqlite import WriterTurns


async def test_a_second_connection_waits_its_turn_and_gets_it_at_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/turns.db"
    first, second = await open_database(url), await open_database(url)
    try:
        released_at: list[float] = []
        entered = asyncio.Event()

        async def hold() -> None:
            async with first.transaction() as tx:
                await tx.execute("UPDATE config_version SET version = version + 1")
                entered.set()
                await asyncio.sleep(0.5)  # past SQLite's short busy-handler steps
                released_at.append(time.monotonic())

        holder = asyncio.create_task(hold())
        await entered.wait()
        async with second.transaction() as tx:
            began = time.monotonic()
            await tx.execute("UPDATE config_version SET version = version + 1")
        await holder
        # woken by the flock's release, not by a busy-handler sleep of up to 100 ms
        # (SQLite's busy handler, sleeping in steps, wakes ~29 ms after it here)
        assert began - released_at[0] < 0.015
        assert await second.fetch_value("SELECT version FROM config_version") >= 2
    finally:
        await first.close()
        await second.close()


async def test_a_turn_cancelled_while_waiting_is_given_back(tmp_path) -> None:
    path = str(tmp_path / "x.db")
    holder, waiter, third = WriterTurns(path), WriterTurns(path), WriterTurns(path)
    try:
        await holder.take()
        waiting = asyncio.create_task(waiter.take())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        waiting.cancel()
        holder.give()  # the cancelled waiter's thread now takes the turn, then gives it back
        async with asyncio.timeout(5):
            await asyncio.gather(waiting, return_exceptions=True)
            await third.take()  # so the turn is free again
        third.give()
    finally:
        for turns in (holder, waiter, third):
            turns.close()
