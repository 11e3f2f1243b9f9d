"""The dashboard over a real SQLite database written by the log writer, breakers from a
state file: the figures shown are the rows written."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from burncloud_tui.app import DashApp
from burncloud_tui.db_source import DatabaseSource
from textual.widgets import DataTable

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.fleet.health import HealthBook, Outcome
from burncloud.gateway.fleet.shared_state import STATE_FILE_ENV, MmapState
from burncloud.gateway.route_trace import RouteTrace
from burncloud.money import UNLIMITED
from burncloud.services.channels import add_channel, disable_channel
from burncloud.services.quota import set_token_quota
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.tui.conftest import Clock, settle
from tests.tui.memory_source import NOW
from tests.tui.screen_text import screen_text

COSTS = (1_500_000, 2_250_000, 40_000_000)  # nano-USD: $0.0015, $0.00225, $0.04
UPSTREAM = (450_000, 675_000, None)  # 0.3 of the first two; the failed-over one unknown


class NoLedger:
    def on_billed(self, amounts: Mapping[int, int]) -> None:
        """No leases in these rows: nothing to tell."""


async def seed(db_url: str) -> None:
    """Two channels (the second disabled), alice and her key, three logged requests."""
    db = await open_database(db_url)
    try:
        box = SecretBox.from_passphrase("dash-test-secret")
        for name in ("openai-a", "openai-b"):
            await add_channel(db, box, type="openai", name=name, key="sk-test", models=["gpt-4o"])
        await disable_channel(db, 2, "invalid key")
        alice = await add_user(db, name="alice", balance=UNLIMITED)
        token, _ = await create_token(db, "alice-key", user_ref=alice.id)
        writer = LogWriter(db, NoLedger())
        failover = RouteTrace(
            candidates=[
                {"id": 2, "priority": 0, "weight": 1},
                {"id": 1, "priority": 0, "weight": 1},
            ],
            skipped=[{"id": 2, "reason": "breaker open, retry in 3 s"}],
            attempts=[{"id": 1, "status": 502, "ms": 40, "error": "bad gateway"}],
        )
        served = RouteTrace(
            candidates=[{"id": 1, "priority": 0, "weight": 1}],
            attempts=[{"id": 1, "status": 200, "ms": 30, "error": ""}],
        )
        for age, cost, upstream, status, route in (
            (50, COSTS[0], UPSTREAM[0], 200, served),
            (20, COSTS[1], UPSTREAM[1], 200, served),
            (5, COSTS[2], UPSTREAM[2], 502, failover),
        ):
            writer.submit(
                LogRecord(
                    created_at=NOW - age,
                    request_id=f"req-{age}",
                    user_id=alice.id,
                    token_id=token.id,
                    channel_id=1,
                    model="gpt-4o",
                    endpoint="/v1/chat/completions",
                    prompt_tokens=100,
                    completion_tokens=20,
                    cached_tokens=0,
                    cost=cost,
                    latency_ms=100 + age,
                    ttft_ms=None,
                    status=status,
                    stream=False,
                    estimated=False,
                    settlement=None,
                    error="bad gateway" if status == 502 else "",
                    route=route,
                    upstream_cost=upstream,
                )
            )
        assert await writer.flush() == 3
    finally:
        await db.close()


def open_breaker(path: Path) -> None:
    """What a router on this machine would leave: channel 1's breaker for gpt-4o open."""
    with MmapState.create(path) as state:
        book = HealthBook(state)
        for _ in range(3):
            book.record(1, "gpt-4o", Outcome.FAILURE, key_id=1)


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "router.state"
    monkeypatch.setenv(STATE_FILE_ENV, str(path))
    return path


