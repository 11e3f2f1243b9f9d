"""`burncloud dash`: the app, its one screen, and the refresh loop.

Every ``refresh_every`` seconds a worker runs the source's queries and redraws the header,
plots, tables and tail (the keys' and users' run-out forecasts at most once a minute); the
message loop never waits on the database. A refresh still running when the next tick comes
makes that tick a no-op: a slow database skips ticks, it never queues them. A failed
refresh leaves the last figures up, says why in the header and is retried on the next tick.

On a large terminal every panel is shown at once; below ``WIDE`` only the current one is,
and tab cycles through them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from burncloud_tui.details import DetailsScreen
from burncloud_tui.header import FiguresHeader, HeaderState
from burncloud_tui.help import HelpScreen
from burncloud_tui.literal import literal
from burncloud_tui.plots import Plots
from burncloud_tui.source import (
    FORECAST_EVERY,
    TABLE_WINDOW,
    TAIL_LIMIT,
    Figures,
    StatsSource,
    Tables,
)
from burncloud_tui.tables import TOP, BreakdownTable, ChannelsTable
from burncloud_tui.tail import LiveTail
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.events import DescendantFocus, Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

if TYPE_CHECKING:
    from burncloud.services.forecast import RunningOut
    from burncloud.services.stats import LiveSummary, LogLine

WIDE = (120, 36)  # columns and lines from which every panel is shown at once
PANELS = ("tail", "channels", "models", "tokens", "users")  # the order tab goes through
TITLES = {
    "tail": "Live tail",
    "channels": "Channels, 24 h",
    "models": "Models by spend, 24 h",
    "tokens": "Keys by spend, 24 h",
    "users": "Users by spend, 24 h",
}


class DashScreen(Screen[None]):
    """The dashboard: header, plots, the panels and the footer listing the keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("p", "pause", "Pause"),
        Binding("slash", "filter", "Filter"),
        Binding("tab", "cycle(1)", "Next panel"),
        Binding("shift+tab", "cycle(-1)", "Previous panel", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    AUTO_FOCUS = "#tail-table"

    paused: reactive[bool] = reactive(False)
    panel: reactive[int] = reactive(0, init=False)

    def __init__(
        self,
        source: StatsSource,
        *,
        refresh_every: float,
        clock: Callable[[], float],
        location: str,
    ) -> None:
        super().__init__(id="dash")
        self._source = source
        self.refresh_every = refresh_every
        self._clock = clock
        self.location = location
        self._busy = False
        self._after_id: int | None = None
        self._summary: LiveSummary | None = None
        self._now = 0
        self._error: str | None = None
        self.channel_names: dict[int, str] = {}
        self._forecast_at: int | None = None
        self._runs_out: dict[str, dict[str, int]] = {}  # table -> key -> seconds
        self.refreshes = 0  # refreshes that finished, failed ones included
        self.skipped_ticks = 0  # ticks that found the previous refresh still running

    def compose(self) -> ComposeResult:
        yield FiguresHeader(id="header")
        yield Plots(id="plots")
        with Grid(id="panels"):
            with Vertical(id="panel-channels", classes="panel"):
                yield ChannelsTable(id="channels-table")
            with Vertical(id="panel-models", classes="panel"):
                yield BreakdownTable("model", id="models-table")
            yield LiveTail(id="panel-tail", classes="panel")
            with Vertical(id="panel-tokens", classes="panel"):
                yield BreakdownTable("key", id="tokens-table", runway=True)
            with Vertical(id="panel-users", classes="panel"):
                yield BreakdownTable("user", id="users-table", runway=True)
        yield Footer()

    def on_mount(self) -> None:
        for name, title in TITLES.items():
            self.query_one(f"#panel-{name}").border_title = title
        self._show_header()
        self.watch_panel(self.panel)
        self.set_interval(self.refresh_every, self.refresh_now)
        self.refresh_now()

    def refresh_now(self) -> None:
        """Start a refresh unless the previous one is still running (then skip this tick)."""
        if self._busy:
            self.skipped_ticks += 1
            return
        self._busy = True
        self._refresh(int(self._clock()))

    @work(group="refresh")
    async def _refresh(self, now: int) -> None:
        try:
            figures = await self._source.figures(now)
            tables = await self._source.tables(now - TABLE_WINDOW)
            lines = None if self.paused else await self._source.tail(self._after_id, TAIL_LIMIT)
            running = await self._running_out(now)
        except Exception as exc:  # any database failure: shown in the header, retried next tick
            self._error = " ".join(f"{type(exc).__name__}: {exc}".split())
        else:
            self._error = None
            if running is not None:
                self._runs_out = _runs_out(running)
            self._show(now, figures, tables, lines)
        finally:
            self._busy = False
            self.refreshes += 1
            self._show_header()

    async def _running_out(self, now: int) -> list[RunningOut] | None:
        """The forecasts, read again once ``FORECAST_EVERY`` seconds have passed since the
        last read (or the clock went back); None: the last ones still stand."""
        if self._forecast_at is not None and 0 <= now - self._forecast_at < FORECAST_EVERY:
            return None
        running = await self._source.running_out(now)
        self._forecast_at = now
        return running

    def _show(
        self, now: int, figures: Figures, tables: Tables, lines: list[LogLine] | None
    ) -> None:
        self._now = now
        self._summary = figures.summary
        self.query_one(Plots).show(figures)
        self.query_one(ChannelsTable).show(tables.channels)
        for name, rows in (
            ("models", tables.models),
            ("tokens", tables.tokens),
            ("users", tables.users),
        ):
            self.query_one(f"#{name}-table", BreakdownTable).show(rows, self._runs_out.get(name))
            more = f", top {TOP} of {len(rows)}" if len(rows) > TOP else ""
            self.query_one(f"#panel-{name}").border_title = TITLES[name] + more
        self.channel_names = {row.id: row.name for row in tables.channels}
        if lines:
            self._after_id = max(self._after_id or 0, lines[0].id)
            self.query_one(LiveTail).add(lines)

    def _show_header(self) -> None:
        tail = self.query_one(LiveTail)
        self.query_one(FiguresHeader).show(
            HeaderState(
                location=self.location,
                summary=self._summary,
                now=self._now,
                error=self._error,
                paused=self.paused,
                filter_text=tail.filter_text,
            )
        )
        notes = [TITLES["tail"], f"{len(tail.shown())} rows"]
        if self.paused:
            notes.append("PAUSED")
        if tail.filter_text:
            notes.append(f"filter: {tail.filter_text}")
        tail.border_title = literal(" · ".join(notes))  # the filter is typed text

    def watch_paused(self) -> None:
        if self.is_mounted:
            self._show_header()

    def watch_panel(self, index: int) -> None:
        for position, name in enumerate(PANELS):
            panel = self.query_one(f"#panel-{name}")
            panel.set_class(position == index, "-current")
        current = self.query_one(f"#panel-{PANELS[index]}")
        if not current.has_focus_within:
            current.query(DataTable).first().focus()

    def on_resize(self, event: Resize) -> None:
        width, height = event.size
        compact = width < WIDE[0] or height < WIDE[1]
        self.set_class(compact, "-compact")
        for position, name in enumerate(PANELS):
            note = f"tab: next panel ({position + 1}/{len(PANELS)})" if compact else ""
            self.query_one(f"#panel-{name}").border_subtitle = note

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        for position, name in enumerate(PANELS):
            if self.query_one(f"#panel-{name}") in event.widget.ancestors:
                self.panel = position

    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_filter(self) -> None:
        self.panel = PANELS.index("tail")
        self.query_one(LiveTail).open_filter()

    def action_clear_filter(self) -> None:
        tail = self.query_one(LiveTail)
        if tail.filter_text or tail.has_class("-filtering"):
            tail.clear_filter()

    def action_cycle(self, step: int) -> None:
        self.panel = (self.panel + step) % len(PANELS)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    @on(Input.Changed, "#tail-filter")
    def _filter_changed(self) -> None:
        self._show_header()

    def on_live_tail_opened(self, message: LiveTail.Opened) -> None:
        self.app.push_screen(DetailsScreen(message.line, self.channel_names))


def _runs_out(running: list[RunningOut]) -> dict[str, dict[str, int]]:
    """Seconds until each key and user runs out, by table and the row's key (the id)."""
    tables: dict[str, dict[str, int]] = {"tokens": {}, "users": {}}
    for item in running:
        if item.runway.runs_out_in is not None:
            tables["tokens" if item.kind == "token" else "users"][str(item.id)] = (
                item.runway.runs_out_in
            )
    return tables


class DashApp(App[None]):
    """The dashboard over ``source``; the source is closed when the app exits."""

    CSS_PATH = "dash.tcss"
    TITLE = "burncloud dash"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        source: StatsSource,
        *,
        refresh_every: float = 1.0,
        clock: Callable[[], float] = time.time,
        location: str = "",
    ) -> None:
        super().__init__()
        self.source = source
        self.dash = DashScreen(source, refresh_every=refresh_every, clock=clock, location=location)

    def get_default_screen(self) -> DashScreen:
        return self.dash

    async def on_unmount(self) -> None:
        await self.source.close()
