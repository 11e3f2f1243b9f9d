"""Read-only figures for the dashboard and `burncloud stats`: live rates, per-minute and
per-hour series, breakdowns by model, channel, token, user or user group, margins, and
recent log lines.

Counts, tokens, revenue and upstream costs come from the rollup the log writer keeps in
step with the logs (``log_minutes`` and ``log_hours``, one row per bucket and model,
channel, token, user or group), so a refresh reads thousands of rows instead of millions:
a window takes its whole hours from ``log_hours``, the whole minutes before its first hour
from ``log_minutes``, and the seconds before its first whole minute (under a minute of
rows, by index ``logs_time``) from the logs themselves, so a window given by ``since``
starts exactly at ``since``. One that starts before the minutes still kept
(``services.rollup``, 48 hours) starts at its hour.

Latency percentiles need single requests: they come from the raw logs (index
``logs_time``), over the newest requests of the window, at most ``LIVE_SAMPLE``,
``GROUP_SAMPLE`` or ``WINDOW_SAMPLE`` of them. They are exact for windows with fewer
requests, and beyond that describe the window's most recent requests.

A margin is revenue minus upstream cost over the requests whose upstream cost is known;
the others are counted beside it, never taken for $0 (``services.margins``). A request's
group is its user's group when it was logged; the seconds before a window's first minute,
read from the logs, take the user's current group.

An error is a status of 400 or more except 499 (the client went away): 429 and 5xx count.
Percentiles are nearest-rank. Times are unix seconds, money integer nano-USD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson

from burncloud.db.base import Executor, Row
from burncloud.db.schema import ROLLUP_DIMS
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services.margins import Margin
from burncloud.services.rollup import minutes_kept_from

# How many of the newest requests percentiles are taken over: bounded, so that reading them
# stays cheap (a few ms per thousand rows) however busy the window was.
LIVE_SAMPLE = 2_000  # the header's last minute
GROUP_SAMPLE = 1_000  # a breakdown's groups, per refresh of the dashboard's tables
WINDOW_SAMPLE = 100_000  # a window's totals (`burncloud stats`)
LIVE_WINDOW = 60
ERROR_SQL = "CASE WHEN status >= 400 AND status <> 499 THEN 1 ELSE 0 END"
GROUPINGS = ("model", "channel", "token", "user", "group")
# The key of a raw log row per dimension (the rollup's, and the group of its user now)
_LOG_KEYS = {
    **ROLLUP_DIMS,
    "group": "COALESCE((SELECT u.group_name FROM users u WHERE u.id = logs.user_id), '')",
}
# The margin columns of the rollup, and the same of one log row
_MARGIN_SUMS = (
    "SUM(upstream_cost) AS upstream, SUM(upstream_unknown) AS unknown,"
    " SUM(upstream_unknown_revenue) AS unknown_revenue"
)
_LOG_MARGIN = (
    "COALESCE(upstream_cost, 0) AS upstream_cost,"
    " CASE WHEN upstream_cost IS NULL THEN 1 ELSE 0 END AS upstream_unknown,"
    " CASE WHEN upstream_cost IS NULL THEN cost ELSE 0 END AS upstream_unknown_revenue"
)
_WINDOW = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class LiveSummary:
    """The dashboard header, over the last 60 s unless said."""

    requests_per_second: float
    requests_per_minute: int
    input_tokens_per_second: float
    output_tokens_per_second: float
    error_rate: float
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    ttft_p50_ms: int | None
    ttft_p95_ms: int | None
    spend_today: int
    active_channels: int
    disabled_channels: int
    last_request_at: int | None
    margin_today: Margin  # since 00:00 UTC, like spend_today


@dataclass(frozen=True, slots=True)
class MinutePoint:
    minute: int
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: int


@dataclass(frozen=True, slots=True)
class HourPoint:
    hour: int
    cost: int


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One line of a breakdown; ``key`` is the model or the id as text ('' for none)."""

    key: str
    label: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    margin: Margin

    def to_json(self) -> dict[str, Any]:
        """The row as JSON, amounts as decimal USD strings, the margin's fields inline."""
        return _json(self)


