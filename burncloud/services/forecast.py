"""Burn-rate forecasts: how long what a token, a user or a budget window has left lasts at
its recent spend rate.

The subjects are the tokens with a quota, the users with a balance (-1, unlimited, has no
forecast) and the budget windows current at ``now``. What a subject has left counts what
routers hold for it in leases (``services.balances``; a window's leases are its 'budget'
leases). The rate of a token or user is its spend over the last ``lookback_hours`` from
the rollup (``log_hours`` for whole hours, ``log_minutes`` for the minutes before the
first one, dims 'token' and 'user'), never the raw logs: a forecast costs a few rows per
active key, so the dashboard can poll it.

A window counts only spend since it began. One that began within the lookback takes its
rate from its own ``used`` over the time since (at least a minute); an older one from the
rollup of its token or user, except a budget for one model, which the rollup cannot tell
apart (it has no token-and-model totals): its rate is ``used`` over the whole window so
far. A window that resets before it would run out has no forecast (``runs_out_in`` None).

Rates and runways are rounded down: a forecast never promises more time than the rate
gives.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from burncloud.db.base import Executor
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.balances import read_holdings
from burncloud.services.budget_periods import describe_period
from burncloud.services.rollup import minutes_kept_from

LOOKBACK_HOURS = 6
SUBJECTS = ("token", "user", "window")  # also the order of equal runways
OWNER_LIMITS = {"token": "quota", "user": "balance"}  # what an owner's own limit is called
MIN_SPAN = 60  # seconds: a window's rate is never taken over less than a minute
LONGEST_SHOWN = 365 * 86400  # runways beyond a year read "> 365 d"


@dataclass(frozen=True, slots=True)
class Runway:
    """How long a limited subject lasts at its recent spend rate."""

    subject: str  # 'token' | 'user' | 'window'
    subject_id: int  # token id, user id, or budget_windows id
    remaining: int  # nano-USD left (quota/balance column + what leases hold)
    spend_per_hour: int  # nano-USD per hour over the lookback
    runs_out_in: int | None  # seconds; None: no recent spend (or it outlasts the window's reset)


@dataclass(frozen=True, slots=True)
class RunningOut:
    """A token or user that runs out at its recent rate, by the limit it reaches first."""

    kind: str  # 'token' | 'user'
    id: int
    name: str
    limit: str  # 'quota', 'balance', or a budget: 'monthly budget', '5-hour budget for gpt-4o'
    runway: Runway

    def to_json(self) -> dict[str, Any]:
        """The owner, the limit, money as decimal USD strings and ``runs_out_in`` seconds."""
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "limit": self.limit,
            "window_id": self.runway.subject_id if self.runway.subject == "window" else None,
            "remaining": format_usd(self.runway.remaining),
            "spend_per_hour": format_usd(self.runway.spend_per_hour),
            "runs_out_in": self.runway.runs_out_in,
        }


@dataclass(frozen=True, slots=True)
class _Lookback:
    """The rollup rows of the lookback: hours from ``hour``, minutes from ``minute`` before
    it; ``span`` seconds from ``minute`` to now."""

    minute: int
    hour: int
    now: int

    @property
    def span(self) -> int:
        return max(self.now - self.minute, MIN_SPAN)


@dataclass(frozen=True, slots=True)
class _Window:
    """A current budget window: what it has left, whose spend counts, and its budget."""

    id: int
    owner: str  # 'token' | 'user': whose spend it counts (a plan's windows are its users')
    owner_id: int
    starts_at: int
    ends_at: int
    remaining: int  # remaining + leased
    used: int
    model: str
    label: str


@dataclass(frozen=True, slots=True)
class _Forecast:
    runway: Runway
    owner: str
    owner_id: int
    limit: str


async def runways(
    db: Executor,
    now: int,
    *,
    subject: str | None = None,
    ids: Collection[int] | None = None,
    lookback_hours: int = LOOKBACK_HOURS,
) -> list[Runway]:
    """The runway of every limited subject (only ``subject``'s kind, only ``ids`` of it
    when given: with no subject, ids of any kind), the soonest first, those with no
    forecast last."""
    found = await _forecasts(db, now, subject, ids, lookback_hours)
    return [forecast.runway for forecast in found]


async def running_out(
    db: Executor, now: int, *, limit: int | None = None, lookback_hours: int = LOOKBACK_HOURS
) -> list[RunningOut]:
    """Each token and user that runs out at its recent rate, by the limit it reaches first
    (its quota or balance, or one of its budget windows), the soonest first; at most
    ``limit`` of them."""
    soonest: dict[tuple[str, int], _Forecast] = {}
    for forecast in await _forecasts(db, now, None, None, lookback_hours):
        if forecast.runway.runs_out_in is not None:
            soonest.setdefault((forecast.owner, forecast.owner_id), forecast)  # sorted already
    chosen = list(soonest.values())[:limit]
    names = await _names(db, [(f.owner, f.owner_id) for f in chosen])
    return [
        RunningOut(f.owner, f.owner_id, names.get((f.owner, f.owner_id), ""), f.limit, f.runway)
        for f in chosen
    ]


def format_runway(seconds: int | None) -> str:
    """'3 d 4 h', '5 h 12 min', '40 min', '< 1 min', '> 365 d'; '—' for no forecast."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return "< 1 min"
    if seconds > LONGEST_SHOWN:
        return f"> {LONGEST_SHOWN // 86400} d"
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def describe_runway(runway: Runway, lookback_hours: int = LOOKBACK_HOURS) -> str:
    """'3 d 4 h (at 0.5 USD/h over the last 6 h)'; without a forecast, why not."""
    rate = f"{format_usd(runway.spend_per_hour)} USD/h over the last {lookback_hours} h"
    if runway.runs_out_in is not None:
        return f"{format_runway(runway.runs_out_in)} (at {rate})"
    if runway.spend_per_hour > 0:
        return f"not before the window resets (at {rate})"
    return f"{format_runway(None)} (no spend in the last {lookback_hours} h)"


