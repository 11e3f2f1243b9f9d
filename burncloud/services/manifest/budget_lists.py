"""A token's, a user's or a plan's budgets as a manifest holds them: ``BudgetSpec`` values
written as the CLI's ``--budget`` takes them (``20/month``, ``gpt-4o=10/5h``) and kept in one
order, so two lists of the same budgets compare equal and write the same.

A budget is known by its period and model: a list gives each pair once, and what changes
between two lists is the budgets to set (new, or a new amount) and the pairs to remove.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from burncloud.errors import InvalidRequest
from burncloud.money import MAX_UNITS, format_usd
from burncloud.services.budget_periods import describe_period, parse_period, rolling_hours
from burncloud.services.budgets import BudgetSpec

BudgetKey = tuple[str, str]  # period, model ('' for every model)
_CALENDAR_HOURS = {"day": 24, "week": 24 * 7, "month": 24 * 31}


def budget_text(spec: BudgetSpec) -> str:
    """``20/month``, or ``gpt-4o=10/5h`` for a model's budget (``BudgetSpec.parse`` reads it)."""
    model = f"{spec.model}=" if spec.model else ""
    return f"{model}{format_usd(spec.amount)}/{spec.period}"


def budget_key(spec: BudgetSpec) -> BudgetKey:
    return spec.period, spec.model


def sorted_budgets(specs: Iterable[BudgetSpec]) -> tuple[BudgetSpec, ...]:
    """Every model's budgets first, then each model's; shorter periods first."""
    return tuple(sorted(specs, key=_order))


def clean_budget(spec: BudgetSpec) -> BudgetSpec:
    """``spec`` as ``set_budget`` stores it; InvalidRequest for an amount out of range."""
    if spec.amount < 0:
        raise InvalidRequest("a budget cannot be negative: remove it to lift the limit")
    if spec.amount > MAX_UNITS:
        raise InvalidRequest(f"a budget is at most {format_usd(MAX_UNITS)} USD")
    return BudgetSpec(spec.amount, parse_period(spec.period), spec.model.strip())


def repeated_budget(specs: Sequence[BudgetSpec]) -> tuple[int, str] | None:
    """The index of the first budget whose period and model an earlier one has, and what
    to say of it; None when each is given once."""
    seen: set[BudgetKey] = set()
    for n, spec in enumerate(specs):
        if budget_key(spec) in seen:
            model = f" for {spec.model}" if spec.model else ""
            return (
                n,
                f"a second {describe_period(spec.period)} budget{model} (one per period and model)",
            )
        seen.add(budget_key(spec))
    return None


def budget_edits(
    before: Sequence[BudgetSpec], after: Sequence[BudgetSpec]
) -> tuple[list[BudgetSpec], list[BudgetKey]]:
    """What makes ``before`` into ``after``: the budgets to set (new or of a new amount),
    and the (period, model) of the budgets to remove."""
    stored = {budget_key(spec): spec.amount for spec in before}
    wanted = {budget_key(spec) for spec in after}
    to_set = [spec for spec in after if stored.get(budget_key(spec)) != spec.amount]
    return to_set, [key for key in stored if key not in wanted]


def _order(spec: BudgetSpec) -> tuple[str, int, str]:
    hours = rolling_hours(spec.period)
    return spec.model, _CALENDAR_HOURS[spec.period] if hours is None else hours, spec.period
