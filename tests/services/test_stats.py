"""The dashboard's and `burncloud stats`' figures over known log rows, on SQLite and PostgreSQL.

The rows go through the log writer, as the router writes them, so the rollup the figures
read is the one production keeps. One world of eight requests around a UTC midnight:

    id  at        token  channel  model    in/out    cost  upstream  latency  status  ttft
    r8  DAY - 1   alice  main     gpt-4    10/1      17    5         80       200
    r7  DAY + 5   bob    main     gpt-4    10/1      3     -         70       200
    r6  NOW - 60  alice  main     gpt-4    1000/100  2     1         50       200
    r1  NOW - 50  alice  main     gpt-4    100/10    5     2         100      200     40 (stream)
    r2  NOW - 40  alice  main     gpt-4    200/20    7     -         300      429
    r3  NOW - 30  bob    spare    claude   300/30    11    4         200      499     80 (stream)
    r4  NOW - 20  bob    main     claude   400/40    13    -         1000     500
    r5  NOW       -      -        ''       0/0       0     -         5        401

(costs in millions of nano-USD, '-' an unknown upstream cost; NOW is 02:30:15 UTC, so r6..r5
share minute 02:29 but r5. alice is in group 'default', bob in 'vip'.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from burncloud.db import Database, open_database
from burncloud.db.migrations import migrate
from burncloud.db.schema import MIGRATIONS
from burncloud.errors import InvalidRequest
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.services import stats
from burncloud.services.groups import set_group
from burncloud.services.logs import LogFilter, named_lines
from burncloud.services.margins import Margin
from burncloud.services.stats import GroupRow, HourPoint, MinutePoint
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user, update_user
from tests.db.old_schema import migrate_to
from tests.gateway.quota_db import (
    BACKENDS,
    _drop_schema,
    _new_schema,
    database_factory,
    require_postgres,
)
from tests.gateway.test_logwriter import assert_rollup_matches_logs

M = 1_000_000
DAY = 1_749_945_600  # 2025-06-15T00:00:00Z
NOW = DAY + 2 * 3600 + 30 * 60 + 15  # 02:30:15
MINUTE = NOW - NOW % 60  # 02:30


class NoLedger:
    """The writer's billing listener; these rows reserved nothing."""

    def on_billed(self, amounts: object) -> None:
        pass


@dataclass(frozen=True, slots=True)
class World:
    db: Database
    alice: int  # token ids
    bob: int
    alice_user: int
    bob_user: int
    main: int  # channel ids
    spare: int
    broken: int
    ids: dict[str, int]  # r1..r8 -> log id


async def add_channel(db: Database, name: str, status: str) -> int:
    return int(
        await db.fetch_value(
            "INSERT INTO channels (type, name, key_hint, base_url, models, status,"
            " created_at, updated_at) VALUES ('openai', :name, 'x', 'http://127.0.0.1',"
            " 'gpt-4', :status, 0, 0) RETURNING id",
            {"name": name, "status": status},
        )
    )


def record(
    at: int,
    token: tuple[int, int] | None,
    channel: int | None,
    model: str,
    tokens: tuple[int, int],
    cost: int,
    latency: int,
    status: int,
    ttft: int | None = None,
    upstream: int | None = None,
) -> LogRecord:
    """A finished request as the relay submits it; ``token`` is (token id, user id),
    ``upstream`` its upstream cost (None: unknown)."""
    return LogRecord(
        created_at=at,
        request_id=f"req-{at}-{status}",
        user_id=token[1] if token else None,
        token_id=token[0] if token else None,
        channel_id=channel,
        model=model,
        endpoint="chat/completions",
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        cached_tokens=0,
        cost=cost,
        latency_ms=latency,
        ttft_ms=ttft,
        status=status,
        stream=ttft is not None,
        estimated=False,
        settlement=None,
        upstream_cost=upstream,
    )


