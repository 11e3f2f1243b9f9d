"""The router under the retention bench: one worker's app, served on Hypercorn as a worker of
``burncloud router`` serves it, with the log writer's flushes timed:

    python bench/retention_router.py PORT      (settings from the environment)

Why not ``burncloud router``: the flushes happen inside the worker, and burncloud/ is not
the bench's to instrument. This process wraps ``LogWriter._write_batch``, the step that
writes one batch in one transaction (``flush`` repeats it while rows wait), and times
each call from its start to its return: the wait for the writer's own lock and the
database's write turn, BEGIN, the inserts, the rollup and the billing, COMMIT. Everything
else is the product's: the app (``create_app``), its runtime and lifespan,
``serve_on_hypercorn`` with the settings' limits, uvloop when installed.

Three routes under ``/bench/`` are answered here, not by the app (loopback only):

- ``GET /bench/flushes``: the flushes since the last call, ``[[start, seconds, rows,
  seconds waiting to begin, of which in WriterTurns.take], ...]`` (``start`` on the
  machine's monotonic clock, as the driver's ``time.monotonic()``; rows -1: the flush
  failed), then forgotten.
- ``POST /bench/prune?days=N``: starts the background pruner as the runtime does
  (``gateway.upkeep.log_pruner.LogPruner`` on the runtime's database and shared state, its
  first round at once) with a retention of N days; 202.
- ``GET /bench/prune``: ``{"started", "finished", "rows", "bytes_freed", "batches",
  "vacuums"}``, the batches as ``[[called, seconds to begin, seconds held, turn], ...]`` (held:
  from beginning to COMMIT, how long the pruner keeps a flush waiting), SQLite's
  ``PRAGMA incremental_vacuum`` as ``[[start, seconds]]``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs

from burncloud.config import Settings
from burncloud.db.base import Database, Executor
from burncloud.db.sqlite import WriterTurns
from burncloud.gateway.asgi import Receive, Scope, Send
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.gateway.upkeep import log_pruner
from burncloud.gateway.upkeep.log_pruner import LogPruner
from burncloud.serving.limits import ServerLimits
from burncloud.serving.listener import open_listener
from burncloud.serving.on_hypercorn import serve_on_hypercorn

Timing = list[list[float]]
FLUSHES: Timing = []
BATCHES: Timing = []
VACUUMS: Timing = []
TURN_WAIT: ContextVar[float] = ContextVar("turn_wait", default=0.0)


def time_flushes() -> None:
    """Wrap the writer's one-transaction-per-batch step so that every call is recorded in
    FLUSHES (``flush`` itself loops over batches while rows keep arriving: under load one
    call of it spans many transactions), with the part of it spent waiting to begin its
    transaction; the writer gets its database through ``_TimedDatabase`` for that."""
    write_batch = getattr(LogWriter, "_write_batch", None)
    if write_batch is None:
        raise SystemExit("LogWriter._write_batch is gone: update bench/retention_router.py")
    init = LogWriter.__init__
    transactions: Timing = []

    def timed_init(self: LogWriter, db: Database, *args: Any, **kwargs: Any) -> None:
        init(self, _TimedDatabase(db, transactions), *args, **kwargs)  # type: ignore[arg-type]

    async def timed_write_batch(self: LogWriter) -> int:
        started, before = time.monotonic(), len(transactions)
        rows = -1
        try:
            rows = await write_batch(self)
        finally:
            waited = sum(t[1] for t in transactions[before:])
            turn = sum(t[3] for t in transactions[before:])
            FLUSHES.append([started, time.monotonic() - started, rows, waited, turn])
            del transactions[:]
        return rows

    LogWriter.__init__ = timed_init  # type: ignore[method-assign]
    LogWriter._write_batch = timed_write_batch  # type: ignore[method-assign]


def time_turns() -> None:
    """Time SQLite's ``WriterTurns.take`` (the ``flock`` every write transaction waits on)
    into TURN_WAIT, which the transaction's own task then reads."""
    take = WriterTurns.take

    async def timed_take(self: WriterTurns) -> None:
        started = time.monotonic()
        await take(self)
        TURN_WAIT.set(time.monotonic() - started)

    WriterTurns.take = timed_take  # type: ignore[method-assign]


