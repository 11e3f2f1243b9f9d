"""The budget options `token update`, `user update` and `plan create|update` share, and
how `token show`, `user show` and `quota show` print where each budget stands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from burncloud.cli.completions import one_of
from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services import budgets
from burncloud.services.budget_periods import calendar_window, describe_period, rolling_hours
from burncloud.services.budgets import BudgetSpec, BudgetUse
from burncloud.services.forecast import format_runway

BudgetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--budget",
        metavar="USD[/PERIOD]",
        help="A budget besides the quota: 20/month, 5/day, 2/week, 1.5/5h (N hours from the"
        " first request of a window), or USD with --per. Repeat for several periods.",
    ),
]
ModelBudgetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model-budget",
        metavar="MODEL=USD[/PERIOD]",
        help="A budget for one model only: gpt-4o=10/month (or gpt-4o=10 with --per).",
    ),
]
PERIODS = ("day", "week", "month", "5h")  # what completion offers; any Nh works
PerOption = Annotated[
    str | None,
    typer.Option(
        "--per",
        metavar="PERIOD",
        autocompletion=one_of(PERIODS),
        help="The period of budgets given without one: day, week, month or Nh (e.g. 5h).",
    ),
]
RemoveBudgetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--remove-budget",
        metavar="[MODEL=]PERIOD",
        help="Remove a budget: month, or gpt-4o=month for a model's.",
    ),
]


def budget_specs(
    amounts: Sequence[str] | None, model_amounts: Sequence[str] | None, per: str | None
) -> list[BudgetSpec]:
    """The budgets the options give, each with its period (``--per`` where none is given)."""
    specs = [BudgetSpec.parse(_with_period(text, per)) for text in amounts or ()]
    for text in model_amounts or ():
        if "=" not in text:
            raise InvalidRequest(f"--model-budget {text!r} names no model: write MODEL=USD/PERIOD")
        specs.append(BudgetSpec.parse(_with_period(text, per)))
    if per is not None and not specs:
        raise InvalidRequest("--per gives the period of a --budget or --model-budget: add one")
    return specs


def budget_update(
    fields: Sequence[object],
    amounts: Sequence[str] | None,
    model_amounts: Sequence[str] | None,
    per: str | None,
    removals: Sequence[str] | None,
) -> list[BudgetSpec]:
    """The budgets an `update` sets; InvalidRequest when it changes neither one of its
    ``fields`` (None: unchanged) nor a budget."""
    specs = budget_specs(amounts, model_amounts, per)
    if all(value is None for value in fields) and not (specs or removals):
        raise InvalidRequest("nothing to update: give at least one field to change")
    return specs


def _with_period(text: str, per: str | None) -> str:
    if "/" in text:
        return text
    if per is None:
        raise InvalidRequest(f"budget {text!r} has no period: write {text}/month or add --per")
    return f"{text}/{per}"


async def change_budgets(
    tx: Executor,
    scope: str,
    scope_id: int,
    specs: Sequence[BudgetSpec],
    removals: Sequence[str] | None,
) -> list[str]:
    """Set ``specs`` and remove ``removals`` of one token, user or plan; one line each."""
    lines = []
    for text in removals or ():
        period, model = BudgetSpec.removal(text)
        if not await budgets.remove_budget(tx, scope, scope_id, period, model):
            raise InvalidRequest(f"there is no {_name(period, model)} budget to remove")
        lines.append(f"removed the {_name(period, model)} budget")
    for spec in specs:
        rule = await budgets.set_budget(tx, scope, scope_id, spec.amount, spec.period, spec.model)
        lines.append(rule.describe())
    return lines


def _name(period: str, model: str) -> str:
    return describe_period(period) + (f" {model}" if model else "")


async def token_budget_uses(
    db: Executor, token_id: int, user_id: int, timezone: str, now: int
) -> list[BudgetUse]:
    """Where each budget a token's requests count against stands now."""
    plan_id = await _plan_id(db, user_id)
    pairs = await budgets.budgets_of_token(db, token_id, user_id, plan_id)
    return await budgets.current_windows(db, pairs, now, timezone)


async def user_budget_uses(db: Executor, user_id: int, timezone: str, now: int) -> list[BudgetUse]:
    """Where each of a user's budgets (its own and its plan's) stands now."""
    pairs = await budgets.budgets_of_user(db, user_id, await _plan_id(db, user_id))
    return await budgets.current_windows(db, pairs, now, timezone)


async def _plan_id(db: Executor, user_id: int) -> int | None:
    value = await db.fetch_value("SELECT plan_id FROM users WHERE id = :id", {"id": user_id})
    return None if value is None else int(value)


def budget_lines(uses: Sequence[BudgetUse], timezone: str, now: int) -> dict[str, str]:
    """Where each budget stands, one readable line per budget, keyed by its name."""
    zone = ZoneInfo(timezone)
    lines = {}
    for use in uses:
        rule = use.rule
        owner = {"token": "", "user": "user ", "plan": "plan "}[rule.scope]
        key = f"{owner}{describe_period(rule.period)} budget" + (
            f" ({rule.model})" if rule.model else ""
        )
        spent = f"{format_usd(use.used)} of {format_usd(rule.amount)} USD used"
        if use.window is not None:
            ends: int | None = use.window.ends_at
        elif rolling_hours(rule.period) is None:
            ends = calendar_window(rule.period, now, timezone).ends_at
        else:
            ends = None
        if ends is None:
            when = "a window opens with the next request"
        else:
            resets = datetime.fromtimestamp(ends, zone).strftime("%Y-%m-%d %H:%M %Z")
            when = f"resets {resets} (in {format_runway(max(ends - now, 0))})"
        lines[key] = f"{spent}; {when}"
    return lines
