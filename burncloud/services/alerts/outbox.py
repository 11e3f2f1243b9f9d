"""The outbox: raising an event, and claiming, finishing and retrying its deliveries.

Raising inserts the event (``ON CONFLICT (dedupe_key) DO NOTHING``: the second router to
raise a crossing adds nothing) and one delivery per hook it goes to, in the caller's
transaction, so an event is never recorded without its deliveries, nor a channel's status
change without its event. Every router claims due deliveries with a conditional UPDATE
(``claimed_by`` until ``claimed_until``): one sender at a time per delivery, and a claim
whose router died expires and is taken again. An attempt that failed is retried after a
delay that doubles from the first (``retry_base``) up to an hour, with jitter, until a day
after the event (a last attempt then), and is then failed. A delivery is marked delivered
by whoever delivered it; a router that dies between the POST and that commit makes another
send it again, with the same ``X-Burncloud-Event-Id`` for the receiver to drop.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from burncloud.db.base import Database, Executor, Row
from burncloud.services.alerts.events import Event, RaisedEvent
from burncloud.services.alerts.hooks import Hook, list_hooks

Audience = Callable[[Hook], bool]  # which hooks an event goes to
DAY = 86_400
GIVE_UP_AFTER = DAY  # retried this long after the event, then failed
MAX_BACKOFF = 3600  # seconds between retries at most
KEEP_EVENTS = 90 * DAY  # events (and their deliveries) are kept this long once finished

_DUE = (
    "SELECT d.id, d.attempts, d.give_up_at, d.hook_id, e.id AS event_id, e.kind, e.text,"
    " e.data, e.created_at, h.format, h.url_enc, h.secret_enc, h.chat_id"
    " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
    " JOIN alert_hooks h ON h.id = d.hook_id"
)
_FREE = "status = 'pending' AND (claimed_until IS NULL OR claimed_until < :now)"


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery: the event, and its hook's sealed columns (``hooks.unseal_target``)."""

    id: int
    attempts: int  # this one included
    give_up_at: int
    hook_id: int
    event: RaisedEvent
    hook: dict[str, Any]

    @classmethod
    def from_row(cls, row: Row) -> Due:
        event = RaisedEvent(
            id=int(row["event_id"]),
            kind=row["kind"],
            text=row["text"],
            data=orjson.loads(row["data"]),
            created_at=int(row["created_at"]),
        )
        hook = {name: row[name] for name in ("format", "url_enc", "secret_enc", "chat_id")}
        return cls(
            int(row["id"]),
            int(row["attempts"]),
            int(row["give_up_at"]),
            int(row["hook_id"]),
            event,
            hook,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: delivered (a 2xx answer), or why not."""

    delivered: bool
    status: int | None = None  # the HTTP status, when there was an answer
    error: str = ""  # what went wrong, masked: never a URL's or secret's text


def subscribed(kind: str) -> Audience:
    """The default audience: every hook that subscribed to ``kind``."""
    return lambda hook: hook.wants(kind)


async def raise_event(
    tx: Executor, event: Event, now: int, to: Audience | None = None
) -> int | None:
    """Record ``event`` and a delivery for each hook ``to`` picks (default: the hooks that
    subscribed to its kind), in ``tx``; the event's id, or None when its dedupe key was
    raised before (by this router or another)."""
    event_id = await tx.fetch_value(
        "INSERT INTO alert_events (kind, dedupe_key, text, data, created_at)"
        " VALUES (:kind, :key, :text, :data, :t)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        {
            "kind": event.kind,
            "key": event.key,
            "text": event.text,
            "data": orjson.dumps(event.data).decode(),
            "t": now,
        },
    )
    if event_id is None:
        return None
    audience = to or subscribed(event.kind)
    rows = [
        {"e": event_id, "h": hook.id, "t": now, "g": now + GIVE_UP_AFTER}
        for hook in await list_hooks(tx)
        if audience(hook)
    ]
    if rows:
        await tx.execute_many(
            "INSERT INTO alert_deliveries (event_id, hook_id, next_attempt_at, give_up_at)"
            " VALUES (:e, :h, :t, :g)",
            rows,
        )
    return int(event_id)


async def raise_alone(
    db: Database, event: Event, now: int, to: Audience | None = None
) -> int | None:
    """``raise_event`` in a transaction of its own."""
    async with db.transaction() as tx:
        return await raise_event(tx, event, now, to)


async def has_due(db: Executor, now: int) -> bool:
    """Whether a delivery is due and unclaimed (a read: claiming is a write)."""
    found = await db.fetch_value(
        f"SELECT 1 FROM alert_deliveries WHERE {_FREE} AND next_attempt_at <= :now LIMIT 1",
        {"now": now},
    )
    return found is not None


async def claim_due(db: Database, owner: str, now: int, hold: int, limit: int) -> list[Due]:
    """Claim up to ``limit`` due deliveries for ``owner`` for ``hold`` seconds, oldest first;
    each claim counts as an attempt."""
    async with db.transaction() as tx:
        claimed = await tx.fetch_all(
            "UPDATE alert_deliveries SET claimed_by = :owner, claimed_until = :until,"
            " attempts = attempts + 1 WHERE id IN (SELECT id FROM alert_deliveries"
            f" WHERE {_FREE} AND next_attempt_at <= :now ORDER BY next_attempt_at, id"
            f" LIMIT :n) AND {_FREE} RETURNING id",
            {"owner": owner, "until": now + hold, "now": now, "n": limit},
        )
        return await _load(tx, [int(row["id"]) for row in claimed])


async def claim_delivery(
    tx: Executor, delivery_id: int, owner: str, now: int, hold: int
) -> Due | None:
    """Claim one delivery now, due or not (``alert test``); None if it is taken or done."""
    claimed = await tx.fetch_all(
        "UPDATE alert_deliveries SET claimed_by = :owner, claimed_until = :until,"
        f" attempts = attempts + 1 WHERE id = :id AND {_FREE} RETURNING id",
        {"owner": owner, "until": now + hold, "now": now, "id": delivery_id},
    )
    found = await _load(tx, [int(row["id"]) for row in claimed])
    return found[0] if found else None


async def finish(
    db: Executor,
    due: Due,
    outcome: Outcome,
    owner: str,
    now: int,
    retry_base: int,
    jitter: Callable[[], float] = random.random,
) -> str:
    """Record an attempt: delivered, retried later, or (a day after the event) failed; the
    delivery's status now. Only ``owner``'s claim is retried or failed, and a delivered
    delivery stays delivered whoever else tries it."""
    if outcome.delivered:
        await db.execute(
            "UPDATE alert_deliveries SET status = 'delivered', finished_at = :now,"
            " last_status = :status, last_error = '', claimed_by = NULL, claimed_until = NULL"
            " WHERE id = :id AND status = 'pending'",
            {"now": now, "status": outcome.status, "id": due.id},
        )
        return "delivered"
    status = "failed" if now >= due.give_up_at else "pending"
    retry_at = min(now + backoff(due.attempts, retry_base, jitter), due.give_up_at)
    await db.execute(
        "UPDATE alert_deliveries SET status = :status, next_attempt_at = :next,"
        " finished_at = :finished, last_status = :code, last_error = :error,"
        " claimed_by = NULL, claimed_until = NULL"
        " WHERE id = :id AND status = 'pending' AND claimed_by = :owner",
        {
            "status": status,
            "next": retry_at,
            "finished": now if status == "failed" else None,
            "code": outcome.status,
            "error": outcome.error,
            "id": due.id,
            "owner": owner,
        },
    )
    return status


async def prune_events(db: Executor, now: int) -> int:
    """Delete the events older than KEEP_EVENTS with no pending delivery (their deliveries
    go with them); how many. A crossing still standing then may be raised again."""
    return await db.execute(
        "DELETE FROM alert_events WHERE created_at < :old AND NOT EXISTS (SELECT 1 FROM"
        " alert_deliveries d WHERE d.event_id = alert_events.id AND d.status = 'pending')",
        {"old": now - KEEP_EVENTS},
    )


def backoff(attempts: int, base: int, jitter: Callable[[], float] = random.random) -> int:
    """Seconds before the next try after ``attempts`` tries: ``base`` doubled per try, at
    most MAX_BACKOFF, less up to half at random (so routers and hooks spread out)."""
    delay: int = min(base * 2 ** min(max(attempts - 1, 0), 32), MAX_BACKOFF)
    return max(1, math.ceil(delay * (0.5 + 0.5 * jitter())))


async def _load(db: Executor, ids: Sequence[int]) -> list[Due]:
    if not ids:
        return []
    names = {f"id{n}": delivery_id for n, delivery_id in enumerate(ids)}
    listed = ", ".join(f":{name}" for name in names)
    rows = await db.fetch_all(f"{_DUE} WHERE d.id IN ({listed}) ORDER BY d.id", names)
    return [Due.from_row(row) for row in rows]
