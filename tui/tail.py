"""The live tail: the newest requests on top, pausable, filterable, each openable for details.

The tail keeps the last ``KEEP`` rows it was given; the filter (``/``) narrows what is
shown without a query, so typing stays instant. Enter on a row posts ``LiveTail.Opened``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from burncloud_tui.figures import clock, millis, tokens, usd
from burncloud_tui.literal import literal, literal_cells
from burncloud_tui.tables import Cells, refill, right, selected_key
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

if TYPE_CHECKING:
    from burncloud.services.stats import LogLine

KEEP = 500

COLUMNS = ("time", "status", "model", "key", "tokens", "cost", "latency", "channel")


def matches(line: LogLine, text: str) -> bool:
    """Whether every word of ``text`` is in the row's model, key, channel or status."""
    haystack = f"{line.model} {line.token_name} {line.channel_name} {line.status}".lower()
    return all(word in haystack for word in text.lower().split())


def status_cell(status: int) -> Text:
    """The HTTP status, green when it succeeded, yellow for 429 and 499, red otherwise."""
    if status < 400:
        style = "green"
    elif status in (429, 499):
        style = "yellow"
    else:
        style = "bold red"
    return Text(str(status), style=style)


class TimeCell(Text):
    """The time column's cell; it carries the row's log id, which orders the tail."""

    def __init__(self, line: LogLine) -> None:
        super().__init__(clock(line.created_at))
        self.log_id = line.id


def _newest_first(cells: tuple[TimeCell, ...]) -> int:
    """The tail's sort key: a row's cells start with its TimeCell."""
    return -cells[0].log_id


def tail_cells(line: LogLine) -> Cells:
    """One tail row; the channel last, as the first to go on a narrow terminal."""
    return (
        TimeCell(line),
        status_cell(line.status),
        literal(line.model, 18),
        literal(line.token_name or "-", 12),
        right(tokens(line.prompt_tokens, line.completion_tokens)),
        right(usd(line.cost)),
        right(millis(line.latency_ms)),
        literal(line.channel_name or "-", 14),
    )


class LiveTail(Vertical):
    """A filter input over the tail table; the input shows only while filtering."""

    class Opened(Message):
        """Enter was pressed on a row of the tail."""

        def __init__(self, line: LogLine) -> None:
            super().__init__()
            self.line = line

    def __init__(self, *, id: str, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self.lines: list[LogLine] = []  # newest first
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: model, key, channel or status", id="tail-filter")
        yield DataTable(id="tail-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#tail-table", DataTable)
        for label in COLUMNS:
            table.add_column(right(label) if label in ("tokens", "cost", "latency") else label)

    def add(self, new: Sequence[LogLine]) -> None:
        """Put ``new`` (newest first) on top of the tail, dropping rows past ``KEEP``.

        Only the new rows are measured and added, then the rows are re-ordered: a full
        refill of hundreds of rows would hold the message loop up on every refresh. A cursor
        on the top row follows the newest request; one further down stays on its request.
        """
        if not new:
            return
        self.lines = [*new, *self.lines][:KEEP]
        table = self._table()
        following = table.cursor_row == 0
        selected = selected_key(table)
        for line in new:
            if matches(line, self.filter_text) and str(line.id) not in table.rows:
                table.add_row(*literal_cells(tail_cells(line)), key=str(line.id))
        kept = {str(line.id) for line in self.lines}
        for row_key in [key for key in table.rows if key.value not in kept]:
            table.remove_row(row_key)
        table.sort(key=_newest_first)
        if selected is not None and not following and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def shown(self) -> list[LogLine]:
        """The rows that pass the filter, newest first."""
        return [line for line in self.lines if matches(line, self.filter_text)]

    def open_filter(self) -> None:
        """Show the filter input and focus it."""
        self.add_class("-filtering")
        self.query_one("#tail-filter", Input).focus()

    @on(Input.Changed, "#tail-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._redraw()

    @on(Input.Submitted, "#tail-filter")
    def _filter_done(self) -> None:
        self.query_one("#tail-table", DataTable).focus()
        if not self.filter_text:
            self.remove_class("-filtering")

    def clear_filter(self) -> None:
        """Drop the filter, hide the input and go back to the table."""
        self.query_one("#tail-filter", Input).value = ""
        self.filter_text = ""
        self.remove_class("-filtering")
        self.query_one("#tail-table", DataTable).focus()
        self._redraw()

    @on(DataTable.RowSelected, "#tail-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        wanted = int(str(event.row_key.value))
        line = next((line for line in self.lines if line.id == wanted), None)
        if line is not None:
            self.post_message(self.Opened(line))

    def _table(self) -> DataTable[str | Text]:
        return self.query_one("#tail-table", DataTable)

    def _redraw(self) -> None:
        refill(self._table(), [(str(line.id), tail_cells(line)) for line in self.shown()])
