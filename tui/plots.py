"""The trend plots: requests and tokens per minute over the last hour, spend per hour today.

Textual's sparklines: no plotting dependency, and one cell per bar reads well over SSH.
Each plot has a one-line label with its window and its peak (or, for spend, its sum).
"""

from __future__ import annotations

from collections.abc import Sequence

from burncloud_tui.figures import compact, usd
from burncloud_tui.source import Figures
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static


class Plot(Vertical):
    """A label over a sparkline."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id, classes="plot")
        self._title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(self._title, style="bold"), classes="plot-label")
        yield Sparkline([], summary_function=max)

    def show(self, values: Sequence[float], note: str) -> None:
        """Plot ``values`` (oldest first) with ``note`` after the title."""
        label = Text.assemble((self._title, "bold"), ("  " + note, "dim"), no_wrap=True)
        self.query_one(".plot-label", Static).update(label)
        self.query_one(Sparkline).data = list(values)


class Plots(Horizontal):
    """The three plots side by side."""

    def compose(self) -> ComposeResult:
        yield Plot("req/min 1h", id="plot-requests")
        yield Plot("tok/min 1h", id="plot-tokens")
        yield Plot("spend/h 24h", id="plot-spend")

    def show(self, figures: Figures) -> None:
        """Redraw every plot from one refresh."""
        requests = [point.requests for point in figures.minutes]
        used = [point.prompt_tokens + point.completion_tokens for point in figures.minutes]
        spend = [point.cost for point in figures.hours]
        self.query_one("#plot-requests", Plot).show(
            requests, f"max {compact(max(requests, default=0))}"
        )
        self.query_one("#plot-tokens", Plot).show(used, f"max {compact(max(used, default=0))}")
        self.query_one("#plot-spend", Plot).show(spend, f"sum {usd(sum(spend))}")
