"""Burn-rate forecasts over inserted rollup rows, with the clock held at NOW, on SQLite and
PostgreSQL: the rate, the runway, windows, what has no forecast, and the formatting.

NOW is 12:30 UTC, so the default six-hour lookback starts at 06:30: the minutes 06:30 to
06:59 come from log_minutes, the hours 07:00 to 12:00 from log_hours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.db import Database
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.money import UNLIMITED
from burncloud.services.forecast import (
    RunningOut,
    Runway,
    format_runway,
    running_out,
    runways,
)
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user
from tests.gateway.quota_db import BACKENDS, database_factory
from tests.services.test_stats import DAY, NoLedger, record

USD = 10**9
HOUR = 3600
NOW = DAY + 12 * HOUR + 30 * 60  # 12:30
SINCE = NOW - 6 * HOUR  # 06:30


@pytest.fixture(params=BACKENDS)
async def fdb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


async def owner(
    db: Database, name: str, *, balance: int = UNLIMITED, quota: int = UNLIMITED
) -> tuple[int, int]:
    """A user with ``balance`` and a key of theirs with ``quota``: (token id, user id)."""
    async with db.transaction() as tx:
        user = await create_user(tx, name=name, balance=balance)
        token, _ = await insert_token(tx, name=f"{name}-key", user_id=user.id, quota=quota)
    return token.id, user.id


async def spent(db: Database, table: str, at: int, dim: str, key: int, usd: float) -> None:
    """One rollup row: ``usd`` spent by token or user ``key`` in the bucket at ``at``."""
    column = "hour" if table == "log_hours" else "minute"
    await db.execute(
        f"INSERT INTO {table} ({column}, dim, key, requests, cost) VALUES (:at, :dim, :key, 1, :c)",
        {"at": at, "dim": dim, "key": str(key), "c": int(usd * USD)},
    )


async def lease(db: Database, subject: str, subject_id: int, usd: float) -> None:
    await db.execute(
        "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
        " VALUES ('router-a', :s, :sid, :x, :e)",
        {"s": subject, "sid": subject_id, "x": int(usd * USD), "e": NOW + 60},
    )


async def window(
    db: Database,
    scope: str,
    scope_id: int,
    subject_id: int,
    *,
    period: str,
    starts: int,
    ends: int,
    amount: float,
    used: float = 0,
    held: float = 0,
    model: str = "",
) -> int:
    """A budget and one window of it, ``held`` of what is left in a router's lease; the
    window's id."""
    budget = await db.fetch_value(
        "INSERT INTO budgets (scope, scope_id, model, period, amount, created_at, updated_at)"
        " VALUES (:s, :sid, :m, :p, :x, 0, 0) RETURNING id",
        {"s": scope, "sid": scope_id, "m": model, "p": period, "x": int(amount * USD)},
    )
    window_id = int(
        await db.fetch_value(
            "INSERT INTO budget_windows (budget_id, subject_id, seq, starts_at, ends_at, amount,"
            " remaining, used) VALUES (:b, :sid, :seq, :s, :e, :x, :r, :u) RETURNING id",
            {
                "b": budget,
                "sid": subject_id,
                "seq": starts,
                "s": starts,
                "e": ends,
                "x": int(amount * USD),
                "r": int((amount - used - held) * USD),
                "u": int(used * USD),
            },
        )
    )
    if held:
        await lease(db, "budget", window_id, held)
    return window_id


