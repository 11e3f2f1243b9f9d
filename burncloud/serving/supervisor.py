"""Keeping N worker processes serving on one socket: start, replace, stop.

Each worker (``python -m burncloud.serving.worker``) runs in a process group of its own,
so that a terminal's Ctrl-C reaches only the supervisor. A worker that dies is logged with
its exit status or signal, its live metrics are marked dead, and another takes its place at
once; the other workers keep serving, and the socket keeps queueing connections meanwhile.
A worker that dies before its app has started is a startup failure: before any worker has
ever served, the first one stops the router (a misconfiguration is reported at once; a
service manager may retry); later ones are retried after a pause that doubles, up to
``Timing.startup_attempts`` in a row.

``stop()`` (on SIGTERM or SIGINT) sends every worker SIGTERM, and they drain their
requests for the grace period; a worker still running ``Timing.stop_margin`` seconds past
it is killed. ``kill()`` (a second SIGINT) kills them at once. ``run`` returns None after
a clean stop (every worker exited 0), else why not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from burncloud.serving.worker import FAILED, READY

log = logging.getLogger("burncloud.supervisor")

WorkerCommand = Callable[[int, int], list[str]]  # (listen fd, report fd) -> argv


@dataclass(frozen=True, slots=True)
class Timing:
    """How patient the supervisor is."""

    startup_attempts: int = 5  # startup failures in a row of one worker that stop the router
    first_retry_delay: float = 0.5  # seconds before the first retry; doubled for each next
    stop_margin: float = 30.0  # seconds past the grace period before a worker is killed


def worker_command(listen_fd: int, report_fd: int) -> list[str]:
    """The command line of one worker process."""
    module = "burncloud.serving.worker"
    return [sys.executable, "-m", module, str(listen_fd), str(report_fd), str(os.getpid())]


def startup_retry_delay(failures: int, served: bool, timing: Timing) -> float | None:
    """Seconds to wait before starting a worker again after its ``failures``-th startup
    failure in a row; None when the router should stop instead."""
    if not served or failures >= timing.startup_attempts:
        return None
    return timing.first_retry_delay * 2 ** (failures - 1)


def describe_exit(status: int) -> str:
    """How a process ended, from its return code (negative: the signal that killed it)."""
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


@dataclass(slots=True)
class Worker:
    """One worker process and what it said about its startup."""

    process: asyncio.subprocess.Process
    report: asyncio.Future[bytes]  # its startup line; b"" when it died without one

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ready(self) -> bool:
        return self.report.done() and self.report.result() == READY

    def failure(self, status: int) -> str:
        """Why it did not start, in its own words when it said."""
        line = self.report.result() if self.report.done() else b""
        if line.startswith(FAILED):
            return line.removeprefix(FAILED).decode(errors="replace").strip()
        return f"worker {self.pid} {describe_exit(status)} before it was ready"


class Supervisor:
    """Keeps ``count`` workers serving on ``listen_fd`` until a stop or a failure."""

    def __init__(
        self,
        listen_fd: int,
        count: int,
        grace: float,
        metrics: Path | None,
        timing: Timing = Timing(),
        command: WorkerCommand = worker_command,
    ) -> None:
        self._listen_fd = listen_fd
        self._count = max(1, count)
        self._grace = grace
        self._stop_within = grace + timing.stop_margin
        self._metrics = metrics
        self._timing = timing
        self._command = command
        self._workers: dict[int, Worker] = {}  # by slot
        self._stopping = asyncio.Event()
        self._served = False  # a worker has started its app at least once
        self._failure: str | None = None

    async def run(self) -> str | None:
        """Serve until ``stop``, ``kill`` or a failure; the failure, None after a clean stop."""
        slots = [asyncio.create_task(self._keep(slot)) for slot in range(self._count)]
        await self._stopping.wait()
        self._signal_all(signal.SIGTERM)
        _, running = await asyncio.wait(slots, timeout=self._stop_within)
        if running:
            self._fail(f"workers still running {self._stop_within:g} s after SIGTERM: killed")
            self._signal_all(signal.SIGKILL)
            await asyncio.wait(running)
        return self._failure

    def stop(self) -> None:
        """Let every worker drain its requests and exit."""
        if not self._stopping.is_set():
            log.info("stopping: the workers drain their requests for up to %g s", self._grace)
        self._stopping.set()

    def kill(self) -> None:
        """End every worker now, without draining."""
        self._fail("interrupted twice: the workers were killed without draining")
        self._signal_all(signal.SIGKILL)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def serving(self) -> list[int]:
        """The pids of the running workers whose app has started."""
        workers = self._workers.values()
        return [w.pid for w in workers if w.ready and w.process.returncode is None]

    async def _keep(self, slot: int) -> None:
        """Keep one worker running in ``slot`` until the router stops."""
        failures = 0
        while not self._stopping.is_set():
            worker = await self._start(slot)
            if worker is None:
                return
            status = await worker.process.wait()
            await asyncio.wait([worker.report])  # the pipe reaches its end with the worker
            self._bury(worker)
            if self._stopping.is_set():
                self._check_stopped(worker, status)
                return
            if worker.ready:
                failures = 0
                log.error("worker %d %s; starting another", worker.pid, describe_exit(status))
                continue
            failures += 1
            if not await self._retry_startup(worker.failure(status), failures):
                return

    async def _start(self, slot: int) -> Worker | None:
        read_fd, write_fd = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(self._listen_fd, write_fd),
                stdin=subprocess.DEVNULL,
                pass_fds=(self._listen_fd, write_fd),
                process_group=0,
            )
        except OSError as exc:
            os.close(read_fd)
            self._fail(f"cannot start a worker: {exc}")
            return None
        finally:
            os.close(write_fd)
        worker = Worker(process, self._read_report(read_fd, process.pid))
        self._workers[slot] = worker
        if self._stopping.is_set():  # the stop came while it was being started
            process.send_signal(signal.SIGTERM)
        return worker

    def _read_report(self, fd: int, pid: int) -> asyncio.Future[bytes]:
        """The worker's startup line (one atomic write), b"" if it dies without one."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            loop.remove_reader(fd)
            data = os.read(fd, 4096)
            os.close(fd)
            line.set_result(data)
            if data == READY:
                self._served = True
                log.info("worker %d is serving", pid)

        loop.add_reader(fd, readable)
        return line

    async def _retry_startup(self, reason: str, failures: int) -> bool:
        """Wait before the next start of a worker that failed ``failures`` times in a row;
        False when the router stops instead."""
        delay = startup_retry_delay(failures, self._served, self._timing)
        if delay is None:
            self._fail(f"a worker could not start: {reason}")
            return False
        log.error("a worker could not start (%s); trying again in %g s", reason, delay)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        return True

    def _bury(self, worker: Worker) -> None:
        """Forget a dead worker's live gauges, which it had no chance to drop itself."""
        if self._metrics is not None:
            mark_process_dead(worker.pid, str(self._metrics))

    def _check_stopped(self, worker: Worker, status: int) -> None:
        # SIGTERM ends a worker that had not yet started its app (nothing was in flight).
        if status == 0 or (status == -signal.SIGTERM and not worker.ready):
            return
        self._fail(f"worker {worker.pid} {describe_exit(status)} while stopping")

    def _fail(self, reason: str) -> None:
        if self._failure is None:
            self._failure = reason
        self._stopping.set()

    def _signal_all(self, number: int) -> None:
        for worker in self._workers.values():
            if worker.process.returncode is None:
                with suppress(ProcessLookupError):
                    worker.process.send_signal(number)
