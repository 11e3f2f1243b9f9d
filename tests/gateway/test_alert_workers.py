"""The alert workers: the sender's rounds, the watcher's one round per fleet, the router's
presence, and a running router that delivers its alerts without a slow webhook ever
slowing a request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database, open_database
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.upkeep.alert_presence import RouterPresence
from burncloud.gateway.upkeep.alert_sender import AlertSender
from burncloud.gateway.upkeep.alert_watcher import AlertWatcher
from burncloud.money import parse_usd
from burncloud.services.alerts import hooks
from burncloud.services.alerts.events import Event
from burncloud.services.alerts.forecasts import FormatRunway, Runways
from burncloud.services.alerts.outbox import raise_alone
from burncloud.services.channels import update_channel
from tests.fakes import FakeOpenAI
from tests.gateway.quota_db import make_caller
from tests.gateway.router_harness import SECRET, seed, serving
from tests.services.alerts.receiver import WebhookReceiver

BOX = SecretBox.from_passphrase(SECRET)
T0 = 1_800_000_000
HOOK_SECRET = "whsec_worker-test-secret"
GUARD = 15  # seconds: a hung test fails instead of hanging


class Pause:
    """A worker's sleep: notes each round's end, then waits until cancelled."""

    def __init__(self) -> None:
        self.rounds = 0
        self.ended = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.rounds += 1
        self.ended.set()
        await asyncio.get_running_loop().create_future()


async def _until(check: Callable[[], Awaitable[bool]], within: float = GUARD) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "still not true"
        await asyncio.sleep(0.05)


async def test_a_sender_delivers_what_is_due_as_it_starts(db: Database) -> None:
    async with WebhookReceiver(secret=HOOK_SECRET) as receiver:
        await hooks.add_hook(db, BOX, url=receiver.url, events="fleet", secret=HOOK_SECRET)
        for n in range(3):
            await raise_alone(db, Event("fleet", f"fleet:{n}", f"event {n}"), int(time.time()))
        pause = Pause()
        sender = AlertSender(
            db,
            BOX,
            "router-a",
            poll=5,
            timeout=2,
            retry_base=1,
            allow_private=False,
            check_url=None,
            sleep=pause,
        )
        await sender.start()
        try:
            async with asyncio.timeout(GUARD):
                await pause.ended.wait()
        finally:
            await sender.stop()
        assert sorted(receiver.accepted) == ["1", "2", "3"]
        assert all(r.signed for r in receiver.received)
        assert await sender.send_once() == []  # nothing left (and the closed session unused)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "burncloud-alert-sender"]


async def test_one_watcher_of_the_fleet_runs_each_round(db: Database) -> None:
    await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/", events="budget")
    token, _ = await make_caller(db, quota=parse_usd("10"), balance=-1)
    await db.execute("UPDATE tokens SET quota = 0, used = :u", {"u": parse_usd("10")})
    clock = [T0]
    routers = [  # two routers: each its own shared state
        AlertWatcher(
            db, LocalState(), interval=60, timezone="UTC", error_rate=20, clock=lambda: clock[0]
        )
        for _ in range(2)
    ]
    assert [await w.fleet_round() for w in routers] == [True, False]
    clock[0] += 29
    assert [await w.fleet_round() for w in reversed(routers)] == [False, False]
    clock[0] += 1  # half an interval on: the next round, for whoever asks first
    assert [await w.fleet_round() for w in reversed(routers)] == [True, False]
    keys = await db.fetch_all("SELECT dedupe_key FROM alert_events")
    assert keys == [{"dedupe_key": f"budget:token:{token.id}:{parse_usd('10')}:100"}]


async def test_a_failing_check_leaves_the_others_running(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/", events="budget,forecast")
    await make_caller(db, quota=parse_usd("10"), balance=-1)
    await db.execute("UPDATE tokens SET quota = 0, used = :u", {"u": parse_usd("10")})

    def broken_forecast() -> tuple[Runways, FormatRunway]:
        raise RuntimeError("forecast unavailable")

    watcher = AlertWatcher(
        db, LocalState(), interval=60, timezone="UTC", error_rate=20, forecasts=broken_forecast
    )
    with caplog.at_level(logging.ERROR, logger="burncloud.alerts"):
        await watcher.watch_once(T0)
    assert "watching forecasts for alerts failed" in caplog.text
    assert await db.fetch_value("SELECT COUNT(*) FROM alert_events") == 1  # the budget one


async def test_a_router_joins_as_it_starts_and_leaves_as_it_stops(db: Database) -> None:
    pause = Pause()
    presence = RouterPresence(db, LocalState(), "host:3000", clock=lambda: T0, sleep=pause)
    assert await presence.start()
    async with asyncio.timeout(GUARD):
        await pause.ended.wait()  # the first heartbeat
    assert await presence.stop()
    rows = await db.fetch_all("SELECT text FROM alert_events ORDER BY id")
    assert [row["text"] for row in rows] == [
        "Router host:3000 joined the fleet.",
        "Router host:3000 left the fleet: it stopped.",
    ]


async def _router_db(url: str, fake: FakeOpenAI, receiver: WebhookReceiver) -> str:
    """Seed a router database whose channel has a wrong key, with an alert to ``receiver``;
    a relay key."""
    _, key = await seed(url, fake)
    db = await open_database(url)
    try:
        await update_channel(db, BOX, 1, key="sk-wrong-key-for-the-fake-0001")
        await hooks.add_hook(
            db, BOX, url=receiver.url, events="channel-disabled,fleet", secret=HOOK_SECRET
        )
    finally:
        await db.close()
    return key


async def test_a_router_delivers_its_channel_and_fleet_alerts(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake, WebhookReceiver(secret=HOOK_SECRET) as receiver:
        url = f"sqlite:///{tmp_path}/router.db"
        key = await _router_db(url, fake, receiver)
        async with serving(url, alert_poll_seconds=0.05) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                answer = await http.post(
                    "/chat/completions",
                    json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"Authorization": f"Bearer {key}"},
                )
            assert answer.status_code >= 400

            async def both_delivered() -> bool:
                kinds = {r.event for r in receiver.received if r.answered == 200}
                return kinds == {"fleet", "channel-disabled"}

            await _until(both_delivered)
    texts = [r.json()["text"] for r in receiver.received]
    assert any(
        text.startswith("Channel 'fake' (id 1, openai) was auto-disabled: ") for text in texts
    )
    assert all(r.signed for r in receiver.received)


async def test_a_hanging_webhook_never_slows_a_request(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake, WebhookReceiver(hang_first=1000) as receiver:
        url = f"sqlite:///{tmp_path}/router.db"
        _, key = await seed(url, fake)
        db = await open_database(url)
        try:
            await hooks.add_hook(db, BOX, url=receiver.url, events="fleet", format="slack")
            for n in range(20):
                await raise_alone(db, Event("fleet", f"fleet:{n}", f"event {n}"), int(time.time()))
        finally:
            await db.close()
        async with serving(url, alert_poll_seconds=0.05, alert_timeout=5.0) as base_url:
            await _until(lambda: _true(sum(receiver.arrived.values()) >= 16))
            took = []
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                for _ in range(20):
                    started = time.monotonic()
                    answer = await http.post(
                        "/chat/completions",
                        json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    took.append(time.monotonic() - started)
                    assert answer.status_code == 200
            assert receiver.received == []  # every delivery was still hanging meanwhile
    assert max(took) < 1.0, took


async def _true(value: bool) -> bool:
    return value