async def test_rate_is_the_lookbacks_rollup_spend_and_the_runway_what_is_left_at_it(
    fdb: Database,
) -> None:
    token, user = await owner(fdb, "alice", quota=8 * USD)
    other, _ = await owner(fdb, "bob", quota=USD)
    await lease(fdb, "token", token, 2)  # 8 stored + 2 held by a router: 10 left
    await spent(fdb, "log_minutes", SINCE - 60, "token", token, 100)  # 06:29: before the lookback
    await spent(fdb, "log_minutes", SINCE + 15 * 60, "token", token, 1)  # 06:45
    await spent(fdb, "log_hours", SINCE - 30 * 60, "token", token, 100)  # hour 06:00: before
    await spent(fdb, "log_hours", DAY + 9 * HOUR, "token", token, 1.5)
    await spent(fdb, "log_minutes", DAY + 9 * HOUR + 600, "token", token, 1.5)  # in hour 09:00
    await spent(fdb, "log_hours", DAY + 12 * HOUR, "token", token, 0.5)  # the hour under way
    await spent(fdb, "log_hours", DAY + 13 * HOUR, "token", token, 100)  # after now
    await spent(fdb, "log_hours", DAY + 9 * HOUR, "user", user, 50)  # another dimension
    await spent(fdb, "log_hours", DAY + 9 * HOUR, "token", other, 0.06)
    found = await runways(fdb, NOW, subject="token")
    # 3 USD over six hours: 0.5 USD an hour, so 10 USD last 20 hours
    assert found == [
        Runway("token", token, 10 * USD, USD // 2, 20 * HOUR),
        Runway("token", other, USD, 10_000_000, 100 * HOUR),  # 0.01 USD an hour
    ]
    assert format_runway(found[0].runs_out_in) == "20 h"
    assert format_runway(found[1].runs_out_in) == "4 d 4 h"


async def test_no_recent_spend_has_no_forecast_and_goes_last(fdb: Database) -> None:
    idle, _ = await owner(fdb, "idle", quota=5 * USD)
    busy, _ = await owner(fdb, "busy", quota=5 * USD)
    await spent(fdb, "log_hours", DAY + 3 * HOUR, "token", idle, 4)  # long before the lookback
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", busy, 6)
    found = await runways(fdb, NOW, subject="token")
    assert found == [
        Runway("token", busy, 5 * USD, USD, 5 * HOUR),
        Runway("token", idle, 5 * USD, 0, None),
    ]
    assert format_runway(None) == "—"


async def test_unlimited_tokens_and_users_have_no_runway(fdb: Database) -> None:
    unlimited_token, limited_user = await owner(fdb, "alice", balance=3 * USD)
    limited_token, unlimited_user = await owner(fdb, "bob", quota=2 * USD)
    for key in (unlimited_token, limited_token):
        await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", key, 1)
    for key in (limited_user, unlimited_user):
        await spent(fdb, "log_hours", DAY + 11 * HOUR, "user", key, 1)
    found = {(r.subject, r.subject_id): r.runs_out_in for r in await runways(fdb, NOW)}
    six_hours_a_dollar = 6 * HOUR  # 1 USD over the six hours
    assert found == {
        ("token", limited_token): 2 * six_hours_a_dollar,
        ("user", limited_user): 3 * six_hours_a_dollar,
    }


async def test_an_exhausted_subject_still_spending_runs_out_now(fdb: Database) -> None:
    token, _ = await owner(fdb, "alice", quota=0)
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", token, 1)
    assert await runways(fdb, NOW) == [Runway("token", token, 0, USD // 6, 0)]
    assert format_runway(0) == "< 1 min"


async def test_subject_and_ids_choose_what_is_forecast(fdb: Database) -> None:
    alice, alice_user = await owner(fdb, "alice", quota=USD, balance=USD)
    bob, _ = await owner(fdb, "bob", quota=USD)
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", alice, 1)
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", bob, 2)
    only = await runways(fdb, NOW, subject="token", ids=[alice])
    assert [(r.subject, r.subject_id, r.runs_out_in) for r in only] == [("token", alice, 6 * HOUR)]
    both = await runways(fdb, NOW, subject="token", ids=[alice, bob])
    assert [r.subject_id for r in both] == [bob, alice]  # bob spends twice as fast
    assert await runways(fdb, NOW, subject="user", ids=[alice_user]) == [
        Runway("user", alice_user, USD, 0, None)
    ]
    assert await runways(fdb, NOW, subject="window") == []
    assert await runways(fdb, NOW, ids=[]) == []
    with pytest.raises(ValueError, match="unknown forecast subject"):
        await runways(fdb, NOW, subject="channel")


async def test_a_longer_lookback_sees_older_spend(fdb: Database) -> None:
    token, _ = await owner(fdb, "alice", quota=10 * USD)
    await spent(fdb, "log_hours", DAY + 3 * HOUR, "token", token, 5)  # 03:00: 9.5 h ago
    assert (await runways(fdb, NOW, subject="token"))[0].runs_out_in is None
    (found,) = await runways(fdb, NOW, subject="token", lookback_hours=10)
    assert found.spend_per_hour == USD // 2  # 5 USD over ten hours
    assert found.runs_out_in == 20 * HOUR


async def test_pruned_minutes_start_the_lookback_at_its_hour(fdb: Database) -> None:
    token, _ = await owner(fdb, "alice", quota=7 * USD)
    await spent(fdb, "log_hours", DAY + 6 * HOUR, "token", token, 0.7)  # hour 06:00, whole
    await fdb.execute(
        "INSERT INTO settings (key, value) VALUES ('rollup.minutes_kept_from', :v)",
        {"v": str(DAY + 7 * HOUR)},
    )
    (found,) = await runways(fdb, NOW, subject="token")
    # from 06:00: 0.7 USD over 6.5 hours
    assert found.spend_per_hour == 700_000_000 * 3600 // (6 * HOUR + 1800)
    assert found.runs_out_in == 7 * USD * (6 * HOUR + 1800) // 700_000_000


async def test_a_calendar_window_counts_its_owners_recent_spend_and_its_leases(
    fdb: Database,
) -> None:
    token, user = await owner(fdb, "alice")  # unlimited: only the windows limit it
    month = await window(
        fdb, "token", token, token, period="month", starts=DAY - 10 * 86400,
        ends=DAY + 20 * 86400, amount=20, used=14, held=1,
    )  # fmt: skip
    day = await window(
        fdb, "user", user, user, period="day", starts=DAY, ends=DAY + 86400, amount=5, used=1
    )
    await spent(fdb, "log_hours", DAY + 10 * HOUR, "token", token, 0.6)
    await spent(fdb, "log_hours", DAY + 10 * HOUR, "user", user, 0.6)
    found = await runways(fdb, NOW, subject="window")
    assert found == [
        # 0.1 USD an hour: the month's 6 USD (1 of them leased) last 60 h, before it resets
        Runway("window", month, 6 * USD, USD // 10, 60 * HOUR),
        # the day's 4 USD would last 40 h: the day resets at midnight first
        Runway("window", day, 4 * USD, USD // 10, None),
    ]


async def test_a_window_begun_within_the_lookback_takes_its_rate_from_its_use(
    fdb: Database,
) -> None:
    token, _ = await owner(fdb, "alice")
    rolling = await window(
        fdb, "token", token, token, period="5h", starts=NOW - HOUR, ends=NOW + 4 * HOUR,
        amount=5, used=2,
    )  # fmt: skip
    await spent(fdb, "log_hours", DAY + 8 * HOUR, "token", token, 30)  # before the window
    (found,) = await runways(fdb, NOW, subject="window")
    # 2 USD in its first hour: the 3 left last 1.5 h, inside its 4 h to go
    assert found == Runway("window", rolling, 3 * USD, 2 * USD, HOUR + 1800)
    assert format_runway(found.runs_out_in) == "1 h 30 min"


async def test_a_model_budget_takes_its_rate_from_its_use_since_it_began(fdb: Database) -> None:
    token, _ = await owner(fdb, "alice")
    gpt = await window(
        fdb, "token", token, token, period="week", starts=NOW - 50 * HOUR,
        ends=NOW + 100 * HOUR, amount=10, used=5, model="gpt-4o",
    )  # fmt: skip
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", token, 60)  # mostly other models
    (found,) = await runways(fdb, NOW, subject="window")
    assert found == Runway("window", gpt, 5 * USD, USD // 10, 50 * HOUR)


async def test_only_current_windows_are_forecast(fdb: Database) -> None:
    token, _ = await owner(fdb, "alice")
    await window(fdb, "token", token, token, period="1h", starts=NOW - 2 * HOUR,
                 ends=NOW - HOUR, amount=1, used=1)  # fmt: skip
    await window(fdb, "token", token, token, period="2h", starts=NOW + 60,
                 ends=NOW + HOUR, amount=1)  # fmt: skip
    ending = await window(fdb, "token", token, token, period="3h", starts=NOW - 3 * HOUR,
                          ends=NOW + 1, amount=1, used=0.5)  # fmt: skip
    assert [r.subject_id for r in await runways(fdb, NOW, subject="window")] == [ending]
    assert await runways(fdb, NOW + 1, subject="window") == []


async def test_running_out_names_each_owners_first_limit_soonest_first(fdb: Database) -> None:
    alice, alice_user = await owner(fdb, "alice", quota=10 * USD, balance=100 * USD)
    bob, bob_user = await owner(fdb, "bob", quota=50 * USD)
    idle, _ = await owner(fdb, "carol", quota=USD)
    plan = await fdb.fetch_value(
        "INSERT INTO plans (name, created_at, updated_at) VALUES ('coding', 0, 0) RETURNING id"
    )
    five = await window(
        fdb, "plan", int(plan), bob_user, period="5h", starts=NOW - HOUR, ends=NOW + 4 * HOUR,
        amount=3, used=1, model="claude",
    )  # fmt: skip
    for key in (alice, bob):
        await spent(fdb, "log_hours", DAY + 11 * HOUR, "token", key, 6)
    await spent(fdb, "log_hours", DAY + 11 * HOUR, "user", alice_user, 12)
    found = await running_out(fdb, NOW)
    assert found == [
        # bob's plan window: 2 USD left at 1 USD an hour, before his 50 USD quota (50 h)
        RunningOut("user", bob_user, "bob", "5-hour plan budget for claude",
                   Runway("window", five, 2 * USD, USD, 2 * HOUR)),
        RunningOut("token", alice, "alice-key", "quota",
                   Runway("token", alice, 10 * USD, USD, 10 * HOUR)),
        RunningOut("token", bob, "bob-key", "quota",
                   Runway("token", bob, 50 * USD, USD, 50 * HOUR)),
        RunningOut("user", alice_user, "alice", "balance",
                   Runway("user", alice_user, 100 * USD, 2 * USD, 50 * HOUR)),
    ]  # fmt: skip
    assert idle not in [r.id for r in found if r.kind == "token"]  # no spend: no forecast
    assert [r.id for r in await running_out(fdb, NOW, limit=2)] == [bob_user, alice]
    assert found[0].to_json() == {
        "kind": "user",
        "id": bob_user,
        "name": "bob",
        "limit": "5-hour plan budget for claude",
        "window_id": five,
        "remaining": "2",
        "spend_per_hour": "1",
        "runs_out_in": 2 * HOUR,
    }


async def test_the_forecast_reads_what_the_log_writer_rolls_up(fdb: Database) -> None:
    token, user = await owner(fdb, "alice", quota=23 * USD // 10)  # 1 USD once 1.3 are billed
    writer = LogWriter(fdb, NoLedger())
    for age in (3 * HOUR, 2 * HOUR, 20 * 60):  # 0.1 USD each, three in the lookback
        writer.submit(record(NOW - age, (token, user), None, "gpt-4", (10, 1), USD // 10, 9, 200))
    writer.submit(record(NOW - 7 * HOUR, (token, user), None, "gpt-4", (10, 1), USD, 9, 200))
    await writer.flush()
    (found,) = await runways(fdb, NOW, subject="token")
    assert found.remaining == USD
    assert found.spend_per_hour == USD // 20  # 0.3 USD over six hours
    assert found.runs_out_in == 20 * HOUR


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0, "< 1 min"),
        (59, "< 1 min"),
        (60, "1 min"),
        (40 * 60 + 59, "40 min"),
        (HOUR, "1 h"),
        (5 * HOUR + 12 * 60 + 30, "5 h 12 min"),
        (86400, "1 d"),
        (3 * 86400 + 4 * HOUR + 59 * 60, "3 d 4 h"),
        (365 * 86400, "365 d"),
        (365 * 86400 + 1, "> 365 d"),
    ],
)
def test_runways_are_written_in_their_two_largest_units_rounded_down(
    seconds: int | None, shown: str
) -> None:
    assert format_runway(seconds) == shown
