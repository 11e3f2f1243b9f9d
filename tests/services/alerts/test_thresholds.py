"""Budget alerts: each hook hears its highest threshold crossed, once per subject and
total, for token quotas, user balances and budget windows, however many routers watch."""

from __future__ import annotations

import asyncio

from burncloud.db import Database
from burncloud.money import parse_usd
from burncloud.services.alerts import hooks
from burncloud.services.alerts.thresholds import load_standings, raise_budget_events
from tests.gateway.quota_db import OpenDb, make_caller
from tests.services.alerts.conftest import BOX, T0

USD = parse_usd("1")


async def _hook(db: Database, thresholds: str | None = None) -> int:
    hook, _ = await hooks.add_hook(
        db, BOX, url="http://127.0.0.1:9/", events="budget", thresholds=thresholds
    )
    return hook.id


async def _spend(db: Database, table: str, rid: int, remaining: str, used: str) -> None:
    column = "quota" if table == "tokens" else "balance"
    await db.execute(
        f"UPDATE {table} SET {column} = :r, used = :u WHERE id = :id",
        {"r": parse_usd(remaining), "u": parse_usd(used), "id": rid},
    )


async def _watch(db: Database, now: int = T0) -> int:
    standings = await load_standings(db, now)
    return await raise_budget_events(db, standings, await hooks.list_hooks(db), now, "UTC")


