"""Budget alerts: how much of its limit each token, user and budget window has spent, and
the threshold crossings to raise.

A limited token's total is ``quota + leased + used`` (read in one statement: the sum only
changes when an operator changes the quota), so its share spent is ``used / total``; the
same for a user's balance; a budget window's is ``used / amount``. Each hook hears, per
subject, only the highest of its thresholds crossed (a key that jumped from 40 % to 96 %
between two rounds gets the 95 % alert, not three), once: the dedupe key holds the
subject's total (``budget:token:3:20000000000:80``), so money added re-arms the alerts,
and a window's id and amount (a new window, or a changed budget, re-arms too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from burncloud.db.base import Database, Executor, Row
from burncloud.money import format_usd
from burncloud.services.alerts.events import BUDGET, Event
from burncloud.services.alerts.hooks import Hook
from burncloud.services.alerts.outbox import Audience, raise_alone
from burncloud.services.budget_periods import describe_period

KEY_BATCH = 200  # dedupe keys looked up per query

_TOKENS = (
    "SELECT t.id, t.name, t.quota AS remaining, t.used, COALESCE(l.held, 0) AS held"
    " FROM tokens t LEFT JOIN (SELECT subject_id, SUM(amount) AS held FROM quota_leases"
    " WHERE subject = 'token' GROUP BY subject_id) l ON l.subject_id = t.id"
    " WHERE t.quota <> -1"
)
_USERS = (
    "SELECT u.id, u.name, u.balance AS remaining, u.used, COALESCE(l.held, 0) AS held"
    " FROM users u LEFT JOIN (SELECT subject_id, SUM(amount) AS held FROM quota_leases"
    " WHERE subject = 'user' GROUP BY subject_id) l ON l.subject_id = u.id"
    " WHERE u.balance <> -1"
)
_WINDOWS = (
    "SELECT w.id, w.subject_id, w.amount, w.used, w.ends_at, b.scope, b.scope_id, b.model,"
    " b.period, CASE WHEN b.scope = 'token'"
    " THEN (SELECT name FROM tokens WHERE id = w.subject_id)"
    " ELSE (SELECT name FROM users WHERE id = w.subject_id) END AS subject_name,"
    " CASE WHEN b.scope = 'plan' THEN (SELECT name FROM plans WHERE id = b.scope_id)"
    " END AS plan_name"
    " FROM budget_windows w JOIN budgets b ON b.id = w.budget_id"
    " WHERE w.starts_at <= :now AND w.ends_at > :now AND w.amount > 0"
)


@dataclass(frozen=True, slots=True)
class Window:
    """What a budget window's alert says of it."""

    period: str
    model: str  # '' for every model
    plan: str | None  # the plan's name, for a plan's budget
    ends_at: int


