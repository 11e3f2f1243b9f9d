"""What every database offers, whatever the engine: the ``Executor`` and ``Database``
protocols, the row type, and SQL parameters written once as ``:name``.

SQL is written once, with ``:name`` parameters, in the subset both engines share
(``RETURNING``, ``ON CONFLICT``, integer money and timestamps); ``to_positional`` rewrites
them into each driver's numbered form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from burncloud.db.url import DatabaseUrl

Row = dict[str, Any]
Params = Mapping[str, Any] | None

T = TypeVar("T")

HOW_TO_CREATE = "create it with `burncloud init` (or any write command, or `burncloud router`)"


class Executor(Protocol):
    """What a database and an open transaction both offer."""

    dialect: str

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None: ...
    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]: ...
    async def fetch_value(self, sql: str, params: Params = None) -> Any: ...
    async def execute(self, sql: str, params: Params = None) -> int: ...
    async def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...


class Database(Executor, Protocol):
    """A connection pool with transactions; opened once, closed once."""

    url: DatabaseUrl

    def transaction(self) -> AbstractAsyncContextManager[Executor]: ...
    async def close(self) -> None: ...


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=1024)
def to_positional(sql: str, marker: str = "$") -> tuple[str, tuple[str, ...]]:
    """Rewrite ``:name`` parameters as numbered ones (``$n`` for asyncpg, ``?n`` for
    SQLite); return the names in order.

    SQLite gets numbered parameters too: Python's sqlite3 binds named ones far more slowly
    and, while the event loop keeps the GIL busy, can stall a statement for seconds.
    """
    numbers: dict[str, str] = {}  # a multi-row INSERT has thousands of names: no list scans

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        found = numbers.get(name)
        if found is None:
            found = numbers[name] = f"{marker}{len(numbers) + 1}"
        return found

    return _PARAMETER.sub(number, sql), tuple(numbers)


def bind(sql: str, params: Params, marker: str = "$") -> tuple[str, list[Any]]:
    query, names = to_positional(sql, marker)
    params = params or {}
    return query, [params[name] for name in names]


def batch_sizes(count: int, largest: int) -> list[int]:
    """``count`` rows as full statements of ``largest`` rows and powers of two for the
    rest: a many-row statement's text (kilobytes, with its parameter rewrite) is built and
    cached per size, so only a handful of sizes are ever made, however batches vary."""
    sizes = [largest] * (count // largest)
    rest = count % largest
    sizes += [1 << bit for bit in reversed(range(rest.bit_length())) if rest >> bit & 1]
    return sizes


def batches(items: Sequence[T], largest: int) -> Iterator[Sequence[T]]:
    """``items`` cut by ``batch_sizes``."""
    start = 0
    for size in batch_sizes(len(items), largest):
        yield items[start : start + size]
        start += size