@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: int
    name: str
    type: str
    status: str
    reason: str
    latency_ms: int | None
    success_rate: float | None
    requests: int
    spend: int
    breaker: str
    margin: Margin
    balance: str = ""  # the upstream balance as last checked (``StoredBalance.cell``)
    balance_low: bool = False  # below its alert threshold


@dataclass(frozen=True, slots=True)
class LogLine:
    """A logs row for the live tail and `log list`, with the token's and channel's names."""

    id: int
    created_at: int
    request_id: str
    token_id: int | None
    token_name: str
    user_id: int | None
    model: str
    channel_id: int | None
    channel_name: str
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
    route: str  # the routing decision as stored (JSON text), '' when none was recorded

    def to_json(self) -> dict[str, Any]:
        """The line as JSON: the cost a decimal USD string, the route an object (or null)."""
        data = _json(self)
        data["route"] = _route_object(self.route)
        return data


def _route_object(route: str) -> Any:
    """The stored route trace as the object it encodes; None for none, the text itself if
    it is not JSON (rows are written by routers, so that would be a bug, not an input)."""
    if not route:
        return None
    try:
        return orjson.loads(route)
    except orjson.JSONDecodeError:
        return route


@dataclass(frozen=True, slots=True)
class Totals:
    """A window's totals for `burncloud stats`; ``sampled`` requests gave the percentiles."""

    since: int
    requests: int
    errors: int
    error_rate: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    latency_p99_ms: int | None
    sampled: int
    margin: Margin

    def to_json(self) -> dict[str, Any]:
        """The totals as JSON, amounts as decimal USD strings, the margin's fields inline."""
        return _json(self)


def _json(item: Any) -> dict[str, Any]:
    data = {f.name: getattr(item, f.name) for f in fields(item)}
    data["cost"] = format_usd(data["cost"])
    if isinstance(margin := data.pop("margin", None), Margin):
        data.update(margin.to_json())
    return data


def parse_window(text: str) -> int:
    """Seconds in a window like 30s, 15m, 1h, 24h or 7d."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise InvalidRequest(f"invalid window {text!r}: use a number and s, m, h or d, like 15m")
    return int(match[1]) * _UNIT[match[2]]


def percentile(ordered: Sequence[int], p: int) -> int | None:
    """The nearest-rank ``p``-th percentile of ascending ``ordered`` (None when empty)."""
    if not ordered:
        return None
    return ordered[max((p * len(ordered) + 99) // 100, 1) - 1]


def _int(value: Any) -> int:
    """SUM over no rows is NULL, and PostgreSQL's SUM(BIGINT) is a NUMERIC."""
    return int(value or 0)


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _window(dim: str) -> str:
    """The rows of one dimension from :since on: whole hours from :hour, whole minutes from
    :minute, and before that the single requests of the logs (":minute" is the first minute
    boundary at or after :since, ":hour" the first hour boundary at or after it)."""
    columns = (
        "key, requests, errors, prompt_tokens, completion_tokens, cached_tokens, cost,"
        " upstream_cost, upstream_unknown, upstream_unknown_revenue"
    )
    return (
        f"(SELECT {columns} FROM log_hours WHERE dim = '{dim}' AND hour >= :hour"
        f" UNION ALL SELECT {columns} FROM log_minutes WHERE dim = '{dim}'"
        " AND minute >= :minute AND minute < :hour"
        f" UNION ALL SELECT {_LOG_KEYS[dim]} AS key, 1 AS requests, {ERROR_SQL} AS errors,"
        f" prompt_tokens, completion_tokens, cached_tokens, cost, {_LOG_MARGIN} FROM logs"
        " WHERE created_at >= :since AND created_at < :minute) w"
    )


async def _window_params(db: Executor, since: int) -> dict[str, int]:
    """:since, :minute and :hour of a window from ``since``; from its hour if the minutes
    after ``since`` were pruned (the raw rows of an hour would be too many to read)."""
    minute = since + -since % 60
    if minute < await minutes_kept_from(db):
        since = minute = since - since % 3600
    return {"since": since, "minute": minute, "hour": minute + -minute % 3600}


