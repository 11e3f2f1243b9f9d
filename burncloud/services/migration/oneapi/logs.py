"""The peer's request logs as ours, and writing them the way the log writer does.

Only consume logs (``type`` 2) are requests; top-ups, admin actions and system messages
are not. A row becomes a ``logs`` row with ``request_id`` ``<flavor>-<peer log id>``, its
cost converted from the peer's units, its latency in ms (One API ``elapsed_time`` is ms,
New API ``use_time`` seconds), its cached tokens from New API's ``other`` JSON, and the
user, token and channel it names by their names here (ids are resolved when written: the
rows are read before the manifest is applied). Imported rows are history: they add to the
per-minute and per-hour rollups exactly as the log writer's rows do (``rollup``), and bill
nobody, as the users' and tokens' spend was imported with them. Writing skips a request id
the logs already hold, so importing twice adds nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from burncloud.db.base import Executor, batches
from burncloud.services.migration.oneapi.importer import PeerImport, load_peer
from burncloud.services.migration.oneapi.money import units_to_nano
from burncloud.services.migration.oneapi.peer_db import PeerDatabase
from burncloud.services.migration.oneapi.rows import Row, flag, json_object, number, text
from burncloud.services.rollup import MinuteTotals

CONSUME = 2  # the peers' LogTypeConsume
COLUMNS = (
    "id", "user_id", "created_at", "type", "model_name", "quota", "prompt_tokens",
    "completion_tokens", "channel_id", "token_name", "token_id", "elapsed_time", "use_time",
    "is_stream", "other",
)  # fmt: skip
_INSERTED = (
    "created_at", "request_id", "user_id", "token_id", "channel_id", "model", "endpoint",
    "prompt_tokens", "completion_tokens", "cached_tokens", "cost", "latency_ms", "status",
    "stream", "estimated", "error",
)  # fmt: skip
ROWS_PER_INSERT = 200  # x 16 columns stays far below both engines' parameter limits
IDS_PER_LOOKUP = 500


@dataclass(frozen=True, slots=True)
class LogRow:
    """One imported request: who sent it and through what, by name here (None: not
    imported), and what it cost (nano-USD)."""

    request_id: str
    created_at: int
    user: str | None
    token: tuple[str, str] | None  # (user, token name)
    channel: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: int
    latency_ms: int
    stream: bool


@dataclass(frozen=True, slots=True)
class IdMap:
    """Our ids of users, tokens and channels by name."""

    users: Mapping[str, int]
    tokens: Mapping[tuple[str, str], int]
    channels: Mapping[str, int]


async def read_oneapi_logs(
    peer: PeerDatabase,
    flavor: str,
    *,
    since: int | None,
    batch: int,
    loaded: PeerImport | None = None,
) -> AsyncIterator[list[LogRow]]:
    """The peer's consume logs from ``since`` (unix seconds; None: all) in batches of at
    most ``batch``, oldest id first. ``loaded`` is the peer already read (else it is read
    again, for the names its ids have here)."""
    known = loaded if loaded is not None else await load_peer(peer, flavor)
    columns = await peer.table_columns("logs")
    if not columns:
        return
    listed = ", ".join(peer.quote(name) for name in COLUMNS if name in columns)
    where = f"{peer.quote('type')} = {CONSUME}"
    if since is not None:
        where += f" AND {peer.quote('created_at')} >= {int(since)}"
    sql = f"SELECT {listed} FROM {peer.quote('logs')} WHERE {where}"
    async for rows in peer.iter_rows(sql, "id", batch):
        yield [_log_row(row, flavor, known) for row in rows]


def _log_row(row: Row, flavor: str, known: PeerImport) -> LogRow:
    seconds = number(row, "use_time")
    latency = number(row, "elapsed_time") if "elapsed_time" in row else seconds * 1000
    other = json_object(text(row, "other")) or {}
    quota = units_to_nano(max(number(row, "quota"), 0), known.options.quota_per_unit)
    return LogRow(
        request_id=f"{flavor}-{number(row, 'id')}",
        created_at=number(row, "created_at"),
        user=known.users.names.get(number(row, "user_id")),
        token=_token(row, known),
        channel=known.channels.names.get(number(row, "channel_id")),
        model=text(row, "model_name"),
        prompt_tokens=max(number(row, "prompt_tokens"), 0),
        completion_tokens=max(number(row, "completion_tokens"), 0),
        cached_tokens=_count(other.get("cache_tokens")),
        cost=quota.nano,
        latency_ms=max(latency, 0),
        stream=flag(row, "is_stream"),
    )


def _token(row: Row, known: PeerImport) -> tuple[str, str] | None:
    """New API logs name the token by id; One API's by its name, which is only an answer
    when that user has one token of the name."""
    token_id = number(row, "token_id")
    if token_id:
        return known.tokens.names.get(token_id)
    return known.tokens.by_peer_name.get((number(row, "user_id"), text(row, "token_name")))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


async def load_id_map(db: Executor) -> IdMap:
    """Our users', tokens' and channels' ids by name."""
    users = await db.fetch_all("SELECT id, name FROM users")
    tokens = await db.fetch_all(
        "SELECT t.id, t.name, u.name AS user_name FROM tokens t JOIN users u ON u.id = t.user_id"
    )
    channels = await db.fetch_all("SELECT id, name FROM channels")
    return IdMap(
        users={row["name"]: int(row["id"]) for row in users},
        tokens={(row["user_name"], row["name"]): int(row["id"]) for row in tokens},
        channels={row["name"]: int(row["id"]) for row in channels},
    )