async def build_world(db: Database, now: int = NOW) -> World:
    """The rows of the module docstring, written by the log writer in three flushes."""
    async with db.transaction() as tx:
        await set_group(tx, "vip", "0.8")
        alice_user = await create_user(tx, name="alice", balance=-1)
        bob_user = await create_user(tx, name="bob", group="vip", balance=-1)
        alice, _ = await insert_token(tx, name="alice-key", user_id=alice_user.id)
        bob, _ = await insert_token(tx, name="bob-key", user_id=bob_user.id)
    main, spare = (
        await add_channel(db, "main", "enabled"),
        await add_channel(db, "spare", "disabled"),
    )
    broken = await add_channel(db, "broken", "auto_disabled")
    a, b = (alice.id, alice_user.id), (bob.id, bob_user.id)
    day = now - now % 86400
    rows = {
        "r8": record(day - 1, a, main, "gpt-4", (10, 1), 17 * M, 80, 200, upstream=5 * M),
        "r7": record(day + 5, b, main, "gpt-4", (10, 1), 3 * M, 70, 200),
        "r6": record(now - 60, a, main, "gpt-4", (1000, 100), 2 * M, 50, 200, upstream=M),
        "r1": record(now - 50, a, main, "gpt-4", (100, 10), 5 * M, 100, 200, 40, 2 * M),
        "r2": record(now - 40, a, main, "gpt-4", (200, 20), 7 * M, 300, 429),
        "r3": record(now - 30, b, spare, "claude", (300, 30), 11 * M, 200, 499, 80, 4 * M),
        "r4": record(now - 20, b, main, "claude", (400, 40), 13 * M, 1000, 500),
        "r5": record(now, None, None, "", (0, 0), 0, 5, 401),
    }
    writer = LogWriter(db, NoLedger())
    for names in (("r8", "r7"), ("r6", "r1", "r2"), ("r3", "r4", "r5")):
        for name in names:
            writer.submit(rows[name])
        await writer.flush()
    logged = await db.fetch_all("SELECT id, request_id FROM logs")
    by_request = {row["request_id"]: row["id"] for row in logged}
    ids = {name: by_request[rec.request_id] for name, rec in rows.items()}
    return World(db, alice.id, bob.id, alice_user.id, bob_user.id, main, spare, broken, ids)