async def live_summary(db: Executor, now: int) -> LiveSummary:
    """The header: rates over the 60 s up to ``now``, spend since 00:00 UTC, channels."""
    window = {"start": now - LIVE_WINDOW, "now": now, "n": LIVE_SAMPLE}
    counts = await db.fetch_one(
        f"SELECT COUNT(*) AS requests, SUM({ERROR_SQL}) AS errors,"
        " SUM(prompt_tokens) AS prompt, SUM(completion_tokens) AS completion"
        " FROM logs WHERE created_at > :start AND created_at <= :now",
        window,
    )
    assert counts is not None
    sample = await db.fetch_all(
        "SELECT latency_ms, ttft_ms, stream FROM logs"
        " WHERE created_at > :start AND created_at <= :now ORDER BY created_at DESC LIMIT :n",
        window,
    )
    latencies = sorted(row["latency_ms"] for row in sample)
    ttfts = sorted(row["ttft_ms"] for row in sample if row["stream"] and row["ttft_ms"] is not None)
    requests = _int(counts["requests"])
    active, disabled = await _channel_counts(db)
    today = await _margin_since(db, now - now % 86400, now)
    return LiveSummary(
        requests_per_second=requests / LIVE_WINDOW,
        requests_per_minute=requests,
        input_tokens_per_second=_int(counts["prompt"]) / LIVE_WINDOW,
        output_tokens_per_second=_int(counts["completion"]) / LIVE_WINDOW,
        error_rate=_rate(_int(counts["errors"]), requests),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        ttft_p50_ms=percentile(ttfts, 50),
        ttft_p95_ms=percentile(ttfts, 95),
        spend_today=today.revenue,
        active_channels=active,
        disabled_channels=disabled,
        last_request_at=await db.fetch_value("SELECT MAX(created_at) FROM logs"),
        margin_today=today,
    )


async def _margin_since(db: Executor, start: int, now: int) -> Margin:
    """Revenue and upstream cost in the hours from ``start`` (an hour boundary) to the one
    holding ``now``."""
    row = await db.fetch_one(
        f"SELECT SUM(cost) AS cost, SUM(requests) AS requests, {_MARGIN_SUMS} FROM log_hours"
        " WHERE dim = 'all' AND hour >= :start AND hour <= :now",
        {"start": start, "now": now},
    )
    assert row is not None
    return _margin_of(row)


def _margin_of(row: Row) -> Margin:
    """The margin of a row of sums: ``cost``, ``requests`` and ``_MARGIN_SUMS``' columns."""
    return Margin(
        revenue=_int(row["cost"]),
        requests=_int(row["requests"]),
        upstream_cost=_int(row["upstream"]),
        unknown=_int(row["unknown"]),
        unknown_revenue=_int(row["unknown_revenue"]),
    )


async def _channel_counts(db: Executor) -> tuple[int, int]:
    """Channels enabled, and disabled by an operator or automatically."""
    rows = await db.fetch_all("SELECT status, COUNT(*) AS n FROM channels GROUP BY status")
    counts = {row["status"]: int(row["n"]) for row in rows}
    return counts.get("enabled", 0), counts.get("disabled", 0) + counts.get("auto_disabled", 0)


async def minute_series(db: Executor, now: int, minutes: int = 60) -> list[MinutePoint]:
    """One point per minute, oldest first, the last one the minute holding ``now``."""
    end = now - now % 60
    start = end - (minutes - 1) * 60
    rows = await db.fetch_all(
        "SELECT minute, requests, errors, prompt_tokens, completion_tokens, cost"
        " FROM log_minutes WHERE dim = 'all' AND minute >= :start AND minute <= :end",
        {"start": start, "end": end},
    )
    found = {int(row["minute"]): row for row in rows}
    return [_minute_point(minute, found.get(minute)) for minute in range(start, end + 1, 60)]


def _minute_point(minute: int, row: Row | None) -> MinutePoint:
    if row is None:
        return MinutePoint(minute, 0, 0, 0, 0, 0)
    return MinutePoint(
        minute,
        row["requests"],
        row["errors"],
        row["prompt_tokens"],
        row["completion_tokens"],
        row["cost"],
    )


