"""The background-loop helper: cadence on a fake clock, failures, triggers and stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from burncloud.gateway.periodic import Failure, Interval, Periodic

log = logging.getLogger("burncloud.test.periodic")
GUARD = 10  # seconds: a hung test fails instead of hanging; never a timing assertion


class FakeTime:
    """The loop's clock and sleep. A sleep records its delay and returns (moving the clock
    by it) only when the test calls ``elapse``."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.delays: list[float] = []
        self._sleeping: asyncio.Future[None] | None = None
        self._changed = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self._sleeping = asyncio.get_running_loop().create_future()
        self._changed.set()
        try:
            await self._sleeping
        finally:
            self._sleeping = None
        self.now += delay

    async def asleep(self) -> None:
        """Until the loop sleeps."""
        async with asyncio.timeout(GUARD):
            while self._sleeping is None:
                self._changed.clear()
                await self._changed.wait()

    async def elapse(self) -> None:
        """Let the loop's sleep run out, and wait until it sleeps again."""
        await self.asleep()
        sleeping = self._sleeping
        assert sleeping is not None
        sleeping.set_result(None)
        async with asyncio.timeout(GUARD):
            while self._sleeping is None or self._sleeping is sleeping:
                self._changed.clear()
                await self._changed.wait()


class Body:
    """A body that counts its runs; it can fail, take clock time, or block until released."""

    def __init__(self, time: FakeTime | None = None) -> None:
        self.runs = 0
        self.fail_next = 0
        self.takes = 0.0
        self.time = time
        self.gate: asyncio.Event | None = None  # set: runs wait for it
        self.inside = asyncio.Event()
        self.finished = 0
        self.cancelled = 0
        self._finishing = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        self.inside.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.inside.clear()
        if self.time is not None:
            self.time.now += self.takes
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError(f"run {self.runs} failed")
        self.finished += 1
        self._finishing.set()

    async def entered(self) -> None:
        async with asyncio.timeout(GUARD):
            await self.inside.wait()

    async def until_finished(self, runs: int) -> None:
        async with asyncio.timeout(GUARD):
            while self.finished < runs:
                self._finishing.clear()
                await self._finishing.wait()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def loops() -> AsyncIterator[list[Periodic]]:
    """Loops the test made; stopped at the end whatever happens."""
    made: list[Periodic] = []
    yield made
    for loop in made:
        await loop.stop()


def make(
    loops: list[Periodic],
    body: Body,
    time: FakeTime,
    interval: Interval = 10.0,
    failure: Failure | None = None,
    **options: bool,
) -> Periodic:
    loop = Periodic(
        "test loop",
        body,
        interval=interval,
        failure=failure or Failure(log, "the test body failed"),
        clock=time.clock,
        sleep=time.sleep,
        **options,
    )
    loops.append(loop)
    return loop


def named(name: str) -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == name]


