"""The outbox: one event per dedupe key however many routers raise it, one delivery per
hook that wants it, one sender per delivery at a time, retries with backoff for a day."""

from __future__ import annotations

import asyncio

import pytest

from burncloud.db import Database
from burncloud.services.alerts import hooks
from burncloud.services.alerts.events import Event
from burncloud.services.alerts.outbox import (
    DAY,
    KEEP_EVENTS,
    MAX_BACKOFF,
    Outcome,
    backoff,
    claim_delivery,
    claim_due,
    finish,
    has_due,
    prune_events,
    raise_alone,
)
from tests.gateway.quota_db import OpenDb
from tests.services.alerts.conftest import BOX, T0

HOLD = 30


def _event(n: int = 1, kind: str = "fleet") -> Event:
    return Event(kind, f"{kind}:{n}", f"event {n}", {"n": n})


async def _hook(db: Database, events: str = "fleet") -> int:
    hook, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/hook", events=events)
    return hook.id


async def _deliveries(db: Database) -> list[dict]:
    return await db.fetch_all("SELECT * FROM alert_deliveries ORDER BY id")


async def test_an_event_gets_one_delivery_per_hook_that_wants_it(db: Database) -> None:
    fleet, both = await _hook(db, "fleet"), await _hook(db, "fleet,budget")
    await _hook(db, "budget")
    event_id = await raise_alone(db, _event(), T0)
    assert event_id is not None
    rows = await _deliveries(db)
    assert [(r["event_id"], r["hook_id"]) for r in rows] == [(event_id, fleet), (event_id, both)]
    assert {(r["status"], r["attempts"], r["next_attempt_at"]) for r in rows} == {
        ("pending", 0, T0)
    }
    assert {r["give_up_at"] for r in rows} == {T0 + DAY}
    event = await db.fetch_one("SELECT * FROM alert_events")
    assert event is not None
    assert (event["kind"], event["dedupe_key"], event["text"], event["data"]) == (
        "fleet",
        "fleet:1",
        "event 1",
        '{"n":1}',
    )


async def test_an_event_is_recorded_even_when_no_hook_wants_it(db: Database) -> None:
    assert await raise_alone(db, _event(), T0) is not None
    assert await _deliveries(db) == []
    assert await raise_alone(db, _event(), T0 + 60) is None  # the crossing is remembered


async def test_routers_raising_the_same_event_at_once_make_one(connect: OpenDb) -> None:
    routers = [await connect() for _ in range(4)]
    await _hook(routers[0])
    raised = await asyncio.gather(*(raise_alone(db, _event(), T0) for db in routers))
    assert len([event_id for event_id in raised if event_id is not None]) == 1
    assert await routers[0].fetch_value("SELECT COUNT(*) FROM alert_events") == 1
    assert len(await _deliveries(routers[0])) == 1


async def test_concurrent_claimers_never_claim_the_same_delivery(connect: OpenDb) -> None:
    first, second = await connect(), await connect()
    await _hook(first)
    for n in range(30):
        await raise_alone(first, _event(n), T0)
    claims = await asyncio.gather(
        *(claim_due(db, f"router-{i % 2}", T0, HOLD, 7) for i, db in enumerate([first, second] * 3))
    )
    ids = [due.id for claim in claims for due in claim]
    assert len(ids) == len(set(ids))
    rows = await _deliveries(first)
    assert {r["claimed_by"] for r in rows if r["id"] in ids} <= {"router-0", "router-1"}
    assert all(r["attempts"] == (1 if r["id"] in ids else 0) for r in rows)
    rest = await claim_due(first, "router-0", T0, HOLD, 100)
    assert len(ids) + len(rest) == 30
    assert not await has_due(first, T0)