async def test_dashboard_shows_the_logged_rows(db_url: str, state_file: Path) -> None:
    await seed(db_url)
    open_breaker(state_file)
    source = DatabaseSource(db_url)
    app = DashApp(source, refresh_every=3600, clock=Clock(), location="test")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        shown = screen_text(app).splitlines()
        assert "● live, last request 5s ago" in shown[0]
        assert shown[1].strip() == "req/s 0.05  rpm 3  tok/s in 5.00 out 1.00  errors 33.3%"
        assert "latency p50 120ms p95 150ms" in shown[2]
        assert "channels 1 on 1 off" in shown[2]
        # today: 43_750_000 nano-USD, rounded to $0.0438; the margin is over the two
        # requests of known upstream cost: 3_750_000 - 1_125_000 = 2_625_000 (70.0%)
        assert shown[3].strip() == (
            "today  spend $0.0438  upstream $0.001125  margin $0.002625 70.0%  +1 unknown"
        )
        table = app.dash.query_one("#channels-table", DataTable)
        assert [str(c) for c in table.get_row("1")][1:9] == [
            "openai-a",
            "enabled",
            "open",
            "120ms",  # the median of its three requests, as in the header
            "66.7%",
            "3",
            "$0.0438",
            "$0.002625 70.0% +1?",
        ]
        assert [str(c) for c in table.get_row("2")][7:9] == ["$0", "$0"]  # no traffic
        assert [str(c) for c in table.get_row("2")][2:4] == ["disabled", "closed"]
        assert [str(c) for c in table.get_row("2")][-1] == "invalid key"
        tokens = app.dash.query_one("#tokens-table", DataTable)
        assert [str(c) for c in tokens.get_row_at(0)][:2] == ["alice-key", "3"]
        tail = app.dash.query_one("#tail-table", DataTable)
        assert [str(tail.get_row_at(i)[1]) for i in range(3)] == ["502", "200", "200"]
        await pilot.press("enter")
        text = screen_text(app)
        assert "skipped channel 2 (openai-b): breaker open, retry in 3 s" in text
        assert "attempt 1: channel 1 (openai-a) -> 502 in 40 ms: bad gateway" in text
        assert "cost  $0.04" in text


async def test_without_a_state_file_breakers_are_blank(db_url: str, state_file: Path) -> None:
    await seed(db_url)
    source = DatabaseSource(db_url)
    try:
        tables = await source.tables(NOW - 86400)
        assert [row.breaker for row in tables.channels] == ["", ""]
        assert [row.requests for row in tables.channels] == [3, 0]
        assert [line.id for line in await source.tail(1, 10)] == [3, 2]
    finally:
        await source.close()


async def test_an_unreachable_database_shows_in_the_header(tmp_path: Path) -> None:
    source = DatabaseSource(f"sqlite:///{tmp_path}/missing-folder/dash.db")
    app = DashApp(source, refresh_every=3600, clock=Clock(), location="test")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "database error, retrying:" in screen_text(app).splitlines()[0]


async def test_the_dashboard_never_creates_a_database(tmp_path: Path) -> None:
    """A reader: a missing database shows in the header and is not created."""
    source = DatabaseSource(f"sqlite:///{tmp_path}/dash.db")
    app = DashApp(source, refresh_every=3600, clock=Clock(), location="test")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "create it with `burncloud init`" in screen_text(app)
    assert not os.listdir(tmp_path)


async def test_a_new_database_is_empty_and_queried_off_the_ui_thread(
    db_url: str, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burncloud.services import stats

    threads: list[str] = []
    live_summary = stats.live_summary

    async def spy(db: object, now: int) -> stats.LiveSummary:
        threads.append(threading.current_thread().name)
        return await live_summary(db, now)  # type: ignore[arg-type]

    monkeypatch.setattr(stats, "live_summary", spy)
    await (await open_database(db_url)).close()  # created, as `burncloud init` would
    app = DashApp(DatabaseSource(db_url), refresh_every=3600, clock=Clock(), location="test")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = screen_text(app).splitlines()
        assert shown[0].rstrip().endswith("empty database: no requests logged yet")
        assert "channels 0 on 0 off" in shown[2]
        assert row_count(app, "#tail-table") == 0
    assert threads == ["burncloud-dash-queries"]


def row_count(app: DashApp, selector: str) -> int:
    return app.dash.query_one(selector, DataTable).row_count


async def test_a_key_with_a_quota_shows_when_it_runs_out(db_url: str, state_file: Path) -> None:
    await seed(db_url)
    db = await open_database(db_url)
    try:
        await set_token_quota(db, 1, 10**9)  # 1 USD left
    finally:
        await db.close()
    app = DashApp(DatabaseSource(db_url), refresh_every=3600, clock=Clock(), location="test")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        tokens = app.dash.query_one("#tokens-table", DataTable)
        # 0.04375 USD in the six hours (and 20 s) from 16:13:00: 1 USD lasts 5 d 17 h
        assert [str(c) for c in tokens.get_row("1")][4:6] == ["$0.0438", "5 d 17 h"]
        users = app.dash.query_one("#users-table", DataTable)
        assert [str(c) for c in users.get_row_at(0)][5] == ""  # alice's balance is unlimited
