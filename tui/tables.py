"""The breakdown tables: channels with their health and margin, and spend by model, token
and user; the token and user tables also say when each runs out at its recent spend rate
(blank: no limit, or no recent spend).

Each refresh refills a table in place and keeps the cursor on the row it was on (by key),
so the numbers move under a steady selection. A refresh that changed nothing leaves the
table alone, and the breakdowns show their ``TOP`` costliest rows: refilling costs the
message loop time per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from burncloud_tui.figures import compact, margin_cell, millis, percent, tokens, usd
from burncloud_tui.literal import literal, literal_cells
from rich.text import Text
from textual.widgets import DataTable

from burncloud.services.forecast import format_runway

if TYPE_CHECKING:
    from burncloud.services.stats import ChannelRow, GroupRow

Cells = tuple[str | Text, ...]
REASON_WIDTH = 40
TOP = 50

_STATUS_STYLES = {"enabled": "green", "disabled": "yellow", "auto_disabled": "bold red"}
_BREAKER_STYLES = {"closed": "green", "half_open": "yellow", "open": "bold red"}


def refill(table: DataTable[str | Text], rows: Sequence[tuple[str, Cells]]) -> None:
    """Replace the table's rows, keeping the cursor on the same key when it is still there;
    every cell is drawn literally (``literal_cells``)."""
    selected = selected_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*literal_cells(cells), key=key)
    keys = [key for key, _ in rows]
    if selected in keys and keys.index(selected):
        table.move_cursor(row=keys.index(selected), animate=False)


def selected_key(table: DataTable[str | Text]) -> str | None:
    """The key of the row under the cursor; None in an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def right(value: str) -> Text:
    """A right-aligned cell, for numbers."""
    return Text(value, justify="right")


class ChannelsTable(DataTable[str | Text]):
    """Status and reason, breaker, latency (p50), success rate, requests, spend, margin and
    the upstream balance."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._rows: Sequence[ChannelRow] | None = None

    def on_mount(self) -> None:
        for label in ("id", "name", "status", "breaker", "latency", "success"):
            self.add_column(label, key=label)
        self.add_column(right("reqs"), key="requests")
        self.add_column(right("spend"), key="spend")
        self.add_column(right("margin"), key="margin")
        self.add_column(right("balance"), key="balance")
        self.add_column("reason", key="reason")

    def show(self, rows: Sequence[ChannelRow]) -> None:
        """Refill from the service's channel rows."""
        if rows != self._rows:
            self._rows = rows
            refill(self, [(str(row.id), _channel_cells(row)) for row in rows])


def _channel_cells(row: ChannelRow) -> Cells:
    return (
        right(str(row.id)),
        literal(row.name, 24),
        literal(row.status, style=_STATUS_STYLES.get(row.status, "")),
        literal(row.breaker, style=_BREAKER_STYLES.get(row.breaker, "")),
        right(millis(row.latency_ms)),
        right(percent(row.success_rate)),
        right(compact(row.requests)),
        right(usd(row.spend)),
        right(margin_cell(row.margin)),
        Text(row.balance, justify="right", style="bold red" if row.balance_low else ""),
        literal(row.reason, REASON_WIDTH),
    )


class BreakdownTable(DataTable[str | Text]):
    """One line per model, token or user: requests, errors, tokens, spend, latency; with
    ``runway``, when it runs out after the spend."""

    def __init__(self, first_column: str, *, id: str, runway: bool = False) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._first_column = first_column
        self._runway = runway
        self._shown: tuple[Sequence[GroupRow], Mapping[str, int]] | None = None

    def on_mount(self) -> None:
        self.add_column(self._first_column, key="label")
        runway = ("runs out",) if self._runway else ()
        for label in ("reqs", "err%", "tokens", "spend", *runway, "p50", "p95"):
            self.add_column(right(label), key=label)

    def show(self, rows: Sequence[GroupRow], runs_out: Mapping[str, int] | None = None) -> None:
        """Refill with the ``TOP`` first of the service's rows (sorted by spend); ``runs_out``
        is the seconds each row's key lasts at its recent rate (a runway table's)."""
        shown = (rows[:TOP], runs_out or {})
        if shown != self._shown:
            self._shown = shown
            refill(self, [(row.key, self._cells(row, shown[1])) for row in shown[0]])

    def _cells(self, row: GroupRow, runs_out: Mapping[str, int]) -> Cells:
        errors = row.errors / row.requests if row.requests else None
        seconds = runs_out.get(row.key)
        runway = (right("" if seconds is None else format_runway(seconds)),)
        return (
            literal(row.label, 28),
            right(compact(row.requests)),
            right(percent(errors)),
            right(tokens(row.prompt_tokens, row.completion_tokens)),
            right(usd(row.cost)),
            *(runway if self._runway else ()),
            right(millis(row.latency_p50_ms)),
            right(millis(row.latency_p95_ms)),
        )
