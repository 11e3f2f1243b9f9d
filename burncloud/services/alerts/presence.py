"""Fleet alerts: the routers of a database (``routers``: one row per router, named
``host:port``), and the events of one joining or leaving.

A router's workers check in as they start and every ``HEARTBEAT`` seconds after. The
first check-in of a router that was away (never seen, stopped, or silent too long) makes
it join: one ``fleet`` event per joining, however many workers start at once. A router
leaves when its first worker stops (``left_how`` 'stopped'; its other workers, still
draining, do not bring it back) or, after ``STALE_AFTER`` seconds without a heartbeat,
when the watcher notices (``'silent'``: killed, or cut off; it joins again when it answers).
A joining and a leaving are keyed by the router and the time it joined, so each happens
once per run of a router.
"""

from __future__ import annotations

from burncloud.db.base import Database, Executor, Row
from burncloud.services.alerts.events import FLEET, Event
from burncloud.services.alerts.outbox import raise_event

HEARTBEAT = 30  # seconds between a router's check-ins
STALE_AFTER = 4 * HEARTBEAT  # seconds without one after which a router has left
KEEP_LEFT = 90 * 86_400  # seconds a router that left is remembered


async def check_in(db: Database, name: str, now: int, *, starting: bool) -> bool:
    """Record that router ``name`` is up; whether it joined now. A starting worker brings a
    stopped router back; a heartbeat brings back only one that had gone silent."""
    async with db.transaction() as tx:
        await _notice_silent(tx, now, name)
        rejoins = "routers.left_at IS NOT NULL"
        if not starting:
            rejoins += " AND routers.left_how = 'silent'"
        joined = await tx.fetch_one(
            "INSERT INTO routers (name, started_at, seen_at) VALUES (:n, :now, :now)"
            " ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at,"
            " seen_at = excluded.seen_at, left_at = NULL, left_how = ''"
            f" WHERE {rejoins} RETURNING started_at",
            {"n": name, "now": now},
        )
        if joined is None:
            await tx.execute(
                "UPDATE routers SET seen_at = :now WHERE name = :n AND left_at IS NULL",
                {"n": name, "now": now},
            )
            return False
        await raise_event(tx, _joined(name, now), now)
        return True


async def leave(db: Database, name: str, now: int) -> bool:
    """Router ``name`` is stopping; whether this call recorded its leaving."""
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "UPDATE routers SET left_at = :now, left_how = 'stopped'"
            " WHERE name = :n AND left_at IS NULL RETURNING name, started_at, seen_at",
            {"n": name, "now": now},
        )
        if row is None:
            return False
        await raise_event(tx, _left(row, "stopped"), now)
        return True


async def notice_silent(db: Database, now: int) -> int:
    """Mark the routers silent past STALE_AFTER as left, raising their events; how many.
    Routers that left long ago are forgotten."""
    async with db.transaction() as tx:
        await tx.execute(
            "DELETE FROM routers WHERE left_at IS NOT NULL AND left_at < :old",
            {"old": now - KEEP_LEFT},
        )
        return await _notice_silent(tx, now)


async def _notice_silent(tx: Executor, now: int, name: str | None = None) -> int:
    only = "" if name is None else " AND name = :n"
    rows = await tx.fetch_all(
        "UPDATE routers SET left_at = seen_at, left_how = 'silent'"
        f" WHERE left_at IS NULL AND seen_at < :stale{only} RETURNING name, started_at, seen_at",
        {"stale": now - STALE_AFTER, **({} if name is None else {"n": name})},
    )
    for row in rows:
        await raise_event(tx, _left(row, "silent"), now)
    return len(rows)


def _joined(name: str, now: int) -> Event:
    return Event(
        FLEET,
        f"fleet:join:{name}:{now}",
        f"Router {name} joined the fleet.",
        {"router": name, "change": "joined", "started_at": now},
    )


def _left(row: Row, how: str) -> Event:
    name, started = row["name"], int(row["started_at"])
    why = "stopped" if how == "stopped" else "stopped answering (no heartbeat)"
    return Event(
        FLEET,
        f"fleet:leave:{name}:{started}",
        f"Router {name} left the fleet: it {why}.",
        {"router": name, "change": "left", "how": how, "last_seen": int(row["seen_at"])},
    )
