"""Reading a peer's rows: columns that older versions lack, NULLs, lists kept as text and
JSON kept as text, the same on every engine (``peer_db`` gives plain values)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from burncloud.services.migration.oneapi.peer_db import PeerDatabase

Row = Mapping[str, Any]


def text(row: Row, column: str) -> str:
    """The column as text ('' when missing or NULL)."""
    value = row.get(column)
    return "" if value is None else str(value)


def number(row: Row, column: str, default: int = 0) -> int:
    """The column as an integer (``default`` when missing, NULL or not a number)."""
    value = row.get(column)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def flag(row: Row, column: str) -> bool:
    """The column as a boolean (0/1, true/false; False when missing)."""
    value = row.get(column)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true")
    return bool(value)


def split_list(value: str, separators: str = ",") -> list[str]:
    """The stripped, non-empty, de-duplicated items of a list kept as text."""
    for separator in separators[1:]:
        value = value.replace(separator, separators[0])
    items = (item.strip() for item in value.split(separators[0]))
    return list(dict.fromkeys(item for item in items if item))


def json_object(value: str) -> dict[str, Any] | None:
    """The JSON object a text column holds: {} when empty, None when it is not one."""
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


async def select(peer: PeerDatabase, table: str, wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of ``table`` with those of ``wanted`` columns it has (older versions lack
    some), ordered by id; [] when the table is missing."""
    columns = await peer.table_columns(table)
    present = [name for name in wanted if name in columns]
    if not present:
        return []
    listed = ", ".join(peer.quote(name) for name in present)
    order = f" ORDER BY {peer.quote('id')}" if "id" in columns else ""
    return await peer.fetch_all(f"SELECT {listed} FROM {peer.quote(table)}{order}")


def live(rows: Iterable[Row]) -> tuple[list[Row], int]:
    """The rows not soft-deleted (New API's ``deleted_at``), and how many were."""
    every = list(rows)
    kept = [row for row in every if row.get("deleted_at") in (None, "")]
    return kept, len(every) - len(kept)
