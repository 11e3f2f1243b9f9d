"""The dashboard over an in-memory source: the figures it shows, its keys and its states."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from burncloud_tui.app import DashApp
from burncloud_tui.details import DetailsScreen
from burncloud_tui.help import HelpScreen
from burncloud_tui.tail import LiveTail
from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import Clock, Runner, refreshed, settle
from tests.tui.memory_source import NOW, ROUTE, SUMMARY, MemorySource, log_line
from tests.tui.screen_text import screen_text

HEADER = [
    " burncloud sqlite:burncloud.db  ● live, last request 2s ago",
    " req/s 12.5  rpm 750  tok/s in 1.2k out 345  errors 1.2%",
    " latency p50 230ms p95 1.2s  TTFT p50 120ms p95 400ms  channels 5 on 1 off",
    " today  spend $1,234.57  upstream $934.57  margin $300.00 24.3%  +12 unknown",
]


def row_keys(app: DashApp, selector: str) -> list[str]:
    table = app.dash.query_one(selector, DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


def cells(app: DashApp, selector: str, key: str) -> list[str]:
    return [str(cell) for cell in app.dash.query_one(selector, DataTable).get_row(key)]


def lines(app: DashApp) -> list[str]:
    return [line.rstrip() for line in screen_text(app).splitlines()]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_header_shows_the_live_figures_whole(run_dash: Runner, size: tuple[int, int]) -> None:
    async with run_dash(MemorySource(), size=size) as (app, _):
        assert lines(app)[:4] == HEADER
        assert "req/min 1h  max 900" in lines(app)[4]
        assert "spend/h 24h  sum $30.00" in lines(app)[4]


async def test_tables_show_each_row_of_the_source(run_dash: Runner) -> None:
    async with run_dash(MemorySource(), size=(160, 48)) as (app, _):
        assert cells(app, "#channels-table", "2") == [
            "2",
            "claude-b",
            "auto_disabled",
            "open",
            "312ms",
            "50.0%",
            "1.5k",
            "$42.00",
            "$10.00 25.0% +300?",
            "8.50 CNY (low)",
            "invalid api key",
        ]
        assert cells(app, "#channels-table", "1")[2:4] == ["enabled", "closed"]
        assert cells(app, "#channels-table", "1")[7:9] == ["$42.00", "$29.40 70.0%"]
        assert row_keys(app, "#models-table") == ["gpt-4o", "claude-3"]
        assert cells(app, "#models-table", "gpt-4o") == [
            "gpt-4o",
            "900",
            "10.0%",
            "900k/180k",
            "$30.00",
            "250ms",
            "900ms",
        ]
        assert cells(app, "#tokens-table", "4")[0::4] == ["bob-key", "$6.00"]
        assert cells(app, "#users-table", "7")[0::4] == ["alice", "$31.00"]
        assert row_keys(app, "#tail-table") == ["3", "2", "1"]
        assert cells(app, "#tail-table", "2") == [
            "22:11:42",
            "429",
            "gpt-4o-mini",
            "alice-key",
            "1.2k/345",
            "$0.0567",
            "830ms",
            "openai-a",
        ]
        text = screen_text(app)
        for title in ("Channels, 24 h", "Models by spend, 24 h", "Live tail · 3 rows"):
            assert title in text
        assert "Keys by spend, 24 h" in text and "Users by spend, 24 h" in text


async def test_tables_cover_the_last_day(run_dash: Runner) -> None:
    source = MemorySource()
    async with run_dash(source):
        assert source.tables_since == [NOW - 86400]
        assert source.tail_calls == [None]


async def test_small_terminal_shows_one_panel_and_tab_cycles(run_dash: Runner) -> None:
    async with run_dash(MemorySource(), size=(80, 24)) as (app, pilot):
        titles = ("Live tail ·", "Channels,", "Models by", "Keys by", "Users by")
        seen = []
        for press in range(6):
            if press:
                await pilot.press("tab")
            text = screen_text(app)
            seen += [title for title in titles if title in text]
        assert seen == [*titles, "Live tail ·"]
        await pilot.press("shift+tab")
        assert "Users by spend" in screen_text(app)
        assert app.focused is app.dash.query_one("#users-table")
        assert " tab Next panel  q Quit  p Pause  / Filter  ? Help" in lines(app)[-1]


async def test_tab_moves_the_focus_across_panels_on_a_large_terminal(run_dash: Runner) -> None:
    async with run_dash(MemorySource(), size=(160, 48)) as (app, pilot):
        assert app.focused is app.dash.query_one("#tail-table")
        await pilot.press("tab")
        assert app.focused is app.dash.query_one("#channels-table")
        assert app.dash.query_one("#panel-channels").has_class("-current")
        assert "Live tail · 3 rows" in screen_text(app)


async def test_pause_stops_the_tail_and_resume_catches_up(run_dash: Runner) -> None:
    source = MemorySource()
    async with run_dash(source) as (app, pilot):
        await pilot.press("p")
        assert "PAUSED" in lines(app)[0]
        assert "Live tail · 3 rows · PAUSED" in screen_text(app)
        source.lines.insert(0, log_line(4, model="gpt-4.1"))
        await refreshed(pilot)
        assert source.tail_calls == [None]
        assert row_keys(app, "#tail-table") == ["3", "2", "1"]
        await pilot.press("p")
        await refreshed(pilot)
        assert "PAUSED" not in lines(app)[0]
        assert source.tail_calls == [None, 3]
        assert row_keys(app, "#tail-table") == ["4", "3", "2", "1"]


async def test_new_rows_go_on_top_and_the_cursor_stays_on_its_row(run_dash: Runner) -> None:
    source = MemorySource()
    async with run_dash(source) as (app, pilot):
        await pilot.press("down")
        source.lines[:0] = [log_line(5), log_line(4)]
        await refreshed(pilot)
        table = app.dash.query_one("#tail-table", DataTable)
        assert row_keys(app, "#tail-table") == ["5", "4", "3", "2", "1"]
        assert table.cursor_row == 3  # still on request 2
        assert "Live tail · 5 rows" in screen_text(app)


async def test_slash_filters_the_tail_and_escape_clears_it(run_dash: Runner) -> None:
    async with run_dash(MemorySource()) as (app, pilot):
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"qmini")  # typed into the filter: q does not quit
        assert app.return_code is None
        assert row_keys(app, "#tail-table") == []
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await pilot.press(*"MINI")
        assert row_keys(app, "#tail-table") == ["2"]
        assert lines(app)[0].endswith("filter: MINI")
        await pilot.press("enter")
        assert app.focused is app.dash.query_one("#tail-table")
        assert row_keys(app, "#tail-table") == ["2"]
        await pilot.press("escape")
        assert row_keys(app, "#tail-table") == ["3", "2", "1"]
        assert not app.dash.query_one(LiveTail).has_class("-filtering")
        assert "filter" not in lines(app)[0]


async def test_filter_words_match_key_channel_and_status(run_dash: Runner) -> None:
    async with run_dash(MemorySource()) as (app, pilot):
        await pilot.press("slash", *"alice 200", "enter")
        assert row_keys(app, "#tail-table") == ["1"]


async def test_enter_opens_the_request_with_its_route_and_error(run_dash: Runner) -> None:
    async with run_dash(MemorySource(), size=(160, 48)) as (app, pilot):
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        text = screen_text(app)
        for fragment in (
            "request req-3",
            "time  2023-11-14 22:11:43 UTC",
            "key  bob-key (id 3)",
            "status  502",
            "cost  $0.0567",
            "tokens  1200 in, 345 out, 0 cached",
            "upstream overloaded",
            "candidates, in the order chosen: channel 2 (claude-b), channel 1 (openai-a)",
            "skipped channel 2 (claude-b): breaker open, retry in 4 s",
            "attempt 1: channel 1 (openai-a) -> 502 in 87 ms: upstream overloaded",
        ):
            assert fragment in text, fragment
        route = str(app.screen.query_one("#details-route", Static).content)
        assert json.dumps(ROUTE, indent=2) in route  # the stored trace, pretty-printed
        await pilot.press("escape")
        assert app.screen is app.dash
        await pilot.press("down", "enter")
        assert "no routing decision was recorded" in screen_text(app)
        assert "status  429" in screen_text(app)


async def test_question_mark_shows_help_and_q_quits(run_dash: Runner) -> None:
    source = MemorySource()
    async with run_dash(source) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "filter the tail by model, key, channel or status" in screen_text(app)
        await pilot.press("escape")
        assert app.screen is app.dash
        await pilot.press("q")
        assert app.return_code == 0
    assert source.closed


async def test_empty_database_says_so(run_dash: Runner) -> None:
    from tests.tui.memory_source import empty_source

    async with run_dash(empty_source()) as (app, _):
        shown = lines(app)
        assert shown[0] == " burncloud sqlite:burncloud.db  empty database: no requests logged yet"
        assert shown[1] == " req/s 0.00  rpm 0  tok/s in 0.00 out 0.00  errors 0.0%"
        assert shown[2] == " latency p50 - p95 -  TTFT p50 - p95 -  channels 0 on 0 off"
        assert shown[3] == " today  spend $0  upstream $0  margin $0"
        assert "max 0" in shown[4] and "sum $0" in shown[4]
        assert "Live tail · 0 rows" in screen_text(app)


async def test_router_idle_or_down_when_the_newest_row_is_old(run_dash: Runner) -> None:
    source = MemorySource()
    clock = Clock()
    async with run_dash(source, clock=clock) as (app, pilot):
        clock.now = NOW + 40
        await refreshed(pilot)
        assert "router idle or down (no requests for 42s)" in lines(app)[0]
        assert lines(app)[1] == HEADER[1]  # the figures stay on screen
        clock.now = NOW + 28
        await refreshed(pilot)
        assert "● live, last request 30s ago" in lines(app)[0]


async def test_a_failed_refresh_shows_one_line_and_the_next_one_retries(run_dash: Runner) -> None:
    source = MemorySource(failure=RuntimeError("database is locked\n(code 5)"))
    async with run_dash(source, size=(160, 48)) as (app, pilot):
        assert lines(app)[0].endswith(
            "database error, retrying: RuntimeError: database is locked (code 5)"
        )
        source.failure = None
        await refreshed(pilot)
        assert lines(app)[:4] == HEADER
        source.failure = OSError("disk I/O error")
        source.figures_now = replace(source.figures_now, summary=replace(SUMMARY, spend_today=0))
        await refreshed(pilot)
        assert "database error, retrying: OSError: disk I/O error" in lines(app)[0]
        assert lines(app)[1:4] == HEADER[1:4]  # the last good figures stay
        assert app.dash.refreshes == 3


async def test_a_slow_refresh_skips_ticks_and_never_blocks_the_keys(run_dash: Runner) -> None:
    import asyncio

    gate = asyncio.Event()
    source = MemorySource(gate=gate)
    async with run_dash(source, wait=False) as (app, pilot):
        await pilot.pause()
        app.dash.refresh_now()
        app.dash.refresh_now()
        assert source.calls == 1
        assert app.dash.skipped_ticks == 2
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "p")
        assert "connecting..." in lines(app)[0] and "PAUSED" in lines(app)[0]
        gate.set()
        await settle(pilot)
        assert lines(app)[1] == HEADER[1]
        assert source.calls == 1
        assert source.tail_calls == []  # paused before the tail was read


async def test_keys_and_users_show_when_they_run_out(run_dash: Runner) -> None:
    async with run_dash(MemorySource(), size=(160, 48)) as (app, _):
        assert cells(app, "#tokens-table", "3")[4:6] == ["$25.00", "3 d 4 h"]
        assert cells(app, "#tokens-table", "4")[4:6] == ["$6.00", ""]  # no limit, or no spend
        assert cells(app, "#users-table", "7")[4:6] == ["$31.00", "5 h 12 min"]
        assert len(cells(app, "#models-table", "gpt-4o")) == 7  # models have no runway


async def test_forecasts_are_read_once_a_minute(run_dash: Runner) -> None:
    source = MemorySource()
    clock = Clock()
    async with run_dash(source, clock=clock, size=(160, 48)) as (app, pilot):
        source.running = [
            replace(source.running[1], runway=replace(source.running[1].runway, runs_out_in=2400))
        ]
        clock.now = NOW + 59
        await refreshed(pilot)
        assert source.forecasts_at == [NOW]
        assert cells(app, "#tokens-table", "3")[5] == "3 d 4 h"  # the last forecast stands
        clock.now = NOW + 60
        await refreshed(pilot)
        assert source.forecasts_at == [NOW, NOW + 60]
        assert cells(app, "#tokens-table", "3")[5] == "40 min"
        assert cells(app, "#users-table", "7")[5] == ""  # alice no longer runs out
