"""The background prober: re-enables recovered keys (and their channels), never
operator-disabled ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.gateway.upkeep.prober import Prober
from burncloud.services import channels
from burncloud.services.channel_health import auto_disable
from burncloud.services.channel_keys import list_keys
from burncloud.services.channels import Channel

BOX = SecretBox.from_passphrase("test-secret")


class FakeClock:
    """A monotonic clock moved only by ``ManualSleep`` and by probes."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ManualSleep:
    """The prober's sleep: records each delay, and returns (moving the clock by the delay)
    only when the test runs a round."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []
        self._asleep = asyncio.Event()
        self._go = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self._asleep.set()
        await self._go.wait()
        self._go.clear()
        self.clock.now += delay

    async def asleep(self) -> None:
        """Wait until the prober sleeps."""
        async with asyncio.timeout(10):  # a guard against a hung test, not a timing wait
            await self._asleep.wait()

    async def wake(self) -> None:
        """Wait until the prober sleeps, then let it start a round."""
        await self.asleep()
        self._asleep.clear()
        self._go.set()

    async def run_round(self) -> None:
        """Let the prober run one round and wait until it sleeps again."""
        await self.wake()
        await self.asleep()


class Upstreams:
    """The probe function: per channel name, a verdict or an exception; records calls."""

    def __init__(self, **verdicts: bool | Exception) -> None:
        self.verdicts = verdicts
        self.probed: list[str] = []

    async def __call__(self, channel: Channel, key_id: int) -> bool:
        self.probed.append(channel.name)
        verdict = self.verdicts[channel.name]
        if isinstance(verdict, Exception):
            raise verdict
        return verdict


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep(clock: FakeClock) -> ManualSleep:
    return ManualSleep(clock)


@pytest.fixture
async def running() -> AsyncIterator[list[Prober]]:
    """Probers the test started; stopped at the end whatever happens."""
    started: list[Prober] = []
    yield started
    for prober in started:
        await prober.stop()


async def add(db: Database, name: str, state: str = "auto_disabled") -> int:
    """A channel in ``state``: enabled, auto_disabled (by a health check) or disabled."""
    ch = await channels.add_channel(
        db, BOX, type="openai", name=name, key="sk-upstream-0001", models=["m"]
    )
    if state == "auto_disabled":
        (key,) = await list_keys(db, ch.id)
        assert await auto_disable(db, ch.id, key.id, f"{name}: 401 invalid key")
    elif state == "disabled":
        await channels.disable_channel(db, ch.id, "operator")
    return ch.id


async def statuses(db: Database) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.status_reason) for c in await channels.list_channels(db)}


async def start(
    running: list[Prober],
    db: Database,
    probe: Callable[[Channel, int], Any],
    clock: FakeClock,
    sleep: ManualSleep,
    **options: Any,
) -> Prober:
    prober = Prober(db, probe, interval=60.0, clock=clock, sleep=sleep, **options)
    running.append(prober)
    await prober.start()
    return prober


async def test_a_round_re_enables_the_recovered_and_keeps_the_failing(db: Database) -> None:
    ids = {name: await add(db, name, state) for name, state in [
        ("recovered", "auto_disabled"),
        ("failing", "auto_disabled"),
        ("operator", "disabled"),
        ("healthy", "enabled"),
    ]}  # fmt: skip
    upstreams = Upstreams(recovered=True, failing=False, operator=True, healthy=True)
    assert await Prober(db, upstreams).probe_once() == [ids["recovered"]]
    assert sorted(upstreams.probed) == ["failing", "recovered"]
    assert await statuses(db) == {
        "recovered": ("enabled", ""),
        "failing": ("auto_disabled", "failing: 401 invalid key"),
        "operator": ("disabled", "operator"),
        "healthy": ("enabled", ""),
    }
    rows = await db.fetch_all("SELECT channel_id, enabled FROM abilities ORDER BY channel_id")
    assert [(r["channel_id"], r["enabled"]) for r in rows] == [
        (ids["recovered"], 1),
        (ids["failing"], 0),
        (ids["operator"], 0),
        (ids["healthy"], 1),
    ]


async def test_the_loop_probes_every_interval(
    db: Database, clock: FakeClock, sleep: ManualSleep, running: list[Prober]
) -> None:
    await add(db, "flaky")
    upstreams = Upstreams(flaky=False)
    await start(running, db, upstreams, clock, sleep)
    await sleep.run_round()
    assert upstreams.probed == ["flaky"]
    assert (await statuses(db))["flaky"][0] == "auto_disabled"
    upstreams.verdicts["flaky"] = True
    await sleep.run_round()
    assert upstreams.probed == ["flaky", "flaky"]
    assert (await statuses(db))["flaky"] == ("enabled", "")
    await sleep.run_round()
    assert upstreams.probed == ["flaky", "flaky"]  # nothing left to probe
    assert sleep.delays == [60.0, 60.0, 60.0, 60.0]


async def test_rounds_keep_their_cadence_and_an_overrun_waits_a_full_interval(
    db: Database, clock: FakeClock, sleep: ManualSleep, running: list[Prober]
) -> None:
    await add(db, "slow")
    took = [10.0, 150.0]

    async def slow_probe(channel: Channel, key_id: int) -> bool:
        clock.now += took.pop(0)
        return False

    await start(running, db, slow_probe, clock, sleep)
    await sleep.run_round()
    await sleep.run_round()
    assert sleep.delays == [60.0, 50.0, 60.0]


async def test_a_probe_that_raises_or_hangs_costs_only_its_channel(
    db: Database,
    clock: FakeClock,
    sleep: ManualSleep,
    running: list[Prober],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = {name: await add(db, name) for name in ("broken", "hung", "fine")}
    never = asyncio.Event()

    async def probe(channel: Channel, key_id: int) -> bool:
        if channel.name == "broken":
            raise RuntimeError("probe blew up")
        if channel.name == "hung":
            await never.wait()
        return True

    with caplog.at_level(logging.ERROR, logger="burncloud.prober"):
        await start(running, db, probe, clock, sleep, timeout=0)
        await sleep.run_round()
    assert await statuses(db) == {
        "broken": ("auto_disabled", "broken: 401 invalid key"),
        "hung": ("auto_disabled", "hung: 401 invalid key"),
        "fine": ("enabled", ""),
    }
    failures = {r.getMessage(): type(r.exc_info[1]) for r in caplog.records if r.exc_info}
    assert failures == {
        f"probing channel {ids['broken']} (broken) key {ids['broken']} failed": RuntimeError,
        f"probing channel {ids['hung']} (hung) key {ids['hung']} failed": TimeoutError,
    }
    never.set()
    await sleep.run_round()  # the loop survived: the hung channel answers now
    assert (await statuses(db))["hung"] == ("enabled", "")


async def test_a_failed_listing_is_retried_next_round(
    db: Database,
    clock: FakeClock,
    sleep: ManualSleep,
    running: list[Prober],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add(db, "down")
    flaky_db: Any = FlakyListing(db)
    with caplog.at_level(logging.ERROR, logger="burncloud.prober"):
        await start(running, flaky_db, Upstreams(down=True), clock, sleep)
        await sleep.run_round()
    assert (await statuses(db))["down"][0] == "auto_disabled"
    assert [r.getMessage() for r in caplog.records] == [
        "listing auto-disabled channels failed; trying again next round"
    ]
    await sleep.run_round()
    assert (await statuses(db))["down"] == ("enabled", "")


class FlakyListing:
    """The database, but its first SELECT fails as if the connection dropped."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._failed = False

    async def fetch_all(self, sql: str, params: Any = None) -> Any:
        if not self._failed:
            self._failed = True
            raise ConnectionError("the database went away")
        return await self._db.fetch_all(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


async def test_at_most_four_probes_run_at_once(db: Database) -> None:
    names = [f"c{i}" for i in range(6)]
    for name in names:
        await add(db, name)
    in_flight, peak, gate, four_in = 0, 0, asyncio.Event(), asyncio.Event()

    async def probe(channel: Channel, key_id: int) -> bool:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 4:
            four_in.set()
        await gate.wait()
        in_flight -= 1
        return True

    round_ = asyncio.create_task(Prober(db, probe).probe_once())
    await four_in.wait()
    for _ in range(20):
        await asyncio.sleep(0)  # give a fifth probe every chance to start
    assert in_flight == 4
    gate.set()
    assert len(await round_) == 6
    assert peak == 4


async def test_an_operator_disabling_during_the_probe_wins(db: Database) -> None:
    channel_id = await add(db, "contested")

    async def probe(channel: Channel, key_id: int) -> bool:
        await channels.disable_channel(db, channel.id, "operator pulled it")
        return True

    assert await Prober(db, probe).probe_once() == []
    assert (await statuses(db))["contested"] == ("disabled", "operator pulled it")
    assert (await channels.get_channel(db, channel_id)).status == "disabled"


async def test_stop_cancels_an_in_flight_probe_and_waits_for_it(
    db: Database, clock: FakeClock, sleep: ManualSleep
) -> None:
    await add(db, "slow")
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def probe(channel: Channel, key_id: int) -> bool:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return True

    prober = Prober(db, probe, clock=clock, sleep=sleep)
    await prober.stop()  # before start: nothing to do
    await prober.start()
    await prober.start()  # a second start does not start a second task
    assert sum(t.get_name() == "channel prober" for t in asyncio.all_tasks()) == 1
    await sleep.wake()
    await started.wait()
    await prober.stop()
    assert cancelled.is_set()
    assert not any(t.get_name() == "channel prober" for t in asyncio.all_tasks())
    await prober.stop()
    assert (await statuses(db))["slow"][0] == "auto_disabled"


async def test_stop_while_sleeping(db: Database, clock: FakeClock, sleep: ManualSleep) -> None:
    upstreams = Upstreams()
    prober = Prober(db, upstreams, clock=clock, sleep=sleep)
    await prober.start()
    await sleep.asleep()
    await prober.stop()
    assert not any(t.get_name() == "channel prober" for t in asyncio.all_tasks())
    assert upstreams.probed == []