async def _forecasts(
    db: Executor,
    now: int,
    subject: str | None,
    ids: Collection[int] | None,
    lookback_hours: int,
) -> list[_Forecast]:
    """Every wanted subject's runway with the token or user it limits, soonest first."""
    if subject is not None and subject not in SUBJECTS:
        raise ValueError(f"unknown forecast subject {subject!r}")
    if lookback_hours < 1:
        raise ValueError("the lookback is at least an hour")
    wanted = None if ids is None else set(ids)
    lookback = await _lookback(db, now, lookback_hours)
    owners = {
        kind: await _limited(db, kind, wanted) for kind in OWNER_LIMITS if subject in (None, kind)
    }
    windows = await _current_windows(db, now, wanted) if subject in (None, "window") else []
    spend = {
        kind: await _spend(db, kind, lookback, _keys(kind, owners, windows, lookback, wanted))
        for kind in OWNER_LIMITS
    }
    found = [
        _Forecast(
            _runway(kind, oid, left, spend[kind].get(oid, 0), lookback.span),
            kind,
            oid,
            OWNER_LIMITS[kind],
        )
        for kind, limited in owners.items()
        for oid, left in limited.items()
    ]
    found += [
        _Forecast(_window_runway(w, spend[w.owner], lookback), w.owner, w.owner_id, w.label)
        for w in windows
    ]
    return sorted(found, key=lambda forecast: _soonest(forecast.runway))


def _soonest(runway: Runway) -> tuple[bool, int, int, int]:
    left = runway.runs_out_in
    return (left is None, left or 0, SUBJECTS.index(runway.subject), runway.subject_id)


