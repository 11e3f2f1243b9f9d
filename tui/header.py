"""The header: where the data comes from and whether it is live, then the live figures.

Four lines that fit 80 columns: a status line (live / router idle or down / empty
database / database error, PAUSED, the tail filter), then requests, tokens and errors,
then latency, TTFT and channels, then today's money: spend, upstream cost and margin (an
upstream cost nobody knows is "unknown", never $0; the requests of unknown cost are
counted beside a margin). The location, a database error and the filter are drawn
literally (an error may quote a value from the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from burncloud_tui.figures import age, margin_amount, millis, per_second, percent, usd
from rich.text import Text
from textual.widgets import Static

from burncloud.terminal_text import terminal_text

if TYPE_CHECKING:
    from burncloud.services.stats import LiveSummary

IDLE_AFTER = 30  # seconds without a new log row before the router counts as idle or down

Part = tuple[str, str]  # (text, rich style)


@dataclass(frozen=True, slots=True)
class HeaderState:
    """Everything the header shows; ``summary`` is None until the first refresh lands."""

    location: str
    summary: LiveSummary | None = None
    now: int = 0
    error: str | None = None
    paused: bool = False
    filter_text: str = ""


class FiguresHeader(Static):
    """The three header lines, redrawn from a ``HeaderState``."""

    def show(self, state: HeaderState) -> None:
        """Redraw from ``state``."""
        self.update(render_header(state))


def render_header(state: HeaderState) -> Text:
    """The header text for ``state``."""
    lines = [status_line(state), *figure_lines(state.summary)]
    return Text("\n").join(lines)


def status_line(state: HeaderState) -> Text:
    """Where the figures come from, whether they are live, and the tail's mode."""
    parts: list[Part] = [("burncloud", "bold"), (f" {state.location}  ", "dim")]
    parts.append(_liveness(state))
    if state.paused:
        parts += [("  ", ""), (" PAUSED ", "bold reverse yellow")]
    if state.filter_text:
        parts += [("  filter: ", "dim"), (state.filter_text, "bold")]
    shown = ((terminal_text(text), style) for text, style in parts)
    return Text.assemble(*shown, no_wrap=True, overflow="ellipsis")


def figure_lines(summary: LiveSummary | None) -> tuple[Text, Text, Text]:
    """Requests, tokens and errors; then latency, TTFT and channels; then today's money."""
    if summary is None:
        return Text("waiting for the first refresh...", style="dim"), Text(""), Text("")
    s = summary
    first = _figures(
        "req/s ", (per_second(s.requests_per_second), ""),
        "  rpm ", (str(s.requests_per_minute), ""),
        "  tok/s in ", (per_second(s.input_tokens_per_second), ""),
        " out ", (per_second(s.output_tokens_per_second), ""),
        "  errors ", (percent(s.error_rate), _error_style(s.error_rate)),
    )  # fmt: skip
    second = _figures(
        "latency p50 ", (millis(s.latency_p50_ms), ""),
        " p95 ", (millis(s.latency_p95_ms), ""),
        "  TTFT p50 ", (millis(s.ttft_p50_ms), ""),
        " p95 ", (millis(s.ttft_p95_ms), ""),
        "  channels ", (str(s.active_channels), ""),
        " on ", (str(s.disabled_channels), "yellow" if s.disabled_channels else ""),
        " off",
    )  # fmt: skip
    return first, second, money_line(s)


def money_line(summary: LiveSummary) -> Text:
    """Since 00:00 UTC: spend, upstream cost and margin, then the requests of unknown
    upstream cost when some, not all, are."""
    today = summary.margin_today
    upstream = today.upstream
    margin = today.margin
    line = _figures(
        "today  spend ", (usd(summary.spend_today), ""),
        "  upstream ", ("unknown" if upstream is None else usd(upstream), ""),
        "  margin ", (margin_amount(today), "red" if margin is not None and margin < 0 else ""),
    )  # fmt: skip
    if today.unknown and not today.all_unknown:
        line.append(f"  +{today.unknown} unknown", style="yellow")
    return line


def _liveness(state: HeaderState) -> Part:
    if state.error is not None:
        return f"database error, retrying: {state.error}", "bold red"
    summary = state.summary
    if summary is None:
        return "connecting...", "dim"
    if summary.last_request_at is None:
        return "empty database: no requests logged yet", "bold yellow"
    idle = state.now - summary.last_request_at
    if idle > IDLE_AFTER:
        return f"router idle or down (no requests for {age(idle)})", "bold yellow"
    return f"● live, last request {age(idle)} ago", "green"


def _figures(*items: str | Part) -> Text:
    """One line: plain strings are dim labels, (value, style) pairs bold values."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for item in items:
        if isinstance(item, str):
            text.append(item, style="dim")
        else:
            text.append(item[0], style=f"bold {item[1]}".strip())
    return text


def _error_style(rate: float) -> str:
    if rate > 0.05:
        return "red"
    return "yellow" if rate > 0.01 else ""