async def hourly_spend(db: Executor, now: int, hours: int = 24) -> list[HourPoint]:
    """Spend per hour, oldest first, the last one the hour holding ``now``."""
    end = now - now % 3600
    start = end - (hours - 1) * 3600
    rows = await db.fetch_all(
        "SELECT hour, cost FROM log_hours WHERE dim = 'all' AND hour >= :start AND hour <= :end",
        {"start": start, "end": end},
    )
    found = {int(row["hour"]): int(row["cost"]) for row in rows}
    return [HourPoint(hour, found.get(hour, 0)) for hour in range(start, end + 1, 3600)]


async def breakdown(db: Executor, since: int, by: str) -> list[GroupRow]:
    """Totals per model, channel, token, user or group since ``since``, the costliest first.

    ``key`` is the model, the group or the id as text, '' for requests without one;
    ``label`` the name ('(none)' for '', '#id' for a deleted one)."""
    if by not in GROUPINGS:
        raise InvalidRequest(f"cannot break down by {by!r}: use one of {', '.join(GROUPINGS)}")
    named = by not in ("model", "group")
    names = (
        f" LEFT JOIN {by}s n ON n.id = CASE WHEN r.k = '' THEN NULL ELSE CAST(r.k AS BIGINT) END"
        if named
        else ""
    )
    params = await _window_params(db, since)
    rows = await db.fetch_all(
        f"SELECT r.*, {'n.name' if named else 'r.k'} AS label FROM (SELECT key AS k,"
        " SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt,"
        f" SUM(completion_tokens) AS completion, SUM(cost) AS cost, {_MARGIN_SUMS}"
        f" FROM {_window(by)} GROUP BY key) r{names}",
        params,
    )
    column = f"{by}_id" if named else _LOG_KEYS[by]
    latencies = await _latencies_by(db, params["since"], column)
    found = [_group_row(row, latencies.get(row["k"], [])) for row in rows]
    return sorted(found, key=lambda g: (-g.cost, -g.requests, g.key))


def _group_row(row: Row, ordered: list[int]) -> GroupRow:
    key = row["k"]
    return GroupRow(
        key=key,
        label=row["label"] or (f"#{key}" if key else "(none)"),
        requests=_int(row["requests"]),
        errors=_int(row["errors"]),
        prompt_tokens=_int(row["prompt"]),
        completion_tokens=_int(row["completion"]),
        cost=_int(row["cost"]),
        latency_p50_ms=percentile(ordered, 50),
        latency_p95_ms=percentile(ordered, 95),
        margin=_margin_of(row),
    )


async def _latencies_by(db: Executor, since: int, column: str) -> dict[str, list[int]]:
    """Each group's latencies, ascending, over the newest requests of the window;
    ``column`` is a column or an expression over one row of ``logs``."""
    rows = await db.fetch_all(
        f"SELECT {column} AS k, latency_ms FROM logs WHERE created_at >= :start"
        " ORDER BY created_at DESC LIMIT :n",
        {"start": since, "n": GROUP_SAMPLE},
    )
    groups: dict[str, list[int]] = {}
    for row in rows:
        groups.setdefault("" if row["k"] is None else str(row["k"]), []).append(row["latency_ms"])
    for values in groups.values():
        values.sort()
    return groups


async def window_totals(db: Executor, since: int) -> Totals:
    """All requests since ``since``: counts from the rollup, percentiles from a sample."""
    params = await _window_params(db, since)
    row = await db.fetch_one(
        "SELECT SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt,"
        " SUM(completion_tokens) AS completion, SUM(cached_tokens) AS cached, SUM(cost) AS cost,"
        f" {_MARGIN_SUMS} FROM {_window('all')}",
        params,
    )
    assert row is not None
    sample = await db.fetch_all(
        "SELECT latency_ms FROM logs WHERE created_at >= :start ORDER BY created_at DESC LIMIT :n",
        {"start": params["since"], "n": WINDOW_SAMPLE},
    )
    latencies = sorted(r["latency_ms"] for r in sample)
    requests, errors = _int(row["requests"]), _int(row["errors"])
    return Totals(
        since=params["since"],
        requests=requests,
        errors=errors,
        error_rate=_rate(errors, requests),
        prompt_tokens=_int(row["prompt"]),
        completion_tokens=_int(row["completion"]),
        cached_tokens=_int(row["cached"]),
        cost=_int(row["cost"]),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        latency_p99_ms=percentile(latencies, 99),
        sampled=len(latencies),
        margin=_margin_of(row),
    )


