"""`burncloud invite` commands: users' invite codes and the sign-up rewards."""

from __future__ import annotations

from typing import Annotated

import typer

from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.money import parse_usd
from burncloud.services import invites
from burncloud.services.invites import InviteInfo, InviteRewards

app = typer.Typer(no_args_is_help=True)


@app.command("show")
def show(
    user: Annotated[str, typer.Argument(metavar="ID|NAME", help="User id or name.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a user's invite code, who invited them and whom they invited."""

    async def action(session: Session) -> InviteInfo:
        return await invites.invite_info(session.db, user)

    info = run_read(db, action)
    if as_json:
        emit(info.to_json(), as_json=True)
        return
    record = info.to_json()
    record["invited"] = [entry["name"] for entry in record["invited"]]
    emit(record, as_json=False)


@app.command("reward")
def reward(
    inviter: Annotated[
        str | None, typer.Option("--inviter", metavar="USD", help="Reward to the inviter.")
    ] = None,
    invitee: Annotated[
        str | None, typer.Option("--invitee", metavar="USD", help="Reward to the new user.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the sign-up rewards (USD, credited on `user add --invite`); show them if no option."""

    if inviter is None and invitee is None:
        shown = run_read(db, lambda session: invites.get_invite_rewards(session.db))
        emit(shown.to_json(), as_json=as_json)
        return

    async def action(session: Session) -> InviteRewards:
        return await invites.set_invite_rewards(
            session.db,
            inviter=None if inviter is None else parse_usd(inviter),
            invitee=None if invitee is None else parse_usd(invitee),
        )

    emit(run(db, action).to_json(), as_json=as_json)
