"""Budgets: money a token, a user or each user of a plan may spend per window.

A budget is a rule (``budgets``: scope, scope id, model or '' for every model, period,
amount); each window a subject spends in is a ``budget_windows`` row that the routers lease
from and the log writer bills, exactly like a token's quota (``services.leases``, subject
'budget'), so a budget is never overspent under concurrency, across routers or through a
crash. Windows open on first use (``open_window``): routers racing to open one open the same
row. Changing a budget's amount moves the remaining money of its current windows by the
difference, from the next request; removing it removes its windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import format_usd, parse_usd
from burncloud.services.audit import record_change
from burncloud.services.budget_periods import (
    Window,
    calendar_window,
    describe_period,
    parse_period,
    rolling_hours,
    rolling_window,
)
from burncloud.services.clock import now as clock_now
from burncloud.services.settings import bump_config_version

TOKEN, USER, PLAN = "token", "user", "plan"
SCOPES = {TOKEN: "tokens", USER: "users", PLAN: "plans"}  # fixed, never input
WINDOW_BATCH = 2000  # ended windows deleted per transaction


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """What a token, a user or each user of a plan may spend per ``period``."""

    id: int
    scope: str
    scope_id: int
    model: str  # '' for every model
    period: str
    amount: int

    @classmethod
    def from_row(cls, row: Row) -> BudgetRule:
        return cls(
            id=int(row["id"]),
            scope=row["scope"],
            scope_id=int(row["scope_id"]),
            model=row["model"],
            period=row["period"],
            amount=int(row["amount"]),
        )

    def applies_to(self, model: str) -> bool:
        return not self.model or self.model == model

    def describe(self) -> str:
        """'monthly budget of 20 USD' / '5-hour budget for gpt-4o of 2.5 USD'."""
        model = f" for {self.model}" if self.model else ""
        return f"{describe_period(self.period)} budget{model} of {format_usd(self.amount)} USD"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "scope_id": self.scope_id,
            "model": self.model or None,
            "period": self.period,
            "amount": format_usd(self.amount),
        }


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A budget's current window for one subject (the token or user it counts for)."""

    id: int
    budget_id: int
    subject_id: int
    starts_at: int
    ends_at: int
    amount: int
    used: int

    @classmethod
    def from_row(cls, row: Row) -> OpenWindow:
        return cls(
            id=int(row["id"]),
            budget_id=int(row["budget_id"]),
            subject_id=int(row["subject_id"]),
            starts_at=int(row["starts_at"]),
            ends_at=int(row["ends_at"]),
            amount=int(row["amount"]),
            used=int(row["used"]),
        )


@dataclass(frozen=True, slots=True)
class BudgetUse:
    """A budget as a subject stands in it now: its window (None: not used this window)."""

    rule: BudgetRule
    subject_id: int
    window: OpenWindow | None

    @property
    def used(self) -> int:
        return self.window.used if self.window is not None else 0

    def to_json(self) -> dict[str, Any]:
        window = self.window
        return {
            **self.rule.to_json(),
            "used": format_usd(self.used),
            "left": format_usd(max(self.rule.amount - self.used, 0)),
            "window_start": window.starts_at if window is not None else None,
            "resets_at": window.ends_at if window is not None else None,
        }


# -- rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """One budget as written on the command line: ``20/month``, ``gpt-4o=10/5h``."""

    amount: int
    period: str
    model: str = ""

    @classmethod
    def parse(cls, text: str) -> BudgetSpec:
        model, sep, rest = text.strip().rpartition("=")
        if sep and not model.strip():
            raise InvalidRequest(f"budget {text!r} names no model before '='")
        amount, slash, period = rest.partition("/")
        if not slash:
            raise InvalidRequest(
                f"budget {text!r} has no period: write AMOUNT/PERIOD such as 20/month or 5/5h"
            )
        return cls(parse_usd(amount.strip()), parse_period(period), model.strip())

    @classmethod
    def removal(cls, text: str) -> tuple[str, str]:
        """(period, model) of a budget to remove: ``month`` or ``gpt-4o=month``."""
        model, _, period = text.strip().rpartition("=")
        return parse_period(period), model.strip()


