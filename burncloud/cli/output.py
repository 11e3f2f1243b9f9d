"""Printing results: rich tables on a terminal, plain tab-separated text when piped, JSON."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

Column = tuple[str, str]  # (key in the record, header)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> None:
    """Print records as a table (rich on a TTY, tab-separated with a header otherwise)."""
    if not sys.stdout.isatty():
        print("\t".join(header for _, header in columns))
        for row in rows:
            print("\t".join(_cell(row.get(key)) for key, _ in columns))
        return
    table = Table(show_lines=False, header_style="bold")
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key, _ in columns))
    Console().print(table)


def print_record(record: Mapping[str, Any]) -> None:
    """Print one record as aligned ``key: value`` lines."""
    width = max((len(key) for key in record), default=0)
    for key, value in record.items():
        print(f"{key.ljust(width)}  {_cell(value)}")


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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)
