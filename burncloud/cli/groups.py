"""`burncloud group` commands: user groups and the ratio that scales their costs."""

from __future__ import annotations

from typing import Annotated

import typer

from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.services import groups

app = typer.Typer(
    no_args_is_help=True,
    help="User groups: a group's ratio multiplies the cost of its users' requests.",
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Group name.")]
RatioOption = Annotated[
    str,
    typer.Option(
        "--ratio", metavar="R", help="Cost multiplier, a non-negative decimal (1 = list price)."
    ),
]


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every group and its ratio."""

    async def action(session: Session) -> None:
        rows = [group.to_json() for group in await groups.list_groups(session.db)]
        emit(rows, as_json=as_json, columns=[("name", "name"), ("ratio", "ratio")])

    run_read(db, action)


@app.command("set")
def set_(name: NameArg, ratio: RatioOption, db: DbOption = None) -> None:
    """Create group NAME or change its ratio."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            group = await groups.set_group(tx, name, ratio)
        print(f"group {group.name}: ratio {groups.format_ratio(group.ratio)}")

    run(db, action)


@app.command("delete")
def delete(name: NameArg, db: DbOption = None) -> None:
    """Delete group NAME (refused for default and while users or channels use it)."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            await groups.delete_group(tx, name)
        print(f"deleted group {name}")

    run(db, action)