@dataclass(frozen=True, slots=True)
class Standing:
    """How much of one limit a subject has spent: a token's quota (kind 'token'), a user's
    balance ('user') or a budget window ('window', ``id`` the window's)."""

    kind: str
    id: int
    subject: str  # 'token' or 'user': who spends
    subject_id: int
    name: str
    total: int
    used: int
    window: Window | None = None

    @property
    def percent(self) -> int:
        return min(self.used * 100 // self.total, 100)

    def crossed(self, threshold: int) -> bool:
        return self.used * 100 >= threshold * self.total

    def highest_crossed(self, thresholds: Iterable[int]) -> int | None:
        return max((t for t in thresholds if self.crossed(t)), default=None)


async def load_standings(db: Executor, now: int) -> list[Standing]:
    """Every limited token and user, and every current budget window, with a limit above 0."""
    found = [_balance("token", row) for row in await db.fetch_all(_TOKENS)]
    found += [_balance("user", row) for row in await db.fetch_all(_USERS)]
    found += [_window(row) for row in await db.fetch_all(_WINDOWS, {"now": now})]
    return [standing for standing in found if standing.total > 0]


def budget_events(
    standings: Sequence[Standing], hooks: Sequence[Hook], timezone: str
) -> list[tuple[Event, Audience]]:
    """The crossing each hook hears of per subject (its highest threshold crossed), with
    the hooks each goes to."""
    listening = [hook for hook in hooks if hook.wants(BUDGET)]
    raised = []
    for standing in standings:
        audience: dict[int, set[int]] = {}
        for hook in listening:
            top = standing.highest_crossed(hook.thresholds)
            if top is not None:
                audience.setdefault(top, set()).add(hook.id)
        for threshold, ids in sorted(audience.items()):
            event = crossing_event(standing, threshold, timezone)
            raised.append((event, _to(ids)))
    return raised


async def raise_budget_events(
    db: Database, standings: Sequence[Standing], hooks: Sequence[Hook], now: int, timezone: str
) -> int:
    """Raise the crossings not raised before; how many were new."""
    pending = budget_events(standings, hooks, timezone)
    known = await known_keys(db, [event.key for event, _ in pending])
    raised = 0
    for event, audience in pending:
        if event.key not in known and await raise_alone(db, event, now, audience) is not None:
            raised += 1
    return raised


async def known_keys(db: Executor, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` were raised already (a read, so a quiet round writes nothing)."""
    known: set[str] = set()
    for start in range(0, len(keys), KEY_BATCH):
        batch = {f"k{n}": key for n, key in enumerate(keys[start : start + KEY_BATCH])}
        listed = ", ".join(f":{name}" for name in batch)
        rows = await db.fetch_all(
            f"SELECT dedupe_key FROM alert_events WHERE dedupe_key IN ({listed})", batch
        )
        known.update(row["dedupe_key"] for row in rows)
    return known


def crossing_event(standing: Standing, threshold: int, timezone: str) -> Event:
    """The budget event for ``standing`` past ``threshold`` percent."""
    used, total = format_usd(standing.used), format_usd(standing.total)
    what = _limit_name(standing)
    text = f"{describe_subject(standing)} passed {threshold}% of {what}: {used} of {total} USD used"
    data: dict[str, Any] = {
        "subject": standing.subject,
        "id": standing.subject_id,
        "name": standing.name,
        "threshold": threshold,
        "percent": standing.percent,
        "used": used,
        "limit": total,
        "window": None,
    }
    window = standing.window
    if window is not None:
        text += f"; it resets {format_time(window.ends_at, timezone)}"
        data["window"] = {
            "id": standing.id,
            "period": window.period,
            "model": window.model or None,
            "plan": window.plan,
            "resets_at": window.ends_at,
        }
    key = f"budget:{standing.kind}:{standing.id}:{standing.total}:{threshold}"
    return Event(BUDGET, key, text + ".", data)


def describe_subject(standing: Standing) -> str:
    """``Token 'ci' (id 3)`` / ``User 'alice' (id 2)``."""
    return f"{standing.subject.capitalize()} {standing.name!r} (id {standing.subject_id})"


def format_time(at: int, timezone: str) -> str:
    """``2024-07-01 00:00 CEST``: a unix time as the operator's clock shows it."""
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _limit_name(standing: Standing) -> str:
    window = standing.window
    if window is None:
        return "its quota" if standing.kind == "token" else "its balance"
    model = f" for {window.model}" if window.model else ""
    period = describe_period(window.period)
    if window.plan is not None:
        return f"the {period} budget{model} of plan {window.plan!r}"
    return f"its {period} budget{model}"


def _balance(kind: str, row: Row) -> Standing:
    total = int(row["remaining"]) + int(row["held"]) + int(row["used"])
    rid = int(row["id"])
    return Standing(kind, rid, kind, rid, row["name"], total, int(row["used"]))


def _window(row: Row) -> Standing:
    subject = "token" if row["scope"] == "token" else "user"
    window = Window(row["period"], row["model"], row["plan_name"], int(row["ends_at"]))
    return Standing(
        "window",
        int(row["id"]),
        subject,
        int(row["subject_id"]),
        row["subject_name"] or "",
        int(row["amount"]),
        int(row["used"]),
        window,
    )


def _to(ids: set[int]) -> Audience:
    return lambda hook: hook.id in ids
