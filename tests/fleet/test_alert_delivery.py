"""Alerts across a fleet: two `burncloud router` processes on one PostgreSQL deliver each
event exactly once to a webhook that fails every event's first three attempts, signed;
and a router killed with an alert in flight delivers it after its restart.

Each router is its own machine as far as burncloud can tell (its own state file, its own
owner), retrying after 1 s, 2 s, 4 s (less jitter) and watching budgets every second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.services.alerts import hooks
from burncloud.services.alerts.events import UPSTREAM_BALANCE, Event
from burncloud.services.alerts.outbox import raise_alone
from tests.fakes import running_fake_openai
from tests.gateway.quota_db import _drop_schema, _new_schema, require_postgres
from tests.gateway.router_harness import SECRET, seed
from tests.gateway.router_process import router_process
from tests.services.alerts.receiver import WebhookReceiver, receiver_thread

pytestmark = [pytest.mark.fleet, pytest.mark.slow]
BOX = SecretBox.from_passphrase(SECRET)
HOOK_SECRET = "whsec_fleet-test-secret-value"
ALERT_ENV = {
    "BURNCLOUD_ALERT_POLL_SECONDS": "0.2",
    "BURNCLOUD_ALERT_RETRY_SECONDS": "1",
    "BURNCLOUD_ALERT_WATCH_SECONDS": "1",
    "BURNCLOUD_ALERT_TIMEOUT": "3",
}
WITHIN = 60.0  # seconds for every delivery to be done


@pytest.fixture
def pg_url() -> Iterator[str]:
    asyncio.run(require_postgres())
    url = asyncio.run(_new_schema())
    yield url
    asyncio.run(_drop_schema(url))


async def _sql(db_url: str, sql: str) -> list[dict]:
    db = await open_database(db_url)
    try:
        return await db.fetch_all(sql)
    finally:
        await db.close()


async def _add_hook(db_url: str, url: str, events: str) -> None:
    db = await open_database(db_url)
    try:
        await hooks.add_hook(db, BOX, url=url, events=events, secret=HOOK_SECRET)
    finally:
        await db.close()


async def _raise(db_url: str, count: int) -> None:
    """Events of a producer outside the routers (the upstream-balance kind has none yet)."""
    db = await open_database(db_url)
    try:
        for n in range(count):
            event = Event(UPSTREAM_BALANCE, f"upstream-balance:test:{n}", f"account {n} is low")
            await raise_alone(db, event, int(time.time()))
    finally:
        await db.close()


@contextmanager
def routers(db_url: str, tmp_path: Path, count: int) -> Iterator[list]:
    with ExitStack() as stack:
        started = []
        for i in range(count):
            env = {"BURNCLOUD_STATE_FILE": str(tmp_path / f"router{i}.state"), **ALERT_ENV}
            started.append(stack.enter_context(router_process(db_url, env=env)))
        yield started


def _wait_all_delivered(db_url: str, at_least: int) -> list[dict]:
    deadline = time.monotonic() + WITHIN
    while True:
        rows = asyncio.run(
            _sql(
                db_url,
                "SELECT d.*, e.kind, e.dedupe_key FROM alert_deliveries d"
                " JOIN alert_events e ON e.id = d.event_id ORDER BY d.id",
            )
        )
        if len(rows) >= at_least and all(row["status"] == "delivered" for row in rows):
            return rows
        assert time.monotonic() < deadline, [(r["dedupe_key"], r["status"]) for r in rows]
        time.sleep(0.2)


def _spend(base_url: str, key: str, count: int) -> None:
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    with httpx.Client(timeout=30) as http:
        for _ in range(count):
            answer = http.post(
                f"{base_url}/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 200, answer.text


def _assert_once_each(receiver: WebhookReceiver, rows: list[dict]) -> None:
    """Every event accepted exactly once, signed, and the receiver saw nothing else."""
    event_ids = {str(row["event_id"]) for row in rows}
    accepted = receiver.accepted
    assert set(accepted) == event_ids
    assert all(len(copies) == 1 and copies[0].signed for copies in accepted.values())


def test_two_routers_deliver_each_event_once_through_failures(pg_url: str, tmp_path: Path) -> None:
    with (
        running_fake_openai("sk-canary-upstream-key", completion_tokens=100) as fake,
        receiver_thread(secret=HOOK_SECRET, fail_first=3) as receiver,
    ):
        _, key = asyncio.run(seed(pg_url, fake, quota="0.05"))  # ~8 answers
        asyncio.run(_add_hook(pg_url, receiver.url, "budget,fleet,upstream-balance"))
        with routers(pg_url, tmp_path, 2) as fleet:
            asyncio.run(_raise(pg_url, 10))
            _spend(fleet[0][0], key, 3)
            _spend(fleet[1][0], key, 3)  # past 50 % of the quota: a budget alert
            rows = _wait_all_delivered(pg_url, at_least=13)
    kinds = sorted({row["kind"] for row in rows})
    assert kinds == ["budget", "fleet", "upstream-balance"]
    assert len([row for row in rows if row["kind"] == "fleet"]) == 2  # two routers joined
    assert all(row["attempts"] == 4 for row in rows)  # three refused, then accepted
    assert all(receiver.arrived[str(row["event_id"])] == 4 for row in rows)
    _assert_once_each(receiver, rows)
    events = asyncio.run(_sql(pg_url, "SELECT kind, COUNT(*) AS n FROM alert_events GROUP BY kind"))
    budget = [row["n"] for row in events if row["kind"] == "budget"]
    assert budget and budget[0] == len([row for row in rows if row["kind"] == "budget"])


@pytest.mark.faults
def test_an_alert_in_flight_when_its_router_is_killed_is_delivered_after_a_restart(
    pg_url: str, tmp_path: Path
) -> None:
    with receiver_thread(secret=HOOK_SECRET, hang_first=1) as receiver:
        asyncio.run(_add_hook(pg_url, receiver.url, "fleet,upstream-balance"))
        with routers(pg_url, tmp_path, 1) as [(_, process)]:
            deadline = time.monotonic() + 30
            while not receiver.arrived:  # the join event's first attempt hangs there
                assert time.monotonic() < deadline
                time.sleep(0.05)
            process.kill()
            process.wait()
        [held] = asyncio.run(_sql(pg_url, "SELECT * FROM alert_deliveries"))
        assert (held["status"], held["attempts"]) == ("pending", 1)
        assert held["claimed_by"] is not None  # claimed by the dead router
        asyncio.run(_raise(pg_url, 1))  # raised while no router runs
        with routers(pg_url, tmp_path, 1):
            rows = _wait_all_delivered(pg_url, at_least=3)
    assert [(row["kind"], row["attempts"]) for row in rows] == [
        ("fleet", 2),  # the claim expired and the restarted router took it again
        ("upstream-balance", 1),
        ("fleet", 1),  # the restarted router joined (on a new port: as a new router)
    ]
    _assert_once_each(receiver, rows)