async def set_budget(
    tx: Executor,
    scope: str,
    scope_id: int,
    amount: int,
    period: str,
    model: str = "",
    *,
    now: int | None = None,
) -> BudgetRule:
    """Create the budget or change its amount (its current windows follow at once)."""
    table = _table(scope)
    period = parse_period(period)
    model = model.strip()
    if amount < 0:
        raise InvalidRequest("a budget cannot be negative: remove it to lift the limit")
    if await tx.fetch_value(f"SELECT 1 FROM {table} WHERE id = :id", {"id": scope_id}) is None:
        raise NotFound(f"{scope} {scope_id} not found")
    at = clock_now() if now is None else now
    old = await tx.fetch_one(
        "SELECT id, amount FROM budgets"
        " WHERE scope = :s AND scope_id = :sid AND model = :m AND period = :p",
        {"s": scope, "sid": scope_id, "m": model, "p": period},
    )
    if old is None:
        budget_id = await tx.fetch_value(
            "INSERT INTO budgets (scope, scope_id, model, period, amount, created_at, updated_at)"
            " VALUES (:s, :sid, :m, :p, :x, :t, :t) RETURNING id",
            {"s": scope, "sid": scope_id, "m": model, "p": period, "x": amount, "t": at},
        )
    else:
        budget_id = old["id"]
        await tx.execute(
            "UPDATE budgets SET amount = :x, updated_at = :t WHERE id = :id",
            {"x": amount, "t": at, "id": budget_id},
        )
        await _follow_amount(tx, int(budget_id), amount - int(old["amount"]), amount, at)
    rule = BudgetRule(int(budget_id), scope, scope_id, model, period, amount)
    before = None if old is None else _audited(replace(rule, amount=int(old["amount"])))
    await record_change(tx, "budget", rule.id, _audit_name(rule), before, _audited(rule))
    await bump_config_version(tx)
    return rule


async def _follow_amount(tx: Executor, budget_id: int, delta: int, amount: int, at: int) -> None:
    """Move the remaining money of the budget's current windows by ``delta``; a cut below
    what was spent leaves nothing to spend (never a negative remaining)."""
    if delta == 0:
        return
    await tx.execute(
        "UPDATE budget_windows SET amount = :amount, remaining = CASE"
        " WHEN remaining + :d > 0 THEN remaining + :d ELSE 0 END"
        " WHERE budget_id = :id AND ends_at > :t",
        {"amount": amount, "d": delta, "id": budget_id, "t": at},
    )


async def remove_budget(
    tx: Executor, scope: str, scope_id: int, period: str, model: str = ""
) -> bool:
    """Remove one budget and its windows; False if there was none."""
    _table(scope)
    rows = await tx.fetch_all(
        "DELETE FROM budgets WHERE scope = :s AND scope_id = :sid AND model = :m AND period = :p"
        " RETURNING *",
        {"s": scope, "sid": scope_id, "m": model.strip(), "p": parse_period(period)},
    )
    await _removed(tx, rows)
    return bool(rows)


async def remove_budgets(tx: Executor, scope: str, scope_id: int) -> int:
    """Remove every budget of one token, user or plan; how many there were."""
    _table(scope)
    rows = await tx.fetch_all(
        "DELETE FROM budgets WHERE scope = :s AND scope_id = :sid RETURNING *",
        {"s": scope, "sid": scope_id},
    )
    await _removed(tx, rows)
    return len(rows)


async def _removed(tx: Executor, rows: list[Row]) -> None:
    """Record the deleted budget rows in the audit trail; bump the config if any."""
    for row in rows:
        rule = BudgetRule.from_row(row)
        await record_change(tx, "budget", rule.id, _audit_name(rule), _audited(rule), None)
    if rows:
        await bump_config_version(tx)


def _audited(rule: BudgetRule) -> dict[str, Any]:
    """A budget's fields as the audit trail compares them."""
    return {
        "scope": rule.scope,
        "scope_id": rule.scope_id,
        "model": rule.model,
        "period": rule.period,
        "amount": format_usd(rule.amount),
    }


def _audit_name(rule: BudgetRule) -> str:
    """'token:3 month', 'plan:1 gpt-4o=day'."""
    model = f"{rule.model}=" if rule.model else ""
    return f"{rule.scope}:{rule.scope_id} {model}{rule.period}"


async def list_budgets(db: Executor, scope: str, scope_id: int) -> list[BudgetRule]:
    """The budgets of one token, user or plan, by period then model."""
    _table(scope)
    rows = await db.fetch_all(
        "SELECT * FROM budgets WHERE scope = :s AND scope_id = :sid ORDER BY period, model, id",
        {"s": scope, "sid": scope_id},
    )
    return [BudgetRule.from_row(row) for row in rows]


async def load_budgets(db: Executor) -> list[BudgetRule]:
    """Every budget whose token, user or plan still exists (the router's snapshot)."""
    rows = await db.fetch_all(
        "SELECT b.* FROM budgets b WHERE"
        " (b.scope = 'token' AND EXISTS (SELECT 1 FROM tokens t WHERE t.id = b.scope_id))"
        " OR (b.scope = 'user' AND EXISTS (SELECT 1 FROM users u WHERE u.id = b.scope_id))"
        " OR (b.scope = 'plan' AND EXISTS (SELECT 1 FROM plans p WHERE p.id = b.scope_id))"
        " ORDER BY b.id"
    )
    return [BudgetRule.from_row(row) for row in rows]