def _runway(subject: str, subject_id: int, remaining: int, spend: int, span: int) -> Runway:
    """``remaining`` at ``spend`` nano-USD per ``span`` seconds."""
    runs_out_in = None if spend <= 0 else max(remaining, 0) * span // spend
    return Runway(subject, subject_id, remaining, spend * 3600 // span, runs_out_in)


def _window_runway(window: _Window, owner_spend: dict[int, int], lookback: _Lookback) -> Runway:
    """The window's runway; None when the window resets first."""
    if _rate_from_used(window, lookback):
        spend, span = window.used, max(lookback.now - window.starts_at, MIN_SPAN)
    else:
        spend, span = owner_spend.get(window.owner_id, 0), lookback.span
    runway = _runway("window", window.id, window.remaining, spend, span)
    if runway.runs_out_in is not None and lookback.now + runway.runs_out_in >= window.ends_at:
        return replace(runway, runs_out_in=None)
    return runway


def _rate_from_used(window: _Window, lookback: _Lookback) -> bool:
    """Whether the window's own ``used`` gives its rate: it began within the lookback (all
    its spend is recent), or it limits one model (the rollup cannot single it out)."""
    return bool(window.model) or window.starts_at > lookback.minute


async def _lookback(db: Executor, now: int, hours: int) -> _Lookback:
    """The rollup rows of the last ``hours`` hours: from the minute holding their start, or
    from its hour when that minute's rows were pruned (``services.rollup``)."""
    since = now - hours * 3600
    minute = since - since % 60
    if minute < await minutes_kept_from(db):
        minute -= minute % 3600
    return _Lookback(minute=minute, hour=minute + -minute % 3600, now=now)


def _keys(
    kind: str,
    owners: dict[str, dict[int, int]],
    windows: list[_Window],
    lookback: _Lookback,
    wanted: set[int] | None,
) -> set[int] | None:
    """The tokens or users whose spend is needed; None for every one (nothing filtered)."""
    from_windows = {
        w.owner_id for w in windows if w.owner == kind and not _rate_from_used(w, lookback)
    }
    if wanted is None and (kind in owners or from_windows):
        return None
    return set(owners.get(kind, {})) | from_windows


async def _limited(db: Executor, kind: str, wanted: set[int] | None) -> dict[int, int]:
    """Token or user id -> what it has left, for those with a limit (and in ``wanted``)."""
    only = next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None
    holdings = await read_holdings(db, kind, only)
    return {
        oid: holding.spendable
        for oid, holding in holdings.items()
        if holding.stored != UNLIMITED and (wanted is None or oid in wanted)
    }


async def _spend(
    db: Executor, kind: str, lookback: _Lookback, keys: set[int] | None
) -> dict[int, int]:
    """Token or user id -> what it spent in the lookback (every one with spend, or only
    ``keys``)."""
    if keys is not None and not keys:
        return {}
    params: dict[str, Any] = {"dim": kind, "minute": lookback.minute, "hour": lookback.hour}
    params["now"] = lookback.now
    only = ""
    if keys is not None:
        chosen = {f"k{n}": str(key) for n, key in enumerate(sorted(keys))}
        only = f" AND key IN ({', '.join(':' + name for name in chosen)})"
        params.update(chosen)
    rows = await db.fetch_all(
        "SELECT key, SUM(cost) AS cost FROM ("
        "SELECT key, cost FROM log_hours WHERE dim = :dim AND hour >= :hour"
        f" AND hour <= :now{only}"
        " UNION ALL SELECT key, cost FROM log_minutes WHERE dim = :dim"
        f" AND minute >= :minute AND minute < :hour{only}) r"
        " WHERE key <> '' GROUP BY key",
        params,
    )
    return {int(row["key"]): int(row["cost"] or 0) for row in rows}


async def _current_windows(db: Executor, now: int, wanted: set[int] | None) -> list[_Window]:
    """The budget windows current at ``now`` (only ``wanted`` ids), with their leases."""
    params: dict[str, Any] = {"now": now}
    only = ""
    if wanted is not None:
        if not wanted:
            return []
        chosen = {f"w{n}": wid for n, wid in enumerate(sorted(wanted))}
        only = f" AND w.id IN ({', '.join(':' + name for name in chosen)})"
        params.update(chosen)
    rows = await db.fetch_all(
        "SELECT w.id, w.subject_id, w.starts_at, w.ends_at, w.remaining, w.used,"
        " b.scope, b.model, b.period, COALESCE(SUM(l.amount), 0) AS leased"
        " FROM budget_windows w JOIN budgets b ON b.id = w.budget_id"
        " LEFT JOIN quota_leases l ON l.subject = 'budget' AND l.subject_id = w.id"
        f" WHERE w.ends_at > :now AND w.starts_at <= :now{only}"
        " GROUP BY w.id, w.subject_id, w.starts_at, w.ends_at, w.remaining, w.used,"
        " b.scope, b.model, b.period",
        params,
    )
    return [
        _Window(
            id=int(row["id"]),
            owner="token" if row["scope"] == "token" else "user",
            owner_id=int(row["subject_id"]),
            starts_at=int(row["starts_at"]),
            ends_at=int(row["ends_at"]),
            remaining=int(row["remaining"]) + int(row["leased"]),
            used=int(row["used"]),
            model=row["model"],
            label=_budget_label(row["scope"], row["period"], row["model"]),
        )
        for row in rows
    ]


def _budget_label(scope: str, period: str, model: str) -> str:
    """'monthly budget', '5-hour plan budget', 'daily budget for gpt-4o'."""
    plan = " plan" if scope == "plan" else ""
    return f"{describe_period(period)}{plan} budget" + (f" for {model}" if model else "")


async def _names(db: Executor, owners: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The name of each of these tokens and users that still exists."""
    names: dict[tuple[str, int], str] = {}
    for kind, table in (("token", "tokens"), ("user", "users")):  # fixed names, never input
        chosen = {f"i{n}": oid for n, (k, oid) in enumerate(sorted(set(owners))) if k == kind}
        if not chosen:
            continue
        rows = await db.fetch_all(
            f"SELECT id, name FROM {table} WHERE id IN ({', '.join(':' + k for k in chosen)})",
            chosen,
        )
        names.update({(kind, int(row["id"])): str(row["name"]) for row in rows})
    return names