async def channel_rows(db: Executor, since: int) -> list[ChannelRow]:
    """Every channel by id, with its health and its requests, spend and margin since
    ``since``.

    Its latency is the median of its newest requests in the window, else (no traffic) the
    one its last test or probe measured."""
    params = await _window_params(db, since)
    latencies = await _latencies_by(db, params["since"], "channel_id")
    rows = await db.fetch_all(
        "SELECT c.id, c.name, c.type, c.status, c.status_reason, c.latency_ms,"
        " c.success_count, c.failure_count, r.requests, r.cost, r.upstream, r.unknown,"
        " r.unknown_revenue FROM channels c"
        f" LEFT JOIN (SELECT key, SUM(requests) AS requests, SUM(cost) AS cost, {_MARGIN_SUMS}"
        f" FROM {_window('channel')} GROUP BY key) r"
        " ON r.key = CAST(c.id AS TEXT) ORDER BY c.id",
        params,
    )
    return [_channel_row(row, latencies.get(str(row["id"]), [])) for row in rows]


def _channel_row(row: Row, latencies: list[int]) -> ChannelRow:
    done = row["success_count"] + row["failure_count"]
    return ChannelRow(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        status=row["status"],
        reason=row["status_reason"],
        latency_ms=percentile(latencies, 50) if latencies else row["latency_ms"],
        success_rate=row["success_count"] / done if done else None,
        requests=_int(row["requests"]),
        spend=_int(row["cost"]),
        breaker="",
        margin=_margin_of(row),
    )


async def recent_logs(
    db: Executor, *, after_id: int | None = None, limit: int = 100
) -> list[LogLine]:
    """The dashboard's tail: the newest log rows first (by time), or only the rows written
    after ``after_id`` (by id). `log list` filters with ``services.logs.named_lines``."""
    params: dict[str, Any] = {"limit": max(limit, 0)}
    where, order = "", "l.created_at DESC, l.id DESC"
    if after_id is not None:
        where, order = " WHERE l.id > :after_id", "l.id DESC"
        params["after_id"] = after_id
    rows = await db.fetch_all(
        "SELECT l.*, t.name AS token_name, c.name AS channel_name FROM logs l"
        " LEFT JOIN tokens t ON t.id = l.token_id LEFT JOIN channels c ON c.id = l.channel_id"
        f"{where} ORDER BY {order} LIMIT :limit",
        params,
    )
    return [log_line(row) for row in rows]


_FOLLOW_FILTERS = {"model": "l.model = :model", "token_id": "l.token_id = :token_id"}


async def log_lines(
    db: Executor, ids: Sequence[int], *, model: str | None = None, token_id: int | None = None
) -> list[LogLine]:
    """The log rows with these ``ids`` that match the filters, by id."""
    lines: list[LogLine] = []
    given = {"model": model, "token_id": token_id}
    where = [_FOLLOW_FILTERS[name] for name, value in given.items() if value is not None]
    filters = {name: value for name, value in given.items() if value is not None}
    for start in range(0, len(ids), 500):
        chunk = {f"i{n}": rid for n, rid in enumerate(ids[start : start + 500])}
        rows = await db.fetch_all(
            "SELECT l.*, t.name AS token_name, c.name AS channel_name FROM logs l"
            " LEFT JOIN tokens t ON t.id = l.token_id LEFT JOIN channels c ON c.id = l.channel_id"
            f" WHERE l.id IN ({', '.join(':' + name for name in chunk)})"
            f"{''.join(' AND ' + condition for condition in where)} ORDER BY l.id",
            {**chunk, **filters},
        )
        lines.extend(log_line(row) for row in rows)
    return lines


def log_line(row: Row) -> LogLine:
    """A logs row joined with ``token_name`` and ``channel_name`` as a LogLine."""
    values = {f.name: row[f.name] for f in fields(LogLine)}
    values["token_name"] = row["token_name"] or ""
    values["channel_name"] = row["channel_name"] or ""
    values["stream"], values["estimated"] = bool(row["stream"]), bool(row["estimated"])
    return LogLine(**values)
