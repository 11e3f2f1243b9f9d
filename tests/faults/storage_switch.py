"""A switch that makes a router's SQLite connections refuse writes, as a read-only or
failing disk would, and then take them again: while the flag file exists, every connection
the process opened (or opens) has ``PRAGMA query_only`` set, and the engine answers writes
with its own read-only error (SQLITE_READONLY), the error a read-only file gives.

Why a switch: the fault tests may run as root, whom chmod does not stop, and a file
already open for writing stays writable whatever its mode becomes. It is installed by
``switch_site/sitecustomize.py`` in each worker process of a test's router; the router's
code is the same. Each process says on stderr when its switch flips.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from burncloud.db import sqlite
from burncloud.db.url import DatabaseUrl

POLL_SECONDS = 0.05

_opened: list[Any] = []
_state: dict[str, Any] = {"read_only": False, "watch": None}


def install(flag: str) -> None:
    """Make every SqliteDatabase of this process follow the flag file ``flag``."""
    connect = sqlite.SqliteDatabase.connect.__func__  # type: ignore[attr-defined]

    async def switchable(
        cls: type[sqlite.SqliteDatabase], url: DatabaseUrl, *, create: bool = True
    ) -> sqlite.SqliteDatabase:
        db = await connect(cls, url, create=create)
        _opened.append(db)
        if _state["watch"] is None:
            _state["watch"] = asyncio.get_running_loop().create_task(_watch(flag))
        await _apply(db)
        return db

    sqlite.SqliteDatabase.connect = classmethod(switchable)  # type: ignore[method-assign,assignment]


async def _watch(flag: str) -> None:
    while True:
        wanted = os.path.exists(flag)  # noqa: ASYNC240 - a test hook's tiny stat
        if wanted != _state["read_only"]:
            _state["read_only"] = wanted
            for db in list(_opened):
                await _apply(db)
            print(f"storage switch: read_only={wanted}", file=sys.stderr, flush=True)
        await asyncio.sleep(POLL_SECONDS)


async def _apply(db: Any) -> None:
    try:
        await db._conn.execute(f"PRAGMA query_only = {int(_state['read_only'])}")
    except ValueError:  # closed meanwhile
        _opened.remove(db)
