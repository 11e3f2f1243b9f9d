"""Error-rate alerts from the per-minute rollup: five bad minutes in a row open an episode
(one alert, however many routers watch), a good minute closes it."""

from __future__ import annotations

import asyncio

from burncloud.db import Database
from burncloud.services.alerts.error_rate import EPISODE, last_minutes, watch_error_rate
from burncloud.services.alerts.watch_state import read_mark
from tests.gateway.quota_db import OpenDb
from tests.services.alerts.conftest import T0

NOW = T0 - T0 % 60 + 30  # half a minute into a minute
FIRST = NOW - NOW % 60 - 300  # the first of the last five whole minutes


async def _minutes(db: Database, start: int, *counts: tuple[int, int]) -> None:
    for n, (requests, errors) in enumerate(counts):
        await db.execute(
            "INSERT INTO log_minutes (minute, dim, key, requests, errors)"
            " VALUES (:m, 'all', '', :r, :e)",
            {"m": start + 60 * n, "r": requests, "e": errors},
        )


async def _events(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetch_all("SELECT dedupe_key, text FROM alert_events ORDER BY id")
    return [(row["dedupe_key"], row["text"]) for row in rows]


async def test_five_bad_minutes_open_an_episode_once(db: Database) -> None:
    await _minutes(db, FIRST, (10, 3), (10, 5), (4, 4), (20, 5), (10, 3))
    assert await watch_error_rate(db, NOW, 20) is not None
    await _minutes(db, FIRST + 300, (10, 4))
    assert await watch_error_rate(db, NOW + 60, 20) is None  # still in the episode
    assert await read_mark(db, EPISODE) == FIRST
    assert await _events(db) == [
        (
            f"error-rate:{FIRST}",
            "Errors were 37% of requests over the last 5 minutes (20 of 54), above the 20%"
            " threshold in every minute.",
        )
    ]
    assert await watch_error_rate(db, NOW + 120, 20) is None  # a quiet minute ends it
    assert await read_mark(db, EPISODE) == 0


async def test_a_good_minute_closes_the_episode_and_a_new_one_alerts_again(db: Database) -> None:
    await _minutes(db, FIRST, *[(10, 5)] * 5)
    assert await watch_error_rate(db, NOW, 20) is not None
    await _minutes(db, FIRST + 300, (10, 1))  # the sixth minute is good
    assert await watch_error_rate(db, NOW + 60, 20) is None
    assert await read_mark(db, EPISODE) == 0
    await _minutes(db, FIRST + 360, *[(10, 9)] * 5)
    assert await watch_error_rate(db, NOW + 360, 20) is not None
    assert [key for key, _ in await _events(db)] == [
        f"error-rate:{FIRST}",
        f"error-rate:{FIRST + 360}",
    ]


async def test_a_quiet_or_good_minute_among_five_keeps_it_quiet(db: Database) -> None:
    await _minutes(db, FIRST, (10, 5), (10, 5), (10, 5), (10, 5))  # the fifth: no traffic
    assert await watch_error_rate(db, NOW, 20) is None
    await _minutes(db, FIRST + 240, (10, 2))  # exactly 20 %: not above
    assert await watch_error_rate(db, NOW, 20) is None
    assert [m.requests for m in await last_minutes(db, NOW)] == [10] * 5
    assert await _events(db) == []


async def test_routers_watching_at_once_open_one_episode(connect: OpenDb) -> None:
    routers = [await connect() for _ in range(3)]
    await _minutes(routers[0], FIRST, *[(10, 5)] * 5)
    raised = await asyncio.gather(*(watch_error_rate(db, NOW, 20) for db in routers))
    assert len([event for event in raised if event is not None]) == 1
    assert len(await _events(routers[0])) == 1
