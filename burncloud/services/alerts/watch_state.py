"""Small fleet-wide state of the alert watcher, in ``alert_state``: whose turn a round is,
and marks such as an open error-rate episode. Every change is one conditional statement,
so routers racing for a round or an episode agree on one winner."""

from __future__ import annotations

from burncloud.db.base import Executor


async def claim_round(db: Executor, name: str, now: int, every: float) -> bool:
    """True for the first caller of round ``name`` in each half of ``every`` seconds, across
    every router of the database (each router's workers already agree among themselves)."""
    claimed = await db.fetch_one(
        "INSERT INTO alert_state (name, value) VALUES (:name, :now)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        " WHERE alert_state.value <= :before RETURNING value",
        {"name": f"round:{name}", "now": now, "before": now - max(1, int(every / 2))},
    )
    return claimed is not None


async def read_mark(db: Executor, name: str) -> int:
    """The mark's value; 0 when it was never set."""
    value = await db.fetch_value("SELECT value FROM alert_state WHERE name = :n", {"n": name})
    return 0 if value is None else int(value)


async def move_mark(db: Executor, name: str, old: int, new: int) -> bool:
    """Set the mark to ``new`` if it is still ``old`` (0: unset); whether it moved."""
    moved = await db.fetch_one(
        "INSERT INTO alert_state (name, value) VALUES (:n, :new)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        " WHERE alert_state.value = :old RETURNING value",
        {"n": name, "new": new, "old": old},
    )
    return moved is not None