async def _events(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetch_all("SELECT dedupe_key, text FROM alert_events ORDER BY id")
    return [(row["dedupe_key"], row["text"]) for row in rows]


async def _audience(db: Database) -> list[tuple[str, int]]:
    rows = await db.fetch_all(
        "SELECT e.dedupe_key, d.hook_id FROM alert_deliveries d"
        " JOIN alert_events e ON e.id = d.event_id ORDER BY d.id"
    )
    return [(row["dedupe_key"], row["hook_id"]) for row in rows]


async def test_a_token_quota_crossing_is_raised_once_at_the_highest_threshold(
    db: Database,
) -> None:
    await _hook(db)
    token, _ = await make_caller(db, quota=10 * USD, balance=-1, name="ci")
    assert await _watch(db) == 0
    await _spend(db, "tokens", token.id, remaining="3.5", used="6.5")
    assert await _watch(db) == 1
    assert await _watch(db) == 0  # the next round, or another router: nothing new
    await _spend(db, "tokens", token.id, remaining="0.4", used="9.6")  # past 80 and 95 at once
    assert await _watch(db) == 1
    total = 10 * USD
    assert await _events(db) == [
        (
            f"budget:token:{token.id}:{total}:50",
            f"Token 'ci-key' (id {token.id}) passed 50% of its quota: 6.5 of 10 USD used.",
        ),
        (
            f"budget:token:{token.id}:{total}:95",
            f"Token 'ci-key' (id {token.id}) passed 95% of its quota: 9.6 of 10 USD used.",
        ),
    ]


async def test_money_held_in_leases_counts_toward_the_total_not_the_spend(db: Database) -> None:
    await _hook(db)
    token, _ = await make_caller(db, quota=10 * USD, balance=-1)
    await _spend(db, "tokens", token.id, remaining="1", used="4.9")
    await db.execute(
        "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
        " VALUES ('r1', 'token', :id, :x, :t)",
        {"id": token.id, "x": parse_usd("4.1"), "t": T0 + 60},
    )
    assert await _watch(db) == 0  # 4.9 of 10 spent: under 50 %
    await _spend(db, "tokens", token.id, remaining="0.9", used="5")
    assert await _watch(db) == 1
    assert (await _events(db))[0][0] == f"budget:token:{token.id}:{10 * USD}:50"


async def test_each_hook_hears_its_own_highest_threshold(db: Database) -> None:
    low, high = await _hook(db, "50"), await _hook(db, "80,100")
    token, _ = await make_caller(db, quota=10 * USD, balance=-1)
    await _spend(db, "tokens", token.id, remaining="1.5", used="8.5")
    assert await _watch(db) == 2
    prefix = f"budget:token:{token.id}:{10 * USD}"
    assert await _audience(db) == [(f"{prefix}:50", low), (f"{prefix}:80", high)]
    await _spend(db, "tokens", token.id, remaining="0", used="10")
    assert await _watch(db) == 1
    assert (await _audience(db))[-1] == (f"{prefix}:100", high)


async def test_a_top_up_re_arms_the_thresholds(db: Database) -> None:
    await _hook(db)
    _, user = await make_caller(db, quota=-1, balance=10 * USD, name="alice")
    await _spend(db, "users", user.id, remaining="1", used="9")
    assert await _watch(db) == 1
    await _spend(db, "users", user.id, remaining="11", used="9")  # 10 USD added: 45 % of 20
    assert await _watch(db) == 0
    await _spend(db, "users", user.id, remaining="9", used="11")
    assert await _watch(db) == 1
    assert [key for key, _ in await _events(db)] == [
        f"budget:user:{user.id}:{10 * USD}:80",
        f"budget:user:{user.id}:{20 * USD}:50",
    ]
    assert (await _events(db))[1][1] == (
        f"User 'alice' (id {user.id}) passed 50% of its balance: 11 of 20 USD used."
    )


async def test_unlimited_and_zero_limits_raise_nothing(db: Database) -> None:
    await _hook(db)
    await make_caller(db, quota=-1, balance=-1, name="free")
    await make_caller(db, quota=0, balance=-1, name="empty")
    assert await _watch(db) == 0


async def _window(
    db: Database, scope: str, scope_id: int, subject_id: int, *, period: str, model: str = ""
) -> int:
    budget_id = await db.fetch_value(
        "INSERT INTO budgets (scope, scope_id, model, period, amount, created_at, updated_at)"
        " VALUES (:s, :sid, :m, :p, :x, 0, 0) RETURNING id",
        {"s": scope, "sid": scope_id, "m": model, "p": period, "x": 20 * USD},
    )
    await db.execute(  # an ended window first: never watched
        "INSERT INTO budget_windows (budget_id, subject_id, seq, starts_at, ends_at, amount,"
        " remaining, used) VALUES (:b, :s, 1, :old, :start, :x, 0, :x)",
        {"b": budget_id, "s": subject_id, "old": T0 - 7200, "start": T0 - 3600, "x": 20 * USD},
    )
    return int(
        await db.fetch_value(
            "INSERT INTO budget_windows (budget_id, subject_id, seq, starts_at, ends_at, amount,"
            " remaining, used) VALUES (:b, :s, 2, :start, :end, :x, :r, :u) RETURNING id",
            {
                "b": budget_id,
                "s": subject_id,
                "start": T0 - 3600,
                "end": T0 + 3600 * 4,
                "x": 20 * USD,
                "r": 3 * USD,
                "u": 17 * USD,
            },
        )
    )


async def test_budget_windows_of_tokens_and_plans_cross_thresholds(db: Database) -> None:
    await _hook(db)
    token, user = await make_caller(db, quota=-1, balance=-1, name="bob")
    plan_id = await db.fetch_value(
        "INSERT INTO plans (name, created_at, updated_at) VALUES ('pro', 0, 0) RETURNING id"
    )
    own = await _window(db, "token", token.id, token.id, period="month")
    planned = await _window(db, "plan", plan_id, user.id, period="5h", model="gpt-4o")
    assert await _watch(db) == 2
    assert await _events(db) == [
        (
            f"budget:window:{own}:{20 * USD}:80",
            f"Token 'bob-key' (id {token.id}) passed 80% of its monthly budget: 17 of 20 USD"
            " used; it resets 2027-01-15 12:00 UTC.",
        ),
        (
            f"budget:window:{planned}:{20 * USD}:80",
            f"User 'bob' (id {user.id}) passed 80% of the 5-hour budget for gpt-4o of plan"
            " 'pro': 17 of 20 USD used; it resets 2027-01-15 12:00 UTC.",
        ),
    ]
    assert await _watch(db, T0 + 3600 * 4) == 0  # the windows ended


async def test_routers_watching_at_once_raise_each_crossing_once(connect: OpenDb) -> None:
    routers = [await connect() for _ in range(3)]
    await _hook(routers[0])
    token, _ = await make_caller(routers[0], quota=10 * USD, balance=-1)
    await _spend(routers[0], "tokens", token.id, remaining="1", used="9")
    raised = await asyncio.gather(*(_watch(db) for db in routers))
    assert sum(raised) == 1
    assert len(await _audience(routers[0])) == 1
