"""The help screen: the keys, and what each figure means and over which window."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("q", "quit"),
    ("p", "pause or resume the live tail"),
    ("/", "filter the tail by model, key, channel or status (words must all match)"),
    ("escape", "clear the filter; close this screen or a request's details"),
    ("tab", "next panel (on a small terminal, panels are shown one at a time)"),
    ("enter", "open the selected request: its figures, error and routing decision"),
    ("?", "this help"),
)

FIGURES = (
    ("req/s, rpm", "requests over the last 60 s"),
    ("tok/s", "prompt (in) and completion (out) tokens per second, last 60 s"),
    ("errors", "share of requests with status >= 400 (client disconnects excluded)"),
    ("latency, TTFT", "p50 / p95 over the last 60 s; TTFT over streamed requests"),
    ("today", "spend, upstream cost and margin since 00:00 UTC"),
    ("margin", "revenue minus upstream cost over the requests whose upstream cost is known"),
    ("unknown", "requests of unknown upstream cost (free or unpriced): never counted as $0"),
    ("+N?", "a margin that leaves out N requests of unknown upstream cost"),
    ("channels", "enabled, and disabled by hand or automatically"),
    ("tables", "requests, errors, tokens, spend and latency over the last 24 h"),
    ("runs out", "when a key or user reaches its quota, balance or budget at the spend"),
    ("", "rate of the last 6 h (read once a minute; blank: no limit or no recent spend)"),
    ("", "channels also their margin, and its share of the revenue it is over"),
    ("breaker", "worst circuit breaker of the channel, when a router runs on this machine"),
)


def help_text() -> Group:
    """The keys, then the figures, each as a two-column grid that wraps its second column."""
    parts: list[Text | Table] = []
    for title, rows in (("Keys", KEYS), ("Figures", FIGURES)):
        parts.append(Text(title, style="bold underline"))
        grid = Table.grid(padding=(0, 2), pad_edge=True)
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for name, meaning in rows:
            grid.add_row(name, meaning)
        parts += [grid, Text("")]
    parts.append(Text("Times are UTC. Money is rounded here; a request's details show it exact."))
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """Keys and figures; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "burncloud dash: help"
            box.border_subtitle = "escape: close"
            yield Static(help_text())