@dataclass(frozen=True, slots=True)
class _Logged:
    """A log row with our ids: what the ``logs`` table and the rollup take."""

    created_at: int
    request_id: str
    user_id: int | None
    token_id: int | None
    channel_id: int | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: int
    latency_ms: int
    stream: bool
    status: int = 200
    upstream_cost: int | None = None  # unknown: the peers keep no cost of their own

    def values(self) -> tuple[Any, ...]:
        return (
            self.created_at, self.request_id, self.user_id, self.token_id, self.channel_id,
            self.model, "", self.prompt_tokens, self.completion_tokens, self.cached_tokens,
            self.cost, self.latency_ms, self.status, int(self.stream), 0, "",
        )  # fmt: skip


async def write_imported_logs(
    tx: Executor, rows: Sequence[LogRow], ids: IdMap | None = None
) -> int:
    """Insert the rows whose request id the logs do not hold yet and add them to the
    rollups, in ``tx``; how many were written. ``ids`` (default: read now) names our ids."""
    first: dict[str, LogRow] = {}
    for row in rows:
        first.setdefault(row.request_id, row)
    seen = await _existing(tx, list(first.values()))
    fresh = [row for row in first.values() if row.request_id not in seen]
    if not fresh:
        return 0
    known = ids if ids is not None else await load_id_map(tx)
    logged = [_with_ids(row, known) for row in fresh]
    for chunk in batches(logged, ROWS_PER_INSERT):
        await tx.execute(_insert_sql(len(chunk)), _params(chunk))
    totals = MinuteTotals()
    for entry in logged:
        totals.add(entry)
    await totals.write(tx)
    return len(logged)


def _with_ids(row: LogRow, ids: IdMap) -> _Logged:
    return _Logged(
        created_at=row.created_at,
        request_id=row.request_id,
        user_id=None if row.user is None else ids.users.get(row.user),
        token_id=None if row.token is None else ids.tokens.get(row.token),
        channel_id=None if row.channel is None else ids.channels.get(row.channel),
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        cost=row.cost,
        latency_ms=row.latency_ms,
        stream=row.stream,
    )


async def _existing(tx: Executor, rows: Sequence[LogRow]) -> set[str]:
    """The request ids of ``rows`` the logs already hold (looked up within the rows' time
    span, so the time index narrows the search)."""
    seen: set[str] = set()
    for chunk in batches(rows, IDS_PER_LOOKUP):
        params: dict[str, Any] = {f"r{i}": row.request_id for i, row in enumerate(chunk)}
        params["lo"] = min(row.created_at for row in chunk)
        params["hi"] = max(row.created_at for row in chunk)
        marks = ", ".join(f":r{i}" for i in range(len(chunk)))
        found = await tx.fetch_all(
            "SELECT request_id FROM logs WHERE created_at >= :lo AND created_at <= :hi"
            f" AND request_id IN ({marks})",
            params,
        )
        seen.update(str(row["request_id"]) for row in found)
    return seen


def _insert_sql(count: int) -> str:
    values = ", ".join(
        "(" + ", ".join(f":{column}_{i}" for column in _INSERTED) + ")" for i in range(count)
    )
    return f"INSERT INTO logs ({', '.join(_INSERTED)}) VALUES {values}"


def _params(chunk: Sequence[_Logged]) -> dict[str, Any]:
    return {
        f"{column}_{i}": value
        for i, entry in enumerate(chunk)
        for column, value in zip(_INSERTED, entry.values(), strict=True)
    }
