"""`burncloud admin-key` commands: the admin user's API key."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from burncloud.cli.output import print_json
from burncloud.cli.session import DbOption, Session, run
from burncloud.services.admin_keys import RotatedKey, rotate_admin_key

app = typer.Typer(no_args_is_help=True)


@app.command("rotate")
def rotate(
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"key": ..., "token_id": ..., "user": ...}.')
    ] = False,
) -> None:
    """Replace the admin key and print the new one once; the old key stops working."""

    async def action(session: Session) -> RotatedKey:
        return await rotate_admin_key(session.db)

    rotated = run(db, action)
    if as_json:
        print_json(rotated.to_json())
        return
    print("New admin key (shown only now; the old key no longer works):", file=sys.stderr)
    print(rotated.key)
