"""`burncloud user` commands: users, their role, group, status, balance and rate limits."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.budget_options import (
    BudgetOption,
    ModelBudgetOption,
    PerOption,
    RemoveBudgetOption,
    budget_lines,
    budget_update,
    change_budgets,
    user_budget_uses,
)
from burncloud.cli.completions import one_of
from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.money import parse_usd
from burncloud.services import invites, users
from burncloud.services.budgets import USER
from burncloud.services.clock import now
from burncloud.services.plans import plan_of_user
from burncloud.services.users import ROLES, User

app = typer.Typer(no_args_is_help=True)

COLUMNS = [
    ("id", "ID"),
    ("name", "Name"),
    ("role", "Role"),
    ("status", "Status"),
    ("group", "Group"),
    ("balance", "Balance"),
    ("used", "Used"),
]

UserArg = Annotated[str, typer.Argument(metavar="ID|NAME", help="User id or name.")]
RoleOption = Annotated[
    str | None, typer.Option("--role", autocompletion=one_of(ROLES), help="admin or user.")
]
GroupOption = Annotated[str | None, typer.Option("--group", help="An existing user group.")]


def _limit_option(flag: str, what: str) -> Any:
    return typer.Option(
        flag, metavar="N", help=f"{what}, all the user's tokens together; -1 removes the limit."
    )


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    role: Annotated[
        str, typer.Option("--role", autocompletion=one_of(ROLES), help="admin or user.")
    ] = "user",
    group: Annotated[str, typer.Option("--group", help="An existing user group.")] = "default",
    balance: Annotated[
        str, typer.Option("--balance", metavar="USD|-1", help="Starting balance; -1 unlimited.")
    ] = "0",
    invite: Annotated[
        str | None,
        typer.Option("--invite", metavar="CODE", help="Sign up through a user's invite code."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user; with --invite, the inviter and the new user get the invite rewards."""

    async def action(session: Session) -> dict[str, Any]:
        units = parse_usd(balance, allow_unlimited=True)
        plan = session.settings.default_plan
        if invite is None:
            added = await users.add_user(
                session.db, name=name, role=role, group=group, balance=units, default_plan=plan
            )
        else:
            added = await invites.sign_up(
                session.db,
                name=name,
                invite_code=invite,
                role=role,
                group=group,
                balance=units,
                default_plan=plan,
            )
        return await _shown(session, added, as_json)

    emit(run(db, action), as_json=as_json)


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List users with their balance (USD; -1 unlimited) and what they have used."""

    async def action(session: Session) -> list[User]:
        return await users.list_users(session.db)

    emit([user.to_json() for user in run_read(db, action)], as_json=as_json, columns=COLUMNS)


@app.command("show")
def show(user: UserArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one user."""

    async def action(session: Session) -> dict[str, Any]:
        return await _shown(session, await users.resolve_user(session.db, user), as_json)

    emit(run_read(db, action), as_json=as_json)


async def _shown(session: Session, user: User, as_json: bool) -> dict[str, Any]:
    """The user with its plan and where each of its budgets stands."""
    plan = await plan_of_user(session.db, user.id)
    at, zone = now(), session.settings.timezone
    uses = await user_budget_uses(session.db, user.id, zone, at)
    record = {**user.to_json(), "plan": plan.name if plan is not None else None}
    if as_json:
        return {**record, "budgets": [use.to_json() for use in uses]}
    return {**record, **budget_lines(uses, zone, at)}


@app.command("update")
def update(
    user: UserArg,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    role: RoleOption = None,
    group: GroupOption = None,
    rpm: Annotated[int | None, _limit_option("--rpm", "Requests per minute")] = None,
    tpm: Annotated[int | None, _limit_option("--tpm", "Tokens per minute")] = None,
    max_concurrency: Annotated[
        int | None, _limit_option("--max-concurrency", "Requests in flight at once")
    ] = None,
    budget: BudgetOption = None,
    model_budget: ModelBudgetOption = None,
    per: PerOption = None,
    remove_budget: RemoveBudgetOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's name, role, group, rate limits or budgets (only the options given).
    A user's budgets count every request of all its keys."""
    fields = (name, role, group, rpm, tpm, max_concurrency)

    async def action(session: Session) -> dict[str, Any]:
        specs = budget_update(fields, budget, model_budget, per, remove_budget)
        found = await users.resolve_user(session.db, user)
        if any(value is not None for value in fields):
            found = await users.update_user(
                session.db,
                user,
                name=name,
                role=role,
                group=group,
                rpm=rpm,
                tpm=tpm,
                max_concurrency=max_concurrency,
            )
        async with session.db.transaction() as tx:
            await change_budgets(tx, USER, found.id, specs, remove_budget)
        return await _shown(session, found, as_json)

    emit(run(db, action), as_json=as_json)


@app.command("disable")
def disable(user: UserArg, db: DbOption = None) -> None:
    """Disable a user: its tokens stop working. The last enabled admin cannot be disabled."""

    async def action(session: Session) -> User:
        return await users.disable_user(session.db, user)

    done = run(db, action)
    print(f"Disabled user {done.name} (id {done.id}).")


@app.command("enable")
def enable(user: UserArg, db: DbOption = None) -> None:
    """Enable a user again."""

    async def action(session: Session) -> User:
        return await users.enable_user(session.db, user)

    done = run(db, action)
    print(f"Enabled user {done.name} (id {done.id}).")