def _table(scope: str) -> str:
    try:
        return SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown budget scope {scope!r}") from None


# -- windows --------------------------------------------------------------------------


async def open_window(
    db: Executor, rule: BudgetRule, subject_id: int, now: int, timezone: str
) -> OpenWindow | None:
    """The rule's window holding ``now`` for ``subject_id``, opened if need be; None when
    the budget is gone. Several routers opening the same window open one row."""
    hours = rolling_hours(rule.period)
    if hours is None:
        window = calendar_window(rule.period, now, timezone)
        found = await _window(db, rule.id, subject_id, window.seq)
        if found is not None:
            return found
    else:
        latest = await _latest(db, rule.id, subject_id)
        if latest is not None and latest[1].ends_at > now:
            return latest[1]
        window = rolling_window(rule.period, latest[0] + 1 if latest else 1, now)
    await _insert_window(db, rule.id, subject_id, window)
    return await _window(db, rule.id, subject_id, window.seq)


async def _window(db: Executor, budget_id: int, subject_id: int, seq: int) -> OpenWindow | None:
    row = await db.fetch_one(
        "SELECT * FROM budget_windows WHERE budget_id = :b AND subject_id = :s AND seq = :q",
        {"b": budget_id, "s": subject_id, "q": seq},
    )
    return None if row is None else OpenWindow.from_row(row)


async def _latest(db: Executor, budget_id: int, subject_id: int) -> tuple[int, OpenWindow] | None:
    row = await db.fetch_one(
        "SELECT * FROM budget_windows WHERE budget_id = :b AND subject_id = :s"
        " ORDER BY seq DESC LIMIT 1",
        {"b": budget_id, "s": subject_id},
    )
    return None if row is None else (int(row["seq"]), OpenWindow.from_row(row))


async def _insert_window(db: Executor, budget_id: int, subject_id: int, window: Window) -> None:
    """Open ``window`` with the budget's amount, unless it is open already or the budget is
    gone (the INSERT ... SELECT then inserts nothing)."""
    await db.execute(
        "INSERT INTO budget_windows"
        " (budget_id, subject_id, seq, starts_at, ends_at, amount, remaining, used)"
        " SELECT id, :s, :q, :start, :end, amount, amount, 0 FROM budgets WHERE id = :b"
        " ON CONFLICT (budget_id, subject_id, seq) DO NOTHING",
        {
            "b": budget_id,
            "s": subject_id,
            "q": window.seq,
            "start": window.starts_at,
            "end": window.ends_at,
        },
    )


async def current_windows(
    db: Executor, pairs: Iterable[tuple[BudgetRule, int]], now: int, timezone: str
) -> list[BudgetUse]:
    """How each (rule, subject) stands now, without opening a window (a read for display)."""
    uses = []
    for rule, subject_id in pairs:
        if rolling_hours(rule.period) is None:
            seq = calendar_window(rule.period, now, timezone).seq
            window = await _window(db, rule.id, subject_id, seq)
        else:
            latest = await _latest(db, rule.id, subject_id)
            window = latest[1] if latest is not None and latest[1].ends_at > now else None
        uses.append(BudgetUse(rule, subject_id, window))
    return uses


async def budgets_of_token(
    db: Executor, token_id: int, user_id: int, plan_id: int | None
) -> list[tuple[BudgetRule, int]]:
    """Every budget a token's requests count against, with the subject each counts for:
    the token's own, its user's and its user's plan's (these two per user)."""
    pairs = [(rule, token_id) for rule in await list_budgets(db, TOKEN, token_id)]
    return pairs + await budgets_of_user(db, user_id, plan_id)


async def budgets_of_user(
    db: Executor, user_id: int, plan_id: int | None
) -> list[tuple[BudgetRule, int]]:
    """A user's own budgets and its plan's, each counting for the user."""
    rules = await list_budgets(db, USER, user_id)
    if plan_id is not None:
        rules += await list_budgets(db, PLAN, plan_id)
    return [(rule, user_id) for rule in rules]


async def prune_windows(db: Database, ended_before: int, batch: int = WINDOW_BATCH) -> int:
    """Delete the windows that ended before ``ended_before`` (their spend is in the logs'
    rollups) and no router still leases from, ``batch`` rows a transaction; how many."""
    pruned = 0
    while True:
        async with db.transaction() as tx:
            deleted = await tx.execute(
                "DELETE FROM budget_windows WHERE id IN (SELECT w.id FROM budget_windows w"
                " WHERE w.ends_at < :t AND NOT EXISTS (SELECT 1 FROM quota_leases l"
                " WHERE l.subject = 'budget' AND l.subject_id = w.id) LIMIT :n)",
                {"t": ended_before, "n": batch},
            )
        pruned += deleted
        if deleted < batch:
            return pruned
