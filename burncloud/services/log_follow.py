"""Following the request log: every new row once, in id order, though rows commit out of it.

On PostgreSQL, routers write their batches concurrently: ids come from one sequence when a
row is inserted, but the transactions commit in any order, so a row can become visible after
a row with a higher id was already read. Reading ``id > last`` alone would skip it for good.
The follower remembers the ids it passed over (holes) and looks for them again until they
turn up or are older than ``HOLE_TTL`` (a rolled-back batch leaves a gap that never fills).
Ids are tracked over all rows; the filters apply only to the rows returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from burncloud.db.base import Executor
from burncloud.services.stats import LogLine, log_lines

HOLE_TTL = 30.0  # seconds a missing id is looked for; a batch commits well within this
MAX_HOLES = 10_000  # beyond this the oldest holes are given up
BATCH = 1_000  # new ids read per query; a poll reads on while batches come back full
_IN_CHUNK = 500  # ids per IN (...) list


class LogFollower:
    """New log rows since the follower started, each exactly once, oldest id first."""

    def __init__(
        self,
        db: Executor,
        *,
        model: str | None = None,
        token_id: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._model = model
        self._token_id = token_id
        self._clock = clock
        self._last: int | None = None
        self._holes: dict[int, float] = {}  # id -> when it was first missed

    async def start(self) -> None:
        """Begin after the newest row logged so far."""
        self._last = int(await self._db.fetch_value("SELECT MAX(id) FROM logs") or 0)

    async def poll(self) -> list[LogLine]:
        """The rows that became visible since the last poll and match the filters."""
        if self._last is None:
            await self.start()
        found = await self._filled_holes()
        while True:
            ids = await self._ids_after()
            found.extend(ids)
            if len(ids) < BATCH:
                break
        self._forget_old_holes()
        return await log_lines(self._db, sorted(found), model=self._model, token_id=self._token_id)

    async def _ids_after(self) -> list[int]:
        assert self._last is not None
        rows = await self._db.fetch_all(
            "SELECT id FROM logs WHERE id > :last ORDER BY id LIMIT :n",
            {"last": self._last, "n": BATCH},
        )
        ids = [int(row["id"]) for row in rows]
        missed_at = self._clock()
        expected = self._last + 1
        for rid in ids:
            for hole in range(max(expected, rid - MAX_HOLES), rid):
                self._holes[hole] = missed_at
            expected = rid + 1
        if ids:
            self._last = ids[-1]
        return ids

    async def _filled_holes(self) -> list[int]:
        filled: list[int] = []
        holes = sorted(self._holes)
        for start in range(0, len(holes), _IN_CHUNK):
            chunk = holes[start : start + _IN_CHUNK]
            params: dict[str, Any] = {f"h{i}": rid for i, rid in enumerate(chunk)}
            rows = await self._db.fetch_all(
                f"SELECT id FROM logs WHERE id IN ({', '.join(':' + name for name in params)})",
                params,
            )
            filled.extend(int(row["id"]) for row in rows)
        for rid in filled:
            del self._holes[rid]
        return filled

    def _forget_old_holes(self) -> None:
        cutoff = self._clock() - HOLE_TTL
        for rid in [rid for rid, at in self._holes.items() if at < cutoff]:
            del self._holes[rid]
        if len(self._holes) > MAX_HOLES:
            for rid in sorted(self._holes)[: len(self._holes) - MAX_HOLES]:
                del self._holes[rid]
