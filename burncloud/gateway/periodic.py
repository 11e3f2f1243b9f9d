"""Background loops: one body run again and again in a task of its own, until stopped.

A worker's housekeeping (probing channels, sweeping the shared state, renewing leases,
polling the configuration, pinging Redis, writing auto-disables) is each one body run on a
cadence. ``Periodic`` owns the rest once: the task, the wait between runs (cut short by
``run_now`` and by ``stop``), logging a failed run and carrying on, a backoff after
failures, and a stop that never leaves a task behind.

A stop sets a flag before it cancels, and the loop reads the flag after every run: a body
whose library swallows a cancellation (on Python 3.11 ``asyncio.wait_for``, which
redis-py uses to send every command, returns a result that raced the cancel) still ends
the loop at the end of that run instead of looping on with nobody to stop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Body = Callable[[], Awaitable[object]]
Interval = float | Callable[[], float] | None  # None: run only when asked (``run_now``)


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed run (the body raised) is reported and retried."""

    log: logging.Logger
    message: str  # logged with the traceback
    every_time: bool = True  # False: only the first failure of a streak is logged
    backoff: Callable[[int], float] | None = None  # the wait after the n-th failure in a row


class Periodic:
    """Runs ``body`` in a task named ``name``: every ``interval`` s, and soon after ``run_now``.

    The interval counts from the end of a run, or with ``from_start`` from when the run
    was due (a steady cadence; a run that overran waits a full interval from its end). The
    first run comes one interval after ``start``, or at once with ``run_at_start``. A
    ``stop`` cancels a run in progress, or with ``cancel_on_stop=False`` lets it finish
    (never cut a write in the middle); either way it ends the wait at once.
    """

    def __init__(
        self,
        name: str,
        body: Body,
        *,
        interval: Interval,
        failure: Failure,
        run_at_start: bool = False,
        from_start: bool = False,
        cancel_on_stop: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._body = body
        self._interval = interval
        self._failure = failure
        self._run_at_start = run_at_start
        self._from_start = from_start
        self._cancel_on_stop = cancel_on_stop
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._pause_task: asyncio.Future[None] | None = None
        self._pause_wakeable = True
        self._asked = False  # run_now was called since the last run began
        self._stopping = False
        self._due = 0.0  # when the current (or last) run was due, on ``clock``
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many runs in a row have failed (0 after a run that succeeded)."""
        return self._failures

    @property
    def running(self) -> bool:
        """Whether the task is started and not yet stopped."""
        return self._task is not None

    def start(self) -> None:
        """Start the task; no-op while it runs."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    def run_now(self) -> None:
        """Run the body soon: at once if waiting, else right after the run in progress.

        Remembered before ``start``; a backoff after a failure is not cut short by it."""
        self._asked = True
        if self._pause_task is not None and self._pause_wakeable:
            self._pause_task.cancel()

    async def stop(self) -> None:
        """End the loop and wait for its task (see the class docstring); safe to call twice."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        if self._pause_task is not None:
            self._pause_task.cancel()
        elif self._cancel_on_stop:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if _cancelling():  # the caller itself is being cancelled
                raise
        finally:
            if self._task is task:
                self._task = None

    async def _loop(self) -> None:
        self._due = self._clock()
        delay = 0.0 if self._run_at_start else self._next_delay()
        wakeable = True
        while True:
            await self._pause(delay, wakeable)
            if self._stopping:
                return
            if self._asked:
                self._due = self._clock()  # an early run: the cadence restarts from it
            self._asked = False
            succeeded = await self._run_once()
            if self._stopping:
                return
            delay, wakeable = self._after(succeeded)

    async def _run_once(self) -> bool:
        """Run the body; a failure is logged (per ``Failure``), never raised."""
        try:
            await self._body()
        except Exception:
            self._failures += 1
            if self._failures == 1 or self._failure.every_time:
                self._failure.log.exception(self._failure.message)
            return False
        self._failures = 0
        return True

    def _after(self, succeeded: bool) -> tuple[float | None, bool]:
        """The wait after a run, and whether ``run_now`` may cut it short (not a backoff)."""
        backoff = self._failure.backoff
        if succeeded or backoff is None:
            return self._next_delay(), True
        return backoff(self._failures), False

    def _next_delay(self) -> float | None:
        """Seconds until the next run; None to wait for ``run_now``."""
        interval = self._interval() if callable(self._interval) else self._interval
        if interval is None or not self._from_start:
            return interval
        due, now = self._due + interval, self._clock()
        self._due = due if due > now else now + interval
        return self._due - now

    async def _pause(self, delay: float | None, wakeable: bool) -> None:
        """Wait ``delay`` s (None: for ``run_now``); less when stopped, or asked if
        ``wakeable``."""
        if self._stopping or (wakeable and self._asked) or (delay is not None and delay <= 0):
            return
        waiting = self._sleep(delay) if delay is not None else _forever()
        self._pause_task = asyncio.ensure_future(waiting)
        self._pause_wakeable = wakeable
        try:
            await self._pause_task
        except asyncio.CancelledError:
            if _cancelling():  # this loop's task was cancelled, not merely its wait cut
                raise
        finally:
            self._pause_task = None


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


def _cancelling() -> bool:
    """Whether the running task has a cancellation requested of it."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
