"""Request logs: filtered, paginated reads of the ``logs`` table, newest first by default.

Filter values are only ever bound parameters; the sort column and direction come from
fixed tables, never from input. The admin API (``GET /api/logs``) pages through
``query_logs``; `burncloud log list` reads ``named_lines``, the same filter with the
token's and channel's names. Pages are keyset-paginated: ``next`` is a cursor naming
the last row returned (its sort value and id), so paging never repeats or skips a row
while new ones arrive. An offset is accepted too, for clients that count pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import format_usd
from burncloud.services.logged_usage import decode_units, unit_json, usage_of_row
from burncloud.services.pricing import Usage
from burncloud.services.stats import LogLine, log_line

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_BIGINT = 2**63 - 1
SORT_COLUMNS = ("created_at", "cost", "latency_ms")
ORDERS = {"desc": ("DESC", "<"), "asc": ("ASC", ">")}  # order -> (SQL direction, keyset op)
_CURSOR = re.compile(r"([0-9]{1,19})_([0-9]{1,19})")

# filter field -> (column, operator): since <= created_at < until, the rest exact matches
_FILTERS = {
    "since": ("created_at", ">="),
    "until": ("created_at", "<"),
    "model": ("model", "="),
    "token_id": ("token_id", "="),
    "user_id": ("user_id", "="),
    "channel_id": ("channel_id", "="),
    "status": ("status", "="),
    "request_id": ("request_id", "="),
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One logged request; ``cost`` (what the caller paid) and ``upstream_cost`` (what the
    channel charges us, None: unknown) in nano-USD; ``units`` as the row stores them
    (``logged_usage``); ``price_version`` None when the request was not priced."""

    id: int
    created_at: int
    request_id: str
    user_id: int | None
    token_id: int | None
    channel_id: int | None
    model: str
    endpoint: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: int
    latency_ms: int
    ttft_ms: int | None
    status: int
    stream: bool
    estimated: bool
    error: str
    upstream_cost: int | None
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    audio_input_tokens: int
    audio_output_tokens: int
    image_input_tokens: int
    image_output_tokens: int
    units: str
    price_version: int | None
    group_ratio: str  # '' on rows logged before it was stored

    @classmethod
    def from_row(cls, row: Row) -> LogEntry:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["stream"] = bool(row["stream"])
        values["estimated"] = bool(row["estimated"])
        return cls(**values)

    def usage(self) -> Usage:
        """The usage this request was billed for."""
        return usage_of_row({f.name: getattr(self, f.name) for f in fields(self)})

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON: costs as decimal USD strings (null: unknown), units as a list."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cost"] = format_usd(self.cost)
        data["upstream_cost"] = (
            None if self.upstream_cost is None else format_usd(self.upstream_cost)
        )
        data["units"] = [unit_json(unit) for unit in decode_units(self.units)]
        data["group_ratio"] = self.group_ratio or None  # '': logged before it was stored
        return data


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which rows to read; None means "any". Times are unix seconds, ``until`` exclusive."""

    since: int | None = None
    until: int | None = None
    model: str | None = None
    token_id: int | None = None
    user_id: int | None = None
    channel_id: int | None = None
    status: int | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until", "token_id", "user_id", "channel_id", "status"):
            check_count(getattr(self, name), name)

    def where(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions (fixed text) and their bound parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for name, (column, operator) in _FILTERS.items():
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{column} {operator} :{name}")
                params[name] = value
        return clauses, params


@dataclass(frozen=True, slots=True)
class LogPage:
    """One page of entries and the cursor of the next page (None on the last page)."""

    entries: tuple[LogEntry, ...]
    next: str | None

    def to_json(self) -> dict[str, Any]:
        return {"data": [entry.to_json() for entry in self.entries], "next": self.next}


async def query_logs(
    db: Executor,
    filters: LogFilter | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    offset: int = 0,
    sort: str = "created_at",
    order: str = "desc",
) -> LogPage:
    """A page of log entries matching ``filters``; ``limit`` is capped at MAX_LIMIT."""
    if sort not in SORT_COLUMNS:
        raise InvalidRequest(f"cannot sort logs by {sort!r}: use one of {', '.join(SORT_COLUMNS)}")
    if order not in ORDERS:
        raise InvalidRequest(f"unknown order {order!r}: use asc or desc")
    if limit < 1:
        raise InvalidRequest("limit must be at least 1")
    check_count(offset, "offset")
    limit = min(limit, MAX_LIMIT)
    clauses, params = (filters or LogFilter()).where()
    direction, operator = ORDERS[order]
    if cursor is not None:
        params["after_value"], params["after_id"] = parse_cursor(cursor)
        clauses.append(
            f"({sort} {operator} :after_value"
            f" OR ({sort} = :after_value AND id {operator} :after_id))"
        )
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch_all(
        f"SELECT * FROM logs{where} ORDER BY {sort} {direction}, id {direction}"
        " LIMIT :limit OFFSET :offset",
        {**params, "limit": limit + 1, "offset": offset},
    )
    entries = tuple(LogEntry.from_row(row) for row in rows[:limit])
    more = len(rows) > limit
    return LogPage(entries, make_cursor(entries[-1], sort) if more else None)


async def get_log(db: Executor, request_id: str) -> LogEntry:
    """The row logged for ``request_id`` (the latest, if a client reused the id)."""
    row = await db.fetch_one(
        "SELECT * FROM logs WHERE request_id = :id ORDER BY id DESC LIMIT 1", {"id": request_id}
    )
    if row is None:
        raise NotFound(f"no logged request with id {request_id!r}")
    return LogEntry.from_row(row)


async def named_lines(
    db: Executor, filters: LogFilter | None = None, *, limit: int = DEFAULT_LIMIT
) -> list[LogLine]:
    """The newest entries matching ``filters`` (at most ``limit``, capped at MAX_LIMIT),
    with their token's and channel's names."""
    if limit < 1:
        raise InvalidRequest("limit must be at least 1")
    clauses, params = (filters or LogFilter()).where()
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch_all(
        "SELECT l.*, t.name AS token_name, c.name AS channel_name"
        f" FROM (SELECT * FROM logs{where} ORDER BY created_at DESC, id DESC LIMIT :limit) l"
        " LEFT JOIN tokens t ON t.id = l.token_id LEFT JOIN channels c ON c.id = l.channel_id"
        " ORDER BY l.created_at DESC, l.id DESC",
        {**params, "limit": min(limit, MAX_LIMIT)},
    )
    return [log_line(row) for row in rows]


def make_cursor(entry: LogEntry, sort: str = "created_at") -> str:
    """The cursor that continues a listing after ``entry``."""
    return f"{getattr(entry, sort)}_{entry.id}"


def parse_cursor(cursor: str) -> tuple[int, int]:
    """The (sort value, id) a cursor names; InvalidRequest if it is not one of ours."""
    match = _CURSOR.fullmatch(cursor.strip())
    if match is None or max(int(match[1]), int(match[2])) > MAX_BIGINT:
        raise InvalidRequest(f"invalid cursor {cursor!r}: pass the 'next' of the previous page")
    return int(match[1]), int(match[2])


def check_count(value: int | None, what: str) -> int | None:
    """``value`` if it is None or an integer a BIGINT column can hold, 0 or more."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise InvalidRequest(f"{what} must be a whole number from 0 to {MAX_BIGINT}")
    return value