async def test_runs_every_interval_counted_from_the_end_of_the_last_run(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    body.takes = 3.0
    make(loops, body, time).start()
    await time.elapse()
    await time.elapse()
    assert body.runs == 2
    assert time.delays == [10.0, 10.0, 10.0]  # the first run one interval after start
    assert time.now == 1026.0


async def test_from_start_keeps_the_cadence_and_an_overrun_waits_a_full_interval(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    make(loops, body, time, interval=60.0, from_start=True).start()
    body.takes = 10.0
    await time.elapse()
    body.takes = 150.0
    await time.elapse()
    assert time.delays == [60.0, 50.0, 60.0]


async def test_run_at_start_runs_at_once(loops: list[Periodic], time: FakeTime) -> None:
    body = Body(time)
    make(loops, body, time, run_at_start=True).start()
    await time.asleep()
    assert body.runs == 1 and time.delays == [10.0]


async def test_the_interval_is_read_before_each_wait(loops: list[Periodic], time: FakeTime) -> None:
    intervals = iter([1.0, 2.0, 3.0])
    body = Body(time)
    make(loops, body, time, interval=lambda: next(intervals)).start()
    await time.elapse()
    await time.elapse()
    assert time.delays == [1.0, 2.0, 3.0]


async def test_a_failing_run_is_logged_each_time_and_the_loop_goes_on(
    loops: list[Periodic], time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    body = Body(time)
    body.fail_next = 2
    loop = make(loops, body, time)
    with caplog.at_level(logging.ERROR, logger=log.name):
        loop.start()
        await time.elapse()
        await time.elapse()
        assert loop.failures == 2
        await time.elapse()
    assert loop.failures == 0 and body.finished == 1
    assert [(r.getMessage(), str(r.exc_info[1])) for r in caplog.records if r.exc_info] == [
        ("the test body failed", "run 1 failed"),
        ("the test body failed", "run 2 failed"),
    ]
    assert time.delays == [10.0] * 4


async def test_only_the_first_failure_of_a_streak_is_logged_when_asked(
    loops: list[Periodic], time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    body = Body(time)
    body.fail_next = 3
    loop = make(loops, body, time, failure=Failure(log, "upkeep failed", every_time=False))
    with caplog.at_level(logging.ERROR, logger=log.name):
        loop.start()
        for _ in range(4):
            await time.elapse()
        body.fail_next = 1  # a new streak after the success
        await time.elapse()
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == [
        "run 1 failed",
        "run 5 failed",
    ]


async def test_failures_back_off_and_a_trigger_does_not_cut_the_backoff_short(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    body.fail_next = 2
    backoff = Failure(log, "flush failed", backoff=lambda failures: 2.0**failures)
    loop = make(loops, body, time, failure=backoff)
    loop.start()
    await time.elapse()  # run 1 fails
    loop.run_now()  # during the backoff: remembered, not cutting it short
    await time.asleep()
    assert body.runs == 1
    await time.elapse()  # run 2 fails
    await time.elapse()  # run 3 succeeds
    assert time.delays == [10.0, 2.0, 4.0, 10.0]
    assert body.runs == 3 and body.finished == 1


async def test_run_now_cuts_a_wait_short(loops: list[Periodic], time: FakeTime) -> None:
    body = Body(time)
    loop = make(loops, body, time)
    loop.start()
    await time.asleep()
    loop.run_now()
    await body.entered()
    await time.asleep()  # waiting again: a full interval
    assert body.runs == 1 and time.delays == [10.0, 10.0] and time.now == 1000.0


async def test_run_now_during_a_run_runs_again_right_after(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    body.gate = asyncio.Event()
    loop = make(loops, body, time, interval=None)
    loop.start()
    loop.run_now()
    await body.entered()
    loop.run_now()
    body.gate.set()
    await body.until_finished(2)
    assert body.runs == 2 and time.delays == []  # no interval: only when asked


async def test_run_now_before_start_is_kept(loops: list[Periodic], time: FakeTime) -> None:
    body = Body(time)
    loop = make(loops, body, time, interval=None)
    loop.run_now()
    loop.start()
    await body.entered()
    assert body.runs == 1


async def test_stop_cancels_a_run_and_leaves_no_task(loops: list[Periodic], time: FakeTime) -> None:
    body = Body(time)
    body.gate = asyncio.Event()
    loop = make(loops, body, time, run_at_start=True)
    loop.start()
    loop.start()  # no second task
    assert len(named("test loop")) == 1
    await body.entered()
    await loop.stop()
    assert body.cancelled == 1 and body.finished == 0
    assert named("test loop") == []
    await loop.stop()  # twice: nothing to do


async def test_stop_lets_a_run_finish_when_asked_and_runs_nothing_after(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    body.gate = asyncio.Event()
    loop = make(loops, body, time, run_at_start=True, cancel_on_stop=False)
    loop.start()
    await body.entered()
    loop.run_now()  # would run again, but the stop comes first
    stopping = asyncio.create_task(loop.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the run
    body.gate.set()
    await stopping
    assert body.cancelled == 0 and body.finished == 1 and body.runs == 1
    assert named("test loop") == []


@pytest.mark.parametrize("cancel_on_stop", [True, False])
async def test_stop_during_a_wait_ends_it_at_once(
    loops: list[Periodic], time: FakeTime, cancel_on_stop: bool
) -> None:
    body = Body(time)
    loop = make(loops, body, time, interval=3600.0, cancel_on_stop=cancel_on_stop)
    before = asyncio.all_tasks()
    loop.start()
    await time.asleep()
    tasks_waiting = asyncio.all_tasks() - before
    assert len(tasks_waiting) == 2  # the loop and its wait
    await loop.stop()
    assert body.runs == 0
    assert all(task.done() for task in tasks_waiting)  # the wait's own task too


async def test_a_body_that_swallows_the_cancellation_still_stops(
    loops: list[Periodic], time: FakeTime
) -> None:
    """As redis-py's commands can on Python 3.11: the cancel is lost, the run returns."""
    entered = asyncio.Event()

    async def swallowing() -> None:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # the library lost the cancel
            await asyncio.Event().wait()

    loop = Periodic(
        "swallowing",
        swallowing,
        interval=10.0,
        failure=Failure(log, "failed"),
        run_at_start=True,
        clock=time.clock,
        sleep=time.sleep,
    )
    loops.append(loop)
    loop.start()
    async with asyncio.timeout(GUARD):
        await entered.wait()
        await loop.stop()
    assert named("swallowing") == [] and time.delays == []


async def test_a_cancelled_caller_of_stop_sees_its_cancellation(
    loops: list[Periodic], time: FakeTime
) -> None:
    body = Body(time)
    body.gate = asyncio.Event()
    loop = make(loops, body, time, run_at_start=True, cancel_on_stop=False)
    loop.start()
    await body.entered()
    stopping = asyncio.create_task(loop.stop())
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert named("test loop") == []


async def test_a_stopped_loop_starts_again(loops: list[Periodic], time: FakeTime) -> None:
    body = Body(time)
    loop = make(loops, body, time, run_at_start=True)
    loop.start()
    await time.asleep()
    await loop.stop()
    loop.start()
    await time.elapse()
    assert body.runs == 3
