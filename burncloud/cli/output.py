"""Printing results: rich tables on a terminal, plain tab-separated text when piped, JSON.

Every human-readable value leaves through here, and through ``terminal_text``: a model
name, a request id or an upstream's error text can never move the cursor, draw a link or
forge a line, and a tab or newline in a value never breaks a tab-separated row. On a
terminal the cells are rich ``Text``, which is never parsed for markup. JSON stays exact:
it escapes control characters itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from burncloud.terminal_text import terminal_text

Column = tuple[str, str]  # (key in the record, header)


def terminal() -> Console | None:
    """The console to draw tables on; None when stdout is not a terminal (plain text)."""
    return Console() if sys.stdout.isatty() else None


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_line(text: str) -> None:
    """Print one line of text that may hold values from clients or upstreams."""
    print(terminal_text(text))


def print_tsv(values: Iterable[Any], *, flush: bool = False) -> None:
    """Print values as one tab-separated line."""
    print("\t".join(cell(value) for value in values), flush=flush)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> None:
    """Print records as a table (rich on a TTY, tab-separated with a header otherwise)."""
    console = terminal()
    if console is None:
        print_tsv(header for _, header in columns)
        for row in rows:
            print_tsv(row.get(key) for key, _ in columns)
        return
    table = Table(show_lines=False, header_style="bold")
    for _, header in columns:
        table.add_column(Text(cell(header)), overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell(row.get(key))) for key, _ in columns))
    console.print(table)


def print_record(record: Mapping[str, Any]) -> None:
    """Print one record as aligned ``key: value`` lines."""
    width = max((len(key) for key in record), default=0)
    for key, value in record.items():
        print(f"{cell(key).ljust(width)}  {cell(value)}")


def emit(
    data: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    as_json: bool,
    columns: Sequence[Column] | None = None,
) -> None:
    """Print a list as a table or one record as lines; JSON when asked."""
    if as_json:
        print_json(data)
    elif isinstance(data, Mapping):
        print_record(data)
    else:
        print_table(data, columns or [(key, key) for key in (data[0] if data else {})])


def cell(value: Any) -> str:
    """A value as the text of one cell: safe to print, on one line, without tabs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return terminal_text(text)