async def test_a_claim_of_a_dead_router_expires_and_is_taken_again(db: Database) -> None:
    await _hook(db)
    await raise_alone(db, _event(), T0)
    [due] = await claim_due(db, "dead", T0, HOLD, 10)
    assert (due.attempts, due.event.text, due.hook["format"]) == (1, "event 1", "json")
    assert await claim_due(db, "alive", T0 + HOLD, HOLD, 10) == []
    [again] = await claim_due(db, "alive", T0 + HOLD + 1, HOLD, 10)
    assert (again.id, again.attempts) == (due.id, 2)


async def test_a_failed_attempt_is_retried_with_backoff_then_given_up(db: Database) -> None:
    await _hook(db)
    await raise_alone(db, _event(), T0)
    now, waits = T0, []
    while True:
        [due] = await claim_due(db, "me", now, HOLD, 10)
        status = await finish(db, due, Outcome(False, 500, "HTTP 500"), "me", now, 30, lambda: 1.0)
        row = (await _deliveries(db))[0]
        if status == "failed":
            break
        waits.append(row["next_attempt_at"] - now)
        assert not await has_due(db, row["next_attempt_at"] - 1)
        now = row["next_attempt_at"]
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, MAX_BACKOFF]
    assert now == T0 + DAY  # the last attempt, at the day's end
    assert (row["status"], row["finished_at"], row["last_status"], row["last_error"]) == (
        "failed",
        T0 + DAY,
        500,
        "HTTP 500",
    )
    assert row["attempts"] == len(waits) + 1


async def test_a_delivered_delivery_is_marked_once_whoever_reports_late(db: Database) -> None:
    await _hook(db)
    await raise_alone(db, _event(), T0)
    [slow] = await claim_due(db, "slow", T0, HOLD, 10)
    [fast] = await claim_due(db, "fast", T0 + HOLD + 1, HOLD, 10)  # slow's claim expired
    assert await finish(db, fast, Outcome(True, 204), "fast", T0 + HOLD + 2, 30) == "delivered"
    await finish(db, slow, Outcome(False, None, "timed out"), "slow", T0 + HOLD + 3, 30)
    row = (await _deliveries(db))[0]
    assert (row["status"], row["last_status"], row["last_error"], row["claimed_by"]) == (
        "delivered",
        204,
        "",
        None,
    )
    assert await claim_due(db, "late", T0 + DAY, HOLD, 10) == []


async def test_claiming_one_delivery_skips_a_claimed_or_finished_one(db: Database) -> None:
    await _hook(db)
    await raise_alone(db, _event(), T0)
    delivery_id = (await _deliveries(db))[0]["id"]
    async with db.transaction() as tx:
        due = await claim_delivery(tx, delivery_id, "cli", T0, HOLD)
    assert due is not None and due.id == delivery_id
    async with db.transaction() as tx:
        assert await claim_delivery(tx, delivery_id, "router", T0 + 1, HOLD) is None


@pytest.mark.parametrize("attempts", [1, 2, 5, 9, 40, 10_000])
def test_backoff_doubles_up_to_an_hour_and_jitter_takes_off_at_most_half(attempts: int) -> None:
    full = min(30 * 2 ** min(attempts - 1, 32), MAX_BACKOFF)
    assert backoff(attempts, 30, lambda: 1.0) == full
    assert backoff(attempts, 30, lambda: 0.0) == full // 2
    assert full // 2 <= backoff(attempts, 30) <= full


async def test_old_finished_events_are_pruned_and_pending_ones_kept(db: Database) -> None:
    await _hook(db)
    await raise_alone(db, _event(1), T0)
    await raise_alone(db, _event(2), T0)
    [done, _] = await claim_due(db, "me", T0, HOLD, 10)
    await finish(db, done, Outcome(True, 200), "me", T0, 30)
    assert await prune_events(db, T0 + KEEP_EVENTS) == 0
    assert await prune_events(db, T0 + KEEP_EVENTS + 1) == 1
    left = await db.fetch_all(
        "SELECT e.dedupe_key, d.status FROM alert_events e"
        " JOIN alert_deliveries d ON d.event_id = e.id"
    )
    assert left == [{"dedupe_key": "fleet:2", "status": "pending"}]
