"""The request rollup: adding a batch of requests to its per-minute and per-hour totals,
how long the per-minute rows are kept, and pruning them.

The log writer adds every batch it writes (``MinuteTotals``), in the transaction that
inserts the batch's log rows, so the totals and the logs always agree; stats read them.
``log_minutes`` holds one row per minute and model, channel, token, user and user group:
kept forever it would outgrow the logs' own index. Minutes older than ``MINUTES_KEPT`` are
deleted (whole hours at a time; ``log_hours`` keeps their totals), and the first minute
still kept is recorded, so a stats window that starts before it starts at its hour instead
of silently missing minutes.

Beside the revenue (``cost``) a bucket totals the upstream cost of its requests whose
cost is known, and counts those whose upstream cost is unknown with their revenue
(``services.margins``). The group of a request is its user's group when the batch is
written (one read of ``users`` per batch): a user who changes group leaves the traffic
sent before with the group it was sent in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Protocol

from burncloud.db.base import Database, Executor, batches

MINUTES_KEPT = 48 * 3600  # seconds of per-minute rows kept
# The rollup tables of the schema's migration 4: (table, time column, bucket seconds)
ROLLUP_TABLES = (("log_minutes", "minute", 60), ("log_hours", "hour", 3600))
TOTALS = (
    "requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "cost",
    "latency_ms_sum", "upstream_cost", "upstream_unknown", "upstream_unknown_revenue",
)  # fmt: skip
ROWS_PER_UPSERT = 200  # x 13 columns stays far below both engines' parameter limits
USERS_PER_READ = 512  # a power of two: see user_groups
MinuteKey = tuple[int, str, int | None, int | None, int | None]  # minute, then the dims
BucketKey = tuple[str, int, str]  # dim, bucket start, key (the model, a group, an id as text)


class Logged(Protocol):
    """What the rollup reads of a logged request (the log writer's ``LogRecord``)."""

    @property
    def created_at(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def channel_id(self) -> int | None: ...
    @property
    def token_id(self) -> int | None: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def status(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cost(self) -> int: ...
    @property
    def latency_ms(self) -> int: ...
    @property
    def upstream_cost(self) -> int | None: ...


class MinuteTotals:
    """A batch of requests summed per minute and (model, channel, token, user)."""

    __slots__ = ("_minutes",)

    def __init__(self) -> None:
        self._minutes: dict[MinuteKey, list[int]] = {}

    def add(self, request: Logged) -> None:
        """Count one request; an error is a status of 400 or more but 499 (the client went
        away), an upstream cost of None is unknown (never $0)."""
        r = request
        key = (r.created_at - r.created_at % 60, r.model, r.channel_id, r.token_id, r.user_id)
        error = int(r.status >= 400 and r.status != 499)
        unknown = r.upstream_cost is None
        values = (
            1, error, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.cost,
            r.latency_ms, r.upstream_cost or 0, int(unknown), r.cost if unknown else 0,
        )  # fmt: skip
        totals = self._minutes.setdefault(key, [0] * len(TOTALS))
        for i, value in enumerate(values):
            totals[i] += value

    async def write(self, tx: Executor) -> None:
        """Add the batch to log_minutes, then log_hours, each in key order: concurrent
        writers lock the rows in one order, so they never deadlock."""
        groups = await user_groups(tx, {key[4] for key in self._minutes})
        for table, time_column, span in ROLLUP_TABLES:
            items = list(_buckets(self._minutes, span, groups).items())
            for chunk in batches(items, ROWS_PER_UPSERT):
                params = {
                    f"{column}_{i}": value
                    for i, ((dim, bucket, key), totals) in enumerate(chunk)
                    for column, value in zip(
                        (time_column, "dim", "key", *TOTALS),
                        (bucket, dim, key, *totals),
                        strict=True,
                    )
                }
                await tx.execute(_upsert_sql(table, time_column, len(chunk)), params)


async def user_groups(db: Executor, user_ids: Iterable[int | None]) -> dict[int, str]:
    """The group of each of these users that still exists, by id."""
    ids = sorted(uid for uid in set(user_ids) if uid is not None)
    groups: dict[int, str] = {}
    for start in range(0, len(ids), USERS_PER_READ):
        part = ids[start : start + USERS_PER_READ]
        # Padded to a power of two with the last id: a handful of statement texts, each
        # rewritten and prepared once, whatever the batch.
        part += part[-1:] * ((1 << (len(part) - 1).bit_length()) - len(part))
        chunk = {f"u{n}": uid for n, uid in enumerate(part)}
        rows = await db.fetch_all(
            f"SELECT id, group_name FROM users WHERE id IN ({', '.join(':' + k for k in chunk)})",
            chunk,
        )
        groups.update({int(row["id"]): row["group_name"] for row in rows})
    return groups


def _buckets(
    minutes: Mapping[MinuteKey, list[int]], span: int, groups: Mapping[int, str]
) -> dict[BucketKey, list[int]]:
    """The batch's totals per ``span``-second bucket, overall and per model, channel, token,
    user (ids as text, '' for none) and user group ('' for no user, or one deleted since),
    in key order: the order rows are locked in."""
    buckets: dict[BucketKey, list[int]] = {}
    for (minute, model, channel_id, token_id, user_id), values in minutes.items():
        bucket = minute - minute % span
        group = "" if user_id is None else groups.get(user_id, "")
        for dim, key in (
            ("all", ""),
            ("model", model),
            ("channel", _id_key(channel_id)),
            ("token", _id_key(token_id)),
            ("user", _id_key(user_id)),
            ("group", group),
        ):
            totals = buckets.setdefault((dim, bucket, key), [0] * len(TOTALS))
            for i, value in enumerate(values):
                totals[i] += value
    return dict(sorted(buckets.items()))


def _id_key(rid: int | None) -> str:
    return "" if rid is None else str(rid)


@lru_cache(maxsize=32)  # 2 tables x the sizes of batch_sizes
def _upsert_sql(table: str, time_column: str, rows: int) -> str:
    """Add ``rows`` buckets' totals to ``table``, creating the rows that are new."""
    columns = (time_column, "dim", "key", *TOTALS)
    values = ", ".join(
        "(" + ", ".join(f":{column}_{i}" for column in columns) + ")" for i in range(rows)
    )
    updates = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in TOTALS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"
        f" ON CONFLICT (dim, {time_column}, key) DO UPDATE SET {updates}"
    )


_KEPT_FROM = "rollup.minutes_kept_from"


async def prune_minutes(db: Database, now: int) -> int:
    """Delete the minute rows from before ``now - MINUTES_KEPT`` (an hour boundary); how many."""
    cutoff = now - MINUTES_KEPT
    cutoff -= cutoff % 3600
    async with db.transaction() as tx:
        deleted = await tx.execute("DELETE FROM log_minutes WHERE minute < :c", {"c": cutoff})
        kept_from = await minutes_kept_from(tx)
        if cutoff > kept_from:  # not a config change: no version bump, no reloads
            await tx.execute(
                "INSERT INTO settings (key, value) VALUES (:k, :v)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"k": _KEPT_FROM, "v": str(cutoff)},
            )
    return deleted


async def minutes_kept_from(db: Executor) -> int:
    """The first minute whose rows are still kept (0: nothing was pruned yet)."""
    value = await db.fetch_value("SELECT value FROM settings WHERE key = :k", {"k": _KEPT_FROM})
    return int(value) if value is not None else 0
