"""Applying the ``plans`` section (``services.plans``: what users are on, not a manifest's
``Plan`` of changes) and the budgets of tokens, users and plans, inside apply's
transaction.

Plans are made and changed by ``services.plans``, budgets set and removed by
``services.budgets``: a budget's new amount moves its current windows by the difference,
and what the windows spent is never touched. The default plan moves only where the file
moves it; a deleted default plan stops being the default as ``plans.delete_plan`` deletes
it. A rename is written here: ``plans.update_plan`` changes no name.
"""

from __future__ import annotations

from collections.abc import Sequence

from burncloud.db.base import Executor
from burncloud.errors import NotFound
from burncloud.services import budgets, plans
from burncloud.services.budgets import BudgetSpec
from burncloud.services.manifest.budget_lists import budget_edits
from burncloud.services.manifest.model import PlanSpec
from burncloud.services.manifest.steps import Step
from burncloud.services.plans import PlanChanges


async def write_plans(tx: Executor, steps: Sequence[Step[PlanSpec]]) -> None:
    """Plans made, renamed and changed, then the default plan where the file moved it."""
    for step in steps:
        old, new = step.before, step.after
        if new is None:
            continue
        if old is None:
            await plans.create_plan(
                tx,
                new.name,
                budgets=new.budgets,
                models=new.models,
                rpm=new.rpm,
                tpm=new.tpm,
                group=new.group,
            )
            continue
        found = await plan_id(tx, old.name)
        if old.name != new.name:
            await _rename_plan(tx, found, new.name)
        if _rules(old) != _rules(new):
            await plans.update_plan(tx, str(found), _changes(old, new))
    await _write_default(tx, steps)


async def delete_plans(tx: Executor, specs: Sequence[PlanSpec]) -> None:
    """Delete plans (their budgets with them); their users go back to no plan."""
    for spec in specs:
        await plans.delete_plan(tx, str(await plan_id(tx, spec.name)))


async def write_budgets(
    tx: Executor,
    scope: str,
    owner_id: int,
    before: Sequence[BudgetSpec],
    after: Sequence[BudgetSpec],
) -> None:
    """Make a token's or a user's budgets ``after`` from ``before``."""
    to_set, to_remove = budget_edits(before, after)
    for period, model in to_remove:
        await budgets.remove_budget(tx, scope, owner_id, period, model)
    for spec in to_set:
        await budgets.set_budget(tx, scope, owner_id, spec.amount, spec.period, spec.model)


async def plan_id(tx: Executor, name: str) -> int:
    found = await tx.fetch_value("SELECT id FROM plans WHERE name = :n", {"n": name})
    if found is None:
        raise NotFound(f"no plan {name!r}")
    return int(found)


def _rules(spec: PlanSpec) -> tuple[object, ...]:
    """What ``plans.update_plan`` writes of a plan: not its name, nor being the default."""
    return spec.models, spec.rpm, spec.tpm, spec.group, spec.budgets


def _changes(old: PlanSpec, new: PlanSpec) -> PlanChanges:
    """Every rule of ``new``; of the budgets, those to set and those to remove."""
    to_set, to_remove = budget_edits(old.budgets, new.budgets)
    return PlanChanges(
        models=new.models,
        rpm=-1 if new.rpm is None else new.rpm,
        tpm=-1 if new.tpm is None else new.tpm,
        group=new.group or "",
        budgets=to_set,
        drop_budgets=to_remove,
    )


async def _rename_plan(tx: Executor, found: int, new: str) -> None:
    """Rename plan ``found`` (the default plan setting follows)."""
    await plans.update_plan(tx, str(found), PlanChanges(name=new))


async def _write_default(tx: Executor, steps: Sequence[Step[PlanSpec]]) -> None:
    """The plan the file marks the default becomes it; none, when the file unmarks the one
    that was and marks no other."""
    unmarked = False
    for step in steps:
        old, new = step.before, step.after
        was = old is not None and old.default
        if new is not None and new.default and not was:
            await plans.set_default_plan(tx, new.name)
            return
        unmarked = unmarked or (was and new is not None and not new.default)
    if unmarked:
        await plans.set_default_plan(tx, None)
