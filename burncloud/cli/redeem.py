"""`burncloud redeem` commands: one-time codes that add balance to a user."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.money import format_usd, parse_usd
from burncloud.services import redemptions
from burncloud.services.redemptions import REDEMPTION_STATUSES, Redemption
from burncloud.services.users import resolve_user

app = typer.Typer(no_args_is_help=True)

COLUMNS = [
    ("id", "ID"),
    ("code", "Code"),
    ("quota", "Quota"),
    ("status", "Status"),
    ("used_by", "Used by"),
    ("used_at", "Used at"),
    ("created_at", "Created"),
]


@app.command("create")
def create(
    quota: Annotated[str, typer.Option("--quota", metavar="USD", help="What each code is worth.")],
    count: Annotated[int, typer.Option("--count", min=1, help="How many codes.")] = 1,
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"quota": "USD", "codes": [...]}.')
    ] = False,
) -> None:
    """Create redemption codes and print them once, one a line (only hashes are stored)."""

    async def action(session: Session) -> tuple[int, list[str]]:
        units = parse_usd(quota)
        return units, await redemptions.create_codes(session.db, units, count)

    units, codes = run(db, action)
    if as_json:
        print_json({"quota": format_usd(units), "codes": codes})
        return
    print(
        f"Created {len(codes)} code(s) worth {format_usd(units)} USD each;"
        " they are shown only now:",
        file=sys.stderr,
    )
    for code in codes:
        print(code)


@app.command("list")
def list_(
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            autocompletion=one_of(REDEMPTION_STATUSES),
            help="Only unused or used codes.",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List redemption codes (a hint of each, never the code), newest first."""

    async def action(session: Session) -> list[Redemption]:
        return await redemptions.list_redemptions(session.db, status)

    emit([r.to_json() for r in run_read(db, action)], as_json=as_json, columns=COLUMNS)


@app.command("use")
def use(
    code: Annotated[str, typer.Argument(help="The redemption code.")],
    user: Annotated[str, typer.Option("--user", metavar="ID|NAME", help="Who gets the balance.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Spend a code for a user; each code works exactly once."""

    async def action(session: Session) -> dict[str, Any]:
        credited = await redemptions.redeem(session.db, code, user)
        account = await resolve_user(session.db, user)
        return {
            "user": account.name,
            "credited": format_usd(credited),
            "balance": format_usd(account.balance),
        }

    result = run(db, action)
    if as_json:
        print_json(result)
        return
    balance = result["balance"]
    after = "unlimited (-1), unchanged" if balance == "-1" else f"now {balance} USD"
    print(f"Credited {result['credited']} USD to {result['user']}; balance {after}.")
