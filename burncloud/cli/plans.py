"""`burncloud plan` commands: budgets, models, rate limits and a group for many users."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.budget_options import (
    ModelBudgetOption,
    PerOption,
    RemoveBudgetOption,
    budget_specs,
)
from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.services import plans
from burncloud.services.budget_periods import describe_period
from burncloud.services.budgets import BudgetRule, BudgetSpec
from burncloud.services.plans import Plan, PlanChanges

app = typer.Typer(
    no_args_is_help=True,
    help="Plans: budgets per window, a model allow-list, rate limits and a group, shared by"
    " every user on the plan; changing a plan changes them all from the next request.",
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Plan name (or id).")]
PlanBudgetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--budget",
        metavar="USD/PERIOD",
        help="A budget per user: 20/month, 5/day, 2/week or 5/5h (N hours from a window's"
        " first request). Repeat for several periods.",
    ),
]
ModelsOption = Annotated[
    str | None,
    typer.Option("--models", metavar="A,B", help="The models the plan allows (''=every model)."),
]
RpmOption = Annotated[
    int | None,
    typer.Option(
        "--rpm", metavar="N", help="Requests per minute per user (a user's own limit wins)."
    ),
]
TpmOption = Annotated[
    int | None,
    typer.Option("--tpm", metavar="N", help="Tokens per minute per user (a user's own wins)."),
]
GroupOption = Annotated[
    str | None,
    typer.Option("--group", metavar="G", help="The group that prices the plan's users."),
]
COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("users", "users"),
    ("budgets", "budgets"),
    ("models", "models"),
    ("rpm", "rpm"),
    ("tpm", "tpm"),
    ("group", "group"),
]


@app.command("create")
def create(
    name: NameArg,
    budget: PlanBudgetOption = None,
    model_budget: ModelBudgetOption = None,
    per: PerOption = None,
    models: ModelsOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    group: GroupOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a plan: burncloud plan create pro --budget 20/month --budget 5/5h."""

    async def action(session: Session) -> dict[str, Any]:
        async with session.db.transaction() as tx:
            plan = await plans.create_plan(
                tx,
                name,
                budgets=budget_specs(budget, model_budget, per),
                models=models or "",
                rpm=rpm,
                tpm=tpm,
                group=group,
            )
        return _shown(plan, as_json)

    emit(run(db, action), as_json=as_json)


@app.command("update")
def update(
    name: NameArg,
    new_name: Annotated[
        str | None, typer.Option("--name", metavar="NEW", help="A new name.")
    ] = None,
    budget: PlanBudgetOption = None,
    model_budget: ModelBudgetOption = None,
    per: PerOption = None,
    remove_budget: RemoveBudgetOption = None,
    models: ModelsOption = None,
    rpm: Annotated[
        int | None, typer.Option("--rpm", metavar="N", help="Requests per minute; -1: none.")
    ] = None,
    tpm: Annotated[
        int | None, typer.Option("--tpm", metavar="N", help="Tokens per minute; -1: none.")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", metavar="G", help="The users' group; '' for their own."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a plan (only the options given); its users see it from their next request."""

    async def action(session: Session) -> dict[str, Any]:
        changes = PlanChanges(
            name=new_name,
            models=models,
            rpm=rpm,
            tpm=tpm,
            group=group,
            budgets=tuple(budget_specs(budget, model_budget, per)),
            drop_budgets=tuple(BudgetSpec.removal(text) for text in remove_budget or ()),
        )
        if changes == PlanChanges():
            raise InvalidRequest("nothing to update: give at least one option to change")
        async with session.db.transaction() as tx:
            plan = await plans.update_plan(tx, name, changes)
        return _shown(plan, as_json)

    emit(run(db, action), as_json=as_json)


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the plans, how many users each has, and their budgets."""

    async def action(session: Session) -> list[dict[str, Any]]:
        rows = []
        for plan, count in await plans.list_plans(session.db):
            row = {**plan.to_json(), "users": count}
            if not as_json:
                row["budgets"] = ", ".join(_budget(rule) for rule in plan.budgets)
            rows.append(row)
        return rows

    emit(run_read(db, action), as_json=as_json, columns=COLUMNS)


@app.command("show")
def show(name: NameArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one plan."""

    async def action(session: Session) -> dict[str, Any]:
        return _shown(await plans.get_plan(session.db, name), as_json)

    emit(run_read(db, action), as_json=as_json)


@app.command("delete")
def delete(name: NameArg, db: DbOption = None) -> None:
    """Delete a plan; its users keep their own settings and go back to no plan."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            moved = await plans.delete_plan(tx, name)
        print(f"deleted plan {name} ({moved} user{'s' if moved != 1 else ''} moved off it)")

    run(db, action)


@app.command("assign")
def assign(
    user: Annotated[str, typer.Argument(metavar="USER", help="User id or name.")],
    name: Annotated[
        str, typer.Argument(metavar="PLAN", help="Plan name or id; 'none' takes it off its plan.")
    ],
    db: DbOption = None,
) -> None:
    """Put a user on a plan (from its next request)."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            plan = await plans.assign_plan(tx, user, None if name == "none" else name)
        print(f"user {user}: plan {plan.name if plan is not None else 'none'}")

    run(db, action)


@app.command("default")
def default(
    name: Annotated[
        str | None,
        typer.Argument(metavar="[PLAN]", help="The plan new users get; 'none' for no default."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Show or set the plan new users get (without one here, BURNCLOUD_DEFAULT_PLAN's)."""

    async def change(session: Session) -> None:
        async with session.db.transaction() as tx:
            plan = await plans.set_default_plan(tx, None if name == "none" else name)
        print(f"default plan: {plan.name if plan is not None else 'none'}")

    async def read(session: Session) -> None:
        plan = await plans.default_plan(session.db, session.settings.default_plan)
        print(f"default plan: {plan.name if plan is not None else 'none'}")

    if name is None:
        run_read(db, read)
    else:
        run(db, change)


def _shown(plan: Plan, as_json: bool) -> dict[str, Any]:
    record = plan.to_json()
    if as_json:
        return record
    record["budgets"] = ", ".join(_budget(rule) for rule in plan.budgets) or "none"
    record["models"] = ",".join(plan.models) or "every model"
    return record


def _budget(rule: BudgetRule) -> str:
    model = f"{rule.model}=" if rule.model else ""
    return f"{model}{rule.to_json()['amount']}/{rule.period} ({describe_period(rule.period)})"
