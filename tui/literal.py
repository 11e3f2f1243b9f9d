"""What the dashboard draws of clients' and upstreams' text: literally, never as commands.

Textual parses a ``str`` in a DataTable cell, a Static or a border title as markup, so a
model named ``[/x]`` would crash a refresh and ``[link=...]`` would draw a link; and a
control character in a request id would reach the terminal. Everything drawn that holds a
value from the database goes through here: the text is escaped by
``burncloud.terminal_text`` and handed to Textual as rich ``Text``, which is never parsed.
The tables pass every row through ``literal_cells``, so a cell cannot skip it.
"""

from __future__ import annotations

from collections.abc import Iterable

from burncloud_tui.figures import clip
from rich.text import Text

from burncloud.terminal_text import terminal_text


def literal(value: object, width: int | None = None, *, style: str = "") -> Text:
    """``value`` as Text drawn as it reads, cut to ``width`` characters when given."""
    text = terminal_text(str(value))
    return Text(text if width is None else clip(text, width), style=style)


def literal_cells(cells: Iterable[str | Text]) -> tuple[Text, ...]:
    """A table row's cells, each as Text: a ``str`` drawn literally, a ``Text`` (the
    dashboard's own, styled) kept, unless it holds a character to escape."""
    return tuple(_literal_cell(cell) for cell in cells)


def _literal_cell(cell: str | Text) -> Text:
    if not isinstance(cell, Text):
        return literal(cell)
    if cell.plain.isprintable():
        return cell
    return Text(terminal_text(cell.plain), style=cell.style, justify=cell.justify)
