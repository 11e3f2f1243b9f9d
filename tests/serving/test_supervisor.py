"""The supervisor's policy, with stand-in workers (tests/serving/fake_worker.py) that start
in milliseconds: replacing a dead worker, startup failures, the stop and its deadline."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from burncloud.serving.listener import open_listener
from burncloud.serving.supervisor import Supervisor, Timing, describe_exit, startup_retry_delay
from tests.serving.fake_worker import REASON

FAKE_WORKER = str(Path(__file__).with_name("fake_worker.py"))
FAST = Timing(startup_attempts=3, first_retry_delay=0.01, stop_margin=0.2)


class Fakes:
    """What the next stand-in worker does (a file it reads when it starts)."""

    def __init__(self, folder: Path, mode: str) -> None:
        self.mode_file = folder / "mode"
        self.set(mode)

    def set(self, mode: str) -> None:
        self.mode_file.write_text(mode)

    def command(self, _listen_fd: int, report_fd: int) -> list[str]:
        return [sys.executable, FAKE_WORKER, str(self.mode_file), str(report_fd)]


@asynccontextmanager
async def supervising(
    fakes: Fakes, count: int = 1, metrics: Path | None = None
) -> AsyncIterator[tuple[Supervisor, asyncio.Task[str | None]]]:
    """A running supervisor of stand-ins and the task that returns its outcome."""
    with open_listener("127.0.0.1", 0) as listener:
        supervisor = Supervisor(listener.fileno(), count, 0.1, metrics, FAST, fakes.command)
        run = asyncio.create_task(supervisor.run())
        try:
            yield supervisor, run
        finally:
            supervisor.kill()
            await run


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_a_dead_worker_is_logged_replaced_and_its_live_gauges_dropped(
    tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO, "burncloud.supervisor")
    async with supervising(Fakes(tmp_path, "serve"), count=2, metrics=tmp_path) as (sup, run):
        await until(lambda: len(sup.serving()) == 2)
        dead, alive = sup.serving()
        gauge = tmp_path / f"gauge_livesum_{dead}.db"  # what a worker's in-flight gauge writes
        gauge.write_bytes(b"")
        os.kill(dead, signal.SIGKILL)
        await until(lambda: len(sup.serving()) == 2 and dead not in sup.serving())
        assert alive in sup.serving()
        assert not gauge.exists()
        sup.stop()
        assert await run is None  # every worker drained and exited 0
    assert f"worker {dead} was killed by SIGKILL; starting another" in caplog.text


async def test_the_first_startup_failure_stops_a_router_that_never_served(tmp_path) -> None:
    async with supervising(Fakes(tmp_path, "fail"), count=2) as (_, run):
        assert await run == f"a worker could not start: {REASON}"


async def test_startup_failures_after_serving_are_retried_then_stop_the_router(
    tmp_path, caplog
) -> None:
    fakes = Fakes(tmp_path, "serve")
    async with supervising(fakes) as (sup, run):
        await until(lambda: len(sup.serving()) == 1)
        fakes.set("fail")
        os.kill(sup.serving()[0], signal.SIGKILL)
        assert await run == f"a worker could not start: {REASON}"
    retries = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert retries == [
        f"a worker could not start ({REASON}); trying again in 0.01 s",
        f"a worker could not start ({REASON}); trying again in 0.02 s",
    ]


async def test_a_worker_still_running_past_the_grace_and_margin_is_killed(tmp_path) -> None:
    async with supervising(Fakes(tmp_path, "stubborn")) as (sup, run):
        await until(lambda: len(sup.serving()) == 1)
        (stubborn,) = sup.serving()
        sup.stop()
        assert await run == "workers still running 0.3 s after SIGTERM: killed"
    with pytest.raises(ProcessLookupError):
        os.kill(stubborn, 0)


async def test_kill_ends_the_workers_without_draining(tmp_path) -> None:
    async with supervising(Fakes(tmp_path, "stubborn"), count=2) as (sup, run):
        await until(lambda: len(sup.serving()) == 2)
        sup.stop()
        sup.kill()
        assert await run == "interrupted twice: the workers were killed without draining"


@pytest.mark.parametrize(
    ("failures", "served", "delay"),
    [(1, False, None), (1, True, 0.5), (2, True, 1.0), (4, True, 4.0), (5, True, None)],
)
def test_startup_retry_delay(failures: int, served: bool, delay: float | None) -> None:
    assert startup_retry_delay(failures, served, Timing()) == delay


def test_the_supervising_process_imports_nothing_of_the_app() -> None:
    code = (
        "import sys, burncloud.serving.launch, burncloud.serving.listener\n"
        "loaded = ('burncloud.server', 'burncloud.gateway.relay.story', 'quart', 'aiohttp',"
        " 'hypercorn')\n"
        "print(','.join(m for m in loaded if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_describe_exit() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(3) == "exited with status 3"