@pytest.fixture(params=BACKENDS)
async def sdb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh migrated database, SQLite or PostgreSQL."""
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


@pytest.fixture
async def world(sdb: Database) -> World:
    return await build_world(sdb)


async def test_live_summary_covers_the_last_60_seconds_and_today(world: World) -> None:
    summary = await stats.live_summary(world.db, NOW)
    assert summary == stats.LiveSummary(
        requests_per_second=5 / 60,  # r1..r5: r6 is exactly 60 s old
        requests_per_minute=5,
        input_tokens_per_second=1000 / 60,
        output_tokens_per_second=100 / 60,
        error_rate=0.6,  # 429, 500 and 401; the 499 is the client's leaving
        latency_p50_ms=200,  # nearest rank of 5, 100, 200, 300, 1000
        latency_p95_ms=1000,
        ttft_p50_ms=40,  # the streamed r1 and r3
        ttft_p95_ms=80,
        spend_today=41 * M,  # everything but r8, a second before midnight UTC
        active_channels=1,
        disabled_channels=2,  # disabled + auto_disabled
        last_request_at=NOW,
        # upstream known for r6, r1, r3; unknown for r7, r2, r4, r5 (23 M of revenue)
        margin_today=Margin(41 * M, 7, 7 * M, 4, 23 * M),
    )
    assert summary.margin_today.margin == 11 * M  # 41 - 23 - 7


async def test_spend_and_margin_today_restart_at_midnight_utc(world: World) -> None:
    before = await stats.live_summary(world.db, DAY - 1)  # r8 alone
    assert (before.spend_today, before.margin_today) == (17 * M, Margin(17 * M, 1, 5 * M, 0, 0))
    assert (before.margin_today.margin, str(before.margin_today.percent)) == (12 * M, "70.6")
    after = await stats.live_summary(world.db, DAY)  # r7, not r8
    assert (after.spend_today, after.margin_today) == (3 * M, Margin(3 * M, 1, 0, 1, 3 * M))
    assert after.margin_today.margin is None  # r7's upstream cost is unknown, not $0


async def test_minute_series_is_zero_filled_oldest_first(world: World) -> None:
    series = await stats.minute_series(world.db, NOW)
    assert [point.minute for point in series] == list(range(MINUTE - 59 * 60, MINUTE + 1, 60))
    assert series[-2] == MinutePoint(MINUTE - 60, 5, 2, 2000, 200, 38 * M)  # r6, r1..r4
    assert series[-1] == MinutePoint(MINUTE, 1, 1, 0, 0, 0)  # r5
    assert all(p == MinutePoint(p.minute, 0, 0, 0, 0, 0) for p in series[:-2])  # r7, r8: hours ago
    five = await stats.minute_series(world.db, NOW, minutes=5)
    assert [p.minute for p in five] == list(range(MINUTE - 4 * 60, MINUTE + 1, 60))
    assert five[-2:] == series[-2:]


async def test_hourly_spend_is_zero_filled_across_the_day_boundary(world: World) -> None:
    hours = await stats.hourly_spend(world.db, NOW)
    hour = NOW - NOW % 3600
    assert [point.hour for point in hours] == list(range(hour - 23 * 3600, hour + 1, 3600))
    assert hours[-4:] == [
        HourPoint(DAY - 3600, 17 * M),  # r8
        HourPoint(DAY, 3 * M),  # r7
        HourPoint(DAY + 3600, 0),
        HourPoint(DAY + 7200, 38 * M),  # r6, r1..r5
    ]
    assert all(point.cost == 0 for point in hours[:-4])


async def test_breakdown_by_model_sorted_by_spend(world: World) -> None:
    rows = await stats.breakdown(world.db, DAY - 3600, "model")
    assert rows == [
        GroupRow(
            "gpt-4", "gpt-4", 5, 1, 1320, 132, 34 * M, 80, 300,
            Margin(34 * M, 5, 8 * M, 2, 10 * M),  # r7 and r2 of unknown upstream cost
        ),
        GroupRow(
            "claude", "claude", 2, 1, 700, 70, 24 * M, 200, 1000,  # the 499 is no error
            Margin(24 * M, 2, 4 * M, 1, 13 * M),
        ),
        GroupRow("", "(none)", 1, 1, 0, 0, 0, 5, 5, Margin(0, 1, 0, 1, 0)),
    ]  # fmt: skip


async def test_breakdown_by_token_user_and_channel_show_names(world: World) -> None:
    since = DAY - 3600
    tokens = await stats.breakdown(world.db, since, "token")
    assert tokens == [
        GroupRow(
            str(world.alice), "alice-key", 4, 1, 1310, 131, 31 * M, 80, 300,
            Margin(31 * M, 4, 8 * M, 1, 7 * M),
        ),
        GroupRow(
            str(world.bob), "bob-key", 3, 1, 710, 71, 27 * M, 200, 1000,
            Margin(27 * M, 3, 4 * M, 2, 16 * M),
        ),
        GroupRow("", "(none)", 1, 1, 0, 0, 0, 5, 5, Margin(0, 1, 0, 1, 0)),
    ]  # fmt: skip
    users = await stats.breakdown(world.db, since, "user")
    assert [(u.key, u.label, u.requests, u.cost) for u in users] == [
        (str(world.alice_user), "alice", 4, 31 * M),
        (str(world.bob_user), "bob", 3, 27 * M),
        ("", "(none)", 1, 0),
    ]
    channels = await stats.breakdown(world.db, since, "channel")
    assert [(c.key, c.label, c.requests, c.errors, c.cost, c.margin) for c in channels] == [
        (str(world.main), "main", 6, 2, 47 * M, Margin(47 * M, 6, 8 * M, 3, 23 * M)),
        (str(world.spare), "spare", 1, 0, 11 * M, Margin(11 * M, 1, 4 * M, 0, 0)),
        ("", "(none)", 1, 1, 0, Margin(0, 1, 0, 1, 0)),
    ]


async def test_traffic_stays_with_the_group_it_was_sent_in(world: World) -> None:
    """The 'group' rows total requests by their user's group when logged: moving bob to
    'default' moves none of what he sent as 'vip' (a join with his group now would)."""
    since = DAY - 3600
    before = await stats.breakdown(world.db, since, "group")
    assert [(g.key, g.label, g.requests, g.cost, g.margin) for g in before] == [
        ("default", "default", 4, 31 * M, Margin(31 * M, 4, 8 * M, 1, 7 * M)),
        ("vip", "vip", 3, 27 * M, Margin(27 * M, 3, 4 * M, 2, 16 * M)),
        ("", "(none)", 1, 0, Margin(0, 1, 0, 1, 0)),
    ]
    await update_user(world.db, "bob", group="default")
    writer = LogWriter(world.db, NoLedger())
    bob = (world.bob, world.bob_user)
    writer.submit(record(NOW, bob, world.main, "gpt-4", (1, 1), 3 * M, 9, 200, upstream=M))
    await writer.flush()
    after = await stats.breakdown(world.db, since, "group")
    assert [(g.key, g.requests, g.cost, g.margin) for g in after] == [
        ("default", 5, 34 * M, Margin(34 * M, 5, 9 * M, 1, 7 * M)),
        ("vip", 3, 27 * M, before[1].margin),
        ("", 1, 0, Margin(0, 1, 0, 1, 0)),
    ]


async def test_breakdown_names_a_deleted_token_by_its_id(world: World) -> None:
    await world.db.execute("DELETE FROM tokens WHERE id = :id", {"id": world.bob})
    rows = await stats.breakdown(world.db, DAY - 3600, "token")
    assert [(row.key, row.label) for row in rows] == [
        (str(world.alice), "alice-key"),
        (str(world.bob), f"#{world.bob}"),
        ("", "(none)"),
    ]


async def test_breakdown_of_an_unknown_dimension_is_refused(world: World) -> None:
    with pytest.raises(InvalidRequest, match="cannot break down by 'region'"):
        await stats.breakdown(world.db, DAY, "region")


@pytest.mark.parametrize(
    ("since", "requests"),
    [
        (DAY - 3600, 8),  # whole hours only
        (DAY - 30 * 60, 8),  # minutes 23:30..23:59 of yesterday, then whole hours
        (DAY - 1, 8),  # r8 is this very second
        (DAY, 7),
        (DAY + 5, 7),  # r7 (00:00:05) is this very second
        (DAY + 6, 6),  # the seconds of minute 00:00 after r7
        (DAY + 60, 6),
        (NOW - 60, 6),  # r6 is this very second
        (NOW - 59, 5),  # minute 02:29 holds r6..r4: only the seconds after r6 count
        (NOW - 45, 4),  # r2, r3, r4 in 02:29:30..02:29:59, and r5
        (NOW - 15, 1),  # from 02:30:00
        (NOW, 1),
        (NOW + 1, 0),
    ],
)
async def test_a_window_starts_exactly_at_since(world: World, since: int, requests: int) -> None:
    totals = await stats.window_totals(world.db, since)
    assert (totals.since, totals.requests, totals.sampled) == (since, requests, requests)
    models = await stats.breakdown(world.db, since, "model")
    assert sum(row.requests for row in models) == requests
    assert sum(row.latency_p50_ms is not None for row in models) == len(models)
    channels = await stats.channel_rows(world.db, since)
    without_channel = int(since <= NOW)  # r5
    assert sum(row.requests for row in channels) == requests - without_channel


async def test_the_seconds_before_the_first_minute_count_in_every_figure(world: World) -> None:
    since = NOW - 45  # 02:29:30: r2 (429), r3 (499), r4 (500) from the logs, r5 from 02:30
    totals = await stats.window_totals(world.db, since)
    assert (totals.errors, totals.prompt_tokens, totals.cost) == (3, 900, 31 * M)
    assert totals.margin == Margin(31 * M, 4, 4 * M, 3, 20 * M)  # r3 known; r2, r4, r5 not
    models = await stats.breakdown(world.db, since, "model")
    assert [(m.key, m.requests, m.errors, m.cost) for m in models] == [
        ("claude", 2, 1, 24 * M),
        ("gpt-4", 1, 1, 7 * M),
        ("", 1, 1, 0),
    ]
    tokens = await stats.breakdown(world.db, since, "token")
    assert [(t.label, t.requests) for t in tokens] == [
        ("bob-key", 2),
        ("alice-key", 1),
        ("(none)", 1),
    ]
    groups = await stats.breakdown(world.db, since, "group")
    assert [(g.label, g.requests, g.margin) for g in groups] == [
        ("vip", 2, Margin(24 * M, 2, 4 * M, 1, 13 * M)),  # r3, r4
        ("default", 1, Margin(7 * M, 1, 0, 1, 7 * M)),  # r2
        ("(none)", 1, Margin(0, 1, 0, 1, 0)),  # r5
    ]


async def test_window_totals_add_up_every_request(world: World) -> None:
    totals = await stats.window_totals(world.db, DAY - 3600)
    assert totals == stats.Totals(
        since=DAY - 3600,
        requests=8,
        errors=3,
        error_rate=3 / 8,
        prompt_tokens=2020,
        completion_tokens=202,
        cached_tokens=0,
        cost=58 * M,
        latency_p50_ms=80,  # nearest rank of 5, 50, 70, 80, 100, 200, 300, 1000
        latency_p95_ms=1000,
        latency_p99_ms=1000,
        sampled=8,
        margin=Margin(58 * M, 8, 12 * M, 4, 23 * M),
    )
    json = totals.to_json()
    assert json["cost"] == "0.058"
    assert {key: json[key] for key in Margin(0, 0, 0, 0, 0).to_json()} == {
        "revenue": "0.058",
        "upstream_cost": "0.012",
        "upstream_unknown": 4,
        "upstream_unknown_revenue": "0.023",
        "margin": "0.023",  # 58 - 23 - 12
        "margin_percent": "65.7",  # of the 35 M paid for requests of known upstream cost
    }


async def test_percentiles_are_over_the_newest_requests_of_a_big_window(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "WINDOW_SAMPLE", 3)
    monkeypatch.setattr(stats, "GROUP_SAMPLE", 3)
    totals = await stats.window_totals(world.db, DAY - 3600)
    assert (totals.requests, totals.sampled) == (8, 3)  # counts stay exact
    assert (totals.latency_p50_ms, totals.latency_p99_ms) == (200, 1000)  # r5, r4, r3
    models = await stats.breakdown(world.db, DAY - 3600, "model")
    assert [(m.key, m.requests, m.latency_p50_ms) for m in models] == [
        ("gpt-4", 5, None),
        ("claude", 2, 200),
        ("", 1, 5),
    ]


async def test_channel_rows_show_health_and_window_traffic(world: World) -> None:
    await world.db.execute(
        "UPDATE channels SET success_count = 3, failure_count = 1, latency_ms = 123,"
        " status_reason = 'HTTP 401 from upstream' WHERE id = :id",
        {"id": world.main},
    )
    rows = await stats.channel_rows(world.db, DAY)
    assert rows == [
        stats.ChannelRow(
            world.main, "main", "openai", "enabled", "HTTP 401 from upstream", 100, 0.75, 5,
            30 * M, "", Margin(30 * M, 5, 3 * M, 3, 23 * M),
        ),  # latency: the median of r7, r6, r1, r2, r4 (the tested 123 ms is older news)
        stats.ChannelRow(
            world.spare, "spare", "openai", "disabled", "", 200, None, 1, 11 * M, "",
            Margin(11 * M, 1, 4 * M, 0, 0),
        ),
        stats.ChannelRow(
            world.broken, "broken", "openai", "auto_disabled", "", None, None, 0, 0, "",
            Margin(0, 0, 0, 0, 0),
        ),
    ]  # fmt: skip
    await world.db.execute(
        "UPDATE channels SET latency_ms = 77 WHERE id = :id", {"id": world.broken}
    )
    rows = await stats.channel_rows(world.db, NOW + 60)  # no traffic: the tested latency
    assert [row.latency_ms for row in rows] == [123, None, 77]


async def test_log_list_lines_newest_first_with_the_admin_api_filters(world: World) -> None:
    ids = world.ids

    async def found(limit: int = 100, **filters: Any) -> list[int]:
        lines = await named_lines(world.db, LogFilter(**filters), limit=limit)
        return [line.id for line in lines]

    newest_first = [ids[n] for n in ("r5", "r4", "r3", "r2", "r1", "r6", "r7", "r8")]
    assert await found() == newest_first
    assert await found(limit=2) == newest_first[:2]
    assert await found(model="claude") == [ids["r4"], ids["r3"]]
    assert await found(token_id=world.bob) == [ids["r4"], ids["r3"], ids["r7"]]
    assert await found(user_id=world.bob_user) == [ids["r4"], ids["r3"], ids["r7"]]
    assert await found(channel_id=world.spare) == [ids["r3"]]
    assert await found(status=429) == [ids["r2"]]
    assert await found(since=NOW - 40) == newest_first[:4]
    assert await found(until=NOW - 40) == newest_first[4:]
    assert await found(model="gpt-4", since=DAY, token_id=world.alice) == [
        ids["r2"],
        ids["r1"],
        ids["r6"],
    ]


async def test_recent_logs_list_by_time_and_tail_by_id(world: World) -> None:
    """A row written late with an older time (another router's clock) lists by its time,
    and a tail (after an id) still sees it, as the newest written."""
    late = record(
        NOW - 100, (world.alice, world.alice_user), world.main, "gpt-4", (1, 1), 0, 1, 200
    )
    writer = LogWriter(world.db, NoLedger())
    writer.submit(late)
    await writer.flush()
    late_id = max(world.ids.values()) + 1
    listed = [line.id for line in await stats.recent_logs(world.db, limit=7)]
    assert listed == [world.ids[n] for n in ("r5", "r4", "r3", "r2", "r1", "r6")] + [late_id]
    tailed = await stats.recent_logs(world.db, after_id=world.ids["r5"])
    assert [line.id for line in tailed] == [late_id]
    after_r1 = await stats.recent_logs(world.db, after_id=world.ids["r1"])
    assert [line.id for line in after_r1] == [
        late_id,
        *(world.ids[n] for n in ("r5", "r4", "r3", "r2")),
    ]
    assert await stats.recent_logs(world.db, after_id=late_id) == []


async def test_log_lines_carry_names_and_the_whole_row(world: World) -> None:
    first, *_, refused = await named_lines(world.db, LogFilter(since=NOW - 30))
    assert refused.id == world.ids["r3"] and first.id == world.ids["r5"]
    assert refused == stats.LogLine(
        id=world.ids["r3"],
        created_at=NOW - 30,
        request_id=f"req-{NOW - 30}-499",
        token_id=world.bob,
        token_name="bob-key",
        user_id=world.bob_user,
        model="claude",
        channel_id=world.spare,
        channel_name="spare",
        endpoint="chat/completions",
        prompt_tokens=300,
        completion_tokens=30,
        cached_tokens=0,
        cost=11 * M,
        latency_ms=200,
        ttft_ms=80,
        status=499,
        stream=True,
        estimated=False,
        error="",
        route="",
    )
    assert (first.token_id, first.token_name, first.channel_id, first.channel_name) == (
        None,
        "",
        None,
        "",
    )
    assert first.to_json()["cost"] == "0" and refused.to_json()["cost"] == "0.011"
    assert refused.to_json()["route"] is None
    assert replace(refused, route='{"attempts": []}').to_json()["route"] == {"attempts": []}
    assert await stats.recent_logs(world.db, limit=1) == [first]


async def test_an_empty_database_has_zero_figures(sdb: Database) -> None:
    summary = await stats.live_summary(sdb, NOW)
    assert (summary.requests_per_minute, summary.error_rate, summary.spend_today) == (0, 0.0, 0)
    assert (summary.latency_p50_ms, summary.ttft_p95_ms, summary.last_request_at) == (None,) * 3
    assert (summary.active_channels, summary.disabled_channels) == (0, 0)
    series = await stats.minute_series(sdb, NOW)
    assert len(series) == 60 and all(point.requests == 0 for point in series)
    assert [point.cost for point in await stats.hourly_spend(sdb, NOW)] == [0] * 24
    assert await stats.breakdown(sdb, 0, "token") == []
    assert await stats.channel_rows(sdb, 0) == []
    assert await stats.recent_logs(sdb) == []
    totals = await stats.window_totals(sdb, 0)
    assert (totals.requests, totals.error_rate, totals.latency_p99_ms) == (0, 0.0, None)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("24h", 86400), ("7d", 604800)]
)
def test_parse_window(text: str, seconds: int) -> None:
    assert stats.parse_window(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "0h", "-1h", "1.5h", "1w", "1 h", "01h"])
def test_parse_window_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid window"):
        stats.parse_window(text)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [([], 50, None), ([7], 99, 7), ([1, 2], 50, 1), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4)],
)
def test_percentile_is_nearest_rank(values: list[int], p: int, expected: int | None) -> None:
    assert stats.percentile(values, p) == expected


@pytest.fixture(params=BACKENDS)
async def version3_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database, SQLite or PostgreSQL, to build an old schema in."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    await require_postgres()
    url = await _new_schema()
    try:
        yield url
    finally:
        await _drop_schema(url)


async def test_migration_backfills_the_rollup_from_existing_logs(version3_url: str) -> None:
    """A database from before the rollup (schema version 3) with logs gets its history."""
    db = await open_database(version3_url, migrate=False)
    try:
        await _migrate_to_version_3(db)
        await _write_old_logs(db)
        assert await migrate(db) == len(MIGRATIONS) - 3
        await assert_rollup_matches_logs(db)
        totals = await stats.window_totals(db, DAY - 3600)
        assert (totals.requests, totals.errors, totals.cost) == (4, 2, 11 * M)
        assert totals.margin == Margin(11 * M, 4, 0, 4, 11 * M)  # logged before costs were
        assert totals.margin.margin is None and totals.to_json()["upstream_cost"] is None
        hours = await stats.hourly_spend(db, NOW)
        assert hours[-4:] == [
            HourPoint(DAY - 3600, M),
            HourPoint(DAY, 2 * M),
            HourPoint(DAY + 3600, 0),
            HourPoint(DAY + 7200, 8 * M),
        ]
        channels = await stats.breakdown(db, DAY - 3600, "channel")
        assert [(c.key, c.requests, c.errors) for c in channels] == [("", 2, 1), ("3", 2, 1)]
    finally:
        await db.close()


async def _migrate_to_version_3(db: Database) -> None:
    await migrate_to(db, 3)


async def _write_old_logs(db: Database) -> None:
    """Log rows as a version-3 router wrote them: no token, a token, a 499, a 503."""
    rows = [
        (DAY - 1, None, None, "gpt-4", 200, M),
        (DAY + 59, 7, 3, "gpt-4", 499, 2 * M),
        (NOW - 5, 7, 3, "claude", 503, 3 * M),
        (NOW, 8, None, "claude", 400, 5 * M),
    ]
    await db.execute_many(
        "INSERT INTO logs (created_at, request_id, token_id, user_id, channel_id, model,"
        " prompt_tokens, completion_tokens, cost, latency_ms, status)"
        " VALUES (:at, 'old', :token, :token, :channel, :model, 10, 5, :cost, 9, :status)",
        [
            {
                "at": at,
                "token": token,
                "channel": channel,
                "model": model,
                "status": status,
                "cost": cost,
            }
            for at, token, channel, model, status, cost in rows
        ],
    )