def time_prune_batches() -> None:
    """Time each of ``prune_logs``' transactions into BATCHES, and SQLite's closing
    ``PRAGMA incremental_vacuum`` into VACUUMS."""
    prune_logs = vars(log_pruner)["prune_logs"]

    async def timed_prune_logs(db: Database, before: int, **kwargs: Any) -> Any:
        timed = _TimedDatabase(db, BATCHES)
        return await prune_logs(timed, before, **kwargs)  # type: ignore[arg-type]

    vars(log_pruner)["prune_logs"] = timed_prune_logs  # looked up there at each round


class _TimedDatabase:
    """A database whose transactions are timed into ``into`` as ``[called, seconds to begin,
    seconds from then to COMMIT, seconds of the beginning spent in WriterTurns.take]``, and
    its incremental vacuums into VACUUMS; the rest passes through."""

    def __init__(self, db: Database, into: Timing) -> None:
        self._db = db
        self._into = into

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        called = time.monotonic()
        TURN_WAIT.set(0.0)
        async with self._db.transaction() as tx:
            entered = time.monotonic()
            turn = TURN_WAIT.get()
            yield tx
        self._into.append([called, entered - called, time.monotonic() - entered, turn])

    async def fetch_all(self, sql: str, params: Any = None) -> Any:
        started = time.monotonic()
        rows = await self._db.fetch_all(sql, params)
        if "incremental_vacuum" in sql:
            VACUUMS.append([started, time.monotonic() - started])
        return rows


class PruneRun:
    """The background pruner started on the bench's cue, and what it did."""

    def __init__(self) -> None:
        self.pruner: LogPruner | None = None
        self.report: dict[str, Any] = {}

    async def start(self, app: Any, days: int) -> None:
        runtime = app.runtime
        self.report = {"started": time.monotonic(), "finished": None, "days": days}
        BATCHES.clear()
        VACUUMS.clear()
        report = self.report

        class ReportingPruner(LogPruner):
            async def prune_once(self) -> Any:
                try:
                    pruned = await super().prune_once()
                except BaseException as exc:
                    report.update(finished=time.monotonic(), error=repr(exc))
                    raise
                report.update(
                    finished=time.monotonic(), rows=pruned.rows, bytes_freed=pruned.bytes_freed
                )
                return pruned

        self.pruner = ReportingPruner(runtime.db, runtime.state, days)
        await self.pruner.start()  # its first round runs at once, in its own task

    async def status(self) -> dict[str, Any]:
        if self.report.get("finished") is not None and self.pruner is not None:
            await self.pruner.stop()
            self.pruner = None
        return {**self.report, "batches": list(BATCHES), "vacuums": list(VACUUMS)}


class BenchRoutes:
    """The app, with ``/bench/...`` answered here."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._prune = PruneRun()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/bench/"):
            await self._app(scope, receive, send)
            return
        route = (scope["method"], scope["path"])
        if route == ("GET", "/bench/flushes"):
            taken = list(FLUSHES)
            del FLUSHES[: len(taken)]
            await _answer(send, 200, taken)
        elif route == ("POST", "/bench/prune"):
            days = int(parse_qs(scope["query_string"].decode())["days"][0])
            await self._prune.start(self._app, days)
            await _answer(send, 202, {"days": days})
        elif route == ("GET", "/bench/prune"):
            await _answer(send, 200, await self._prune.status())
        else:
            await _answer(send, 404, {"error": "no such bench route"})


async def _answer(send: Send, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main(port: int) -> int:
    time_turns()
    time_flushes()
    time_prune_batches()
    settings = Settings.from_env()
    from burncloud.server import create_app

    app = create_app(settings)
    listener = open_listener("127.0.0.1", port)
    uvloop = importlib.util.find_spec("uvloop") is not None
    limits = ServerLimits.from_settings(settings)
    clean = serve_on_hypercorn(BenchRoutes(app), listener.fileno(), settings, limits, uvloop)
    return 0 if clean else 3


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
