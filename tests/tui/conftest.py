"""Run the dashboard headless over a source, with the clock held at a known time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from burncloud_tui.app import DashApp
from burncloud_tui.source import StatsSource
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Footer

from tests.tui.memory_source import NOW

Running = tuple[DashApp, Pilot[None]]
Runner = Callable[..., AbstractAsyncContextManager[Running]]


class Clock:
    """A settable clock: the dashboard's idea of now."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the running refresh to finish and the screen to catch up, footer included.

    Textual fills a footer in a recompose it schedules after a later screen refresh; one
    pause, whose idle check a starved process passes at once, does not always reach it."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    async with asyncio.timeout(30):  # a hang guard, never reached by a working app
        while not _footers_drawn(pilot.app.screen):
            await pilot.pause()


def _footers_drawn(screen: Screen[object]) -> bool:
    """Every footer on ``screen`` has its keys, each laid out on the screen."""
    return all(
        footer.children and all(key.region for key in footer.children)
        for footer in screen.query(Footer)
    )


async def refreshed(pilot: Pilot[None]) -> None:
    """Run one refresh now (as a tick would) and wait for it."""
    assert isinstance(pilot.app, DashApp)
    pilot.app.dash.refresh_now()
    await settle(pilot)


@pytest.fixture
def run_dash() -> Runner:
    """``async with run_dash(source, size=...) as (app, pilot)``: mounted and first refresh done.

    The refresh interval is an hour, so ticks come only from the test (``refreshed``).
    """

    @asynccontextmanager
    async def run(
        source: StatsSource,
        *,
        size: tuple[int, int] = (80, 24),
        clock: Clock | None = None,
        wait: bool = True,
    ) -> AsyncIterator[Running]:
        app = DashApp(
            source, refresh_every=3600, clock=clock or Clock(), location="sqlite:burncloud.db"
        )
        async with app.run_test(size=size) as pilot:
            if wait:
                await settle(pilot)
            yield app, pilot

    return run
