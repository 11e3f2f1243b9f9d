"""`burncloud admin-key` commands: the keys of the admin API (/api/), all the admin user's.

An admin key reaches /api/ and, only when made with --relay, the relay too; `token create`
never makes one. Like every key, it is printed once and stored only as a hash.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.cli.tokens import human
from burncloud.services.admin_keys import (
    RotatedKey,
    create_admin_key,
    list_admin_keys,
    revoke_admin_key,
    rotate_admin_key,
)
from burncloud.services.tokens import Token

app = typer.Typer(no_args_is_help=True)

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("key", "key"),
    ("scopes", "scopes"),
    ("status", "status"),
    ("created_at", "created"),
]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Admin key name.")],
    relay: Annotated[
        bool, typer.Option("--relay", help="Let the key relay requests (/v1/...) too.")
    ] = False,
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"id": ..., "key": ..., "scopes": [...]}.')
    ] = False,
) -> None:
    """Create an admin key and print it: the only time the key is ever shown."""

    async def action(session: Session) -> tuple[Token, str]:
        return await create_admin_key(session.db, name, relay=relay)

    token, key = run(db, action)
    if as_json:
        print_json({"id": token.id, "key": key, "scopes": sorted(token.scopes)})
        return
    print(f"created admin key {token.id} ({token.name}), scopes {','.join(sorted(token.scopes))}")
    print(key)
    print("This key will not be shown again: store it now.")


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List admin keys (only their key hints), revoked ones too."""

    async def action(session: Session) -> list[Token]:
        return await list_admin_keys(session.db)

    found = run_read(db, action)
    rows = [token.to_json() if as_json else human(token) for token in found]
    emit(rows, as_json=as_json, columns=COLUMNS)


@app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="Admin key id.")],
    db: DbOption = None,
) -> None:
    """Revoke an admin key: the router refuses it from then on."""

    async def action(session: Session) -> Token:
        return await revoke_admin_key(session.db, token_id)

    token = run(db, action)
    print(f"revoked admin key {token.id} ({token.name})")


@app.command("rotate")
def rotate(
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"key": ..., "token_id": ..., "user": ...}.')
    ] = False,
) -> None:
    """Replace the first-run admin key (token `admin`) and print the new one once; the old
    key stops working."""

    async def action(session: Session) -> RotatedKey:
        return await rotate_admin_key(session.db)

    rotated = run(db, action)
    if as_json:
        print_json(rotated.to_json())
        return
    print("New admin key (shown only now; the old key no longer works):", file=sys.stderr)
    print(rotated.key)
