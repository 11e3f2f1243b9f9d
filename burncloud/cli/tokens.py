"""`burncloud token` commands: client API keys, shown once and stored only as a hash.

Every key made here is a relay key, whoever owns it; admin keys are `burncloud admin-key`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    token_budget_uses,
)
from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.money import parse_usd
from burncloud.services import tokens
from burncloud.services.budgets import TOKEN
from burncloud.services.clock import now
from burncloud.services.tokens import Token

app = typer.Typer(
    no_args_is_help=True,
    help="Client API keys (sk-..., relay only): create, list, show, update, revoke, delete.",
)

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("key", "key"),
    ("user_id", "user"),
    ("status", "status"),
    ("scopes", "scopes"),
    ("quota", "quota"),
    ("used", "used"),
    ("expires", "expires"),
    ("models", "models"),
]

IdArg = Annotated[int, typer.Argument(metavar="ID", help="Token id.")]
UserOption = Annotated[
    str | None, typer.Option("--user", metavar="USER", help="Owner: a user id or name.")
]
QuotaOption = Annotated[
    str | None,
    typer.Option("--quota", metavar="USD|-1", help="Quota in USD; -1 for unlimited."),
]
ExpiresOption = Annotated[
    str | None,
    typer.Option(
        "--expires",
        metavar="DATE|UNIX|-1",
        help="Expiry: 2027-01-31 (through that day, UTC), 2027-01-31T12:00:00Z, "
        "unix seconds, or -1 for never.",
    ),
]
ModelsOption = Annotated[
    str | None,
    typer.Option("--models", metavar="A,B", help="Allowed models, comma-separated (''=all)."),
]
IpsOption = Annotated[
    str | None,
    typer.Option("--ips", metavar="CIDR,...", help="Allowed client IPs or CIDRs (''=any)."),
]


def _limit_option(flag: str, what: str) -> Any:
    return typer.Option(flag, metavar="N", help=f"{what}; -1 removes the limit.")


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Token name.")],
    user: UserOption = None,
    quota: QuotaOption = None,
    expires: ExpiresOption = None,
    models: ModelsOption = None,
    ips: IpsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a relay key and print it: the only time the key is ever shown."""

    async def action(session: Session) -> None:
        token, key = await tokens.create_token(
            session.db,
            name,
            user_ref=user,
            quota_units=_quota_units(quota) if quota is not None else -1,
            expires_at=expires,
            models=models or "",
            ips=ips or "",
        )
        if as_json:
            print_json({"id": token.id, "key": key})
            return
        print(f"created token {token.id} ({token.name}) for user {token.user_id}")
        print(key)
        print("This key will not be shown again: store it now.")

    run(db, action)


@app.command("list")
def list_(user: UserOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List tokens (only their key hints), optionally one user's."""

    async def action(session: Session) -> None:
        found = await tokens.list_tokens(session.db, user)
        rows = [t.to_json() if as_json else human(t) for t in found]
        emit(rows, as_json=as_json, columns=COLUMNS)

    run_read(db, action)


@app.command("show")
def show(token_id: IdArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one token: quota, use, status, expiry, allow-lists and limits (never the key)."""

    async def action(session: Session) -> None:
        token = await tokens.get_token(session.db, token_id)
        at, zone = now(), session.settings.timezone
        uses = await token_budget_uses(session.db, token.id, token.user_id, zone, at)
        if as_json:
            print_json({**token.to_json(), "budgets": [use.to_json() for use in uses]})
        else:
            emit({**human(token), **budget_lines(uses, zone, at)}, as_json=False)

    run_read(db, action)


@app.command("update")
def update(
    token_id: IdArg,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="New name.")] = None,
    quota: QuotaOption = None,
    expires: ExpiresOption = None,
    models: ModelsOption = None,
    ips: IpsOption = None,
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
) -> None:
    """Change the given fields of a token; the others stay as they are. Budgets are set
    or changed per period (and model) and stay until removed."""
    fields = (name, quota, expires, models, ips, rpm, tpm, max_concurrency)

    async def action(session: Session) -> None:
        specs = budget_update(fields, budget, model_budget, per, remove_budget)
        token = await tokens.get_token(session.db, token_id)
        if any(value is not None for value in fields):
            token = await tokens.update_token(
                session.db,
                token_id,
                name=name,
                quota_units=_quota_units(quota) if quota is not None else None,
                expires_at=expires,
                models=models,
                ips=ips,
                rpm=rpm,
                tpm=tpm,
                max_concurrency=max_concurrency,
            )
        async with session.db.transaction() as tx:
            changed = await change_budgets(tx, TOKEN, token_id, specs, remove_budget)
        print(f"updated token {token.id} ({token.name})")
        for line in changed:
            print(f"  {line}")

    run(db, action)


@app.command("revoke")
def revoke(token_id: IdArg, db: DbOption = None) -> None:
    """Revoke a token: the router refuses it from then on (the row stays for the logs)."""

    async def action(session: Session) -> None:
        token = await tokens.revoke_token(session.db, token_id)
        print(f"revoked token {token.id} ({token.name})")

    run(db, action)


@app.command("delete")
def delete(token_id: IdArg, db: DbOption = None) -> None:
    """Delete a token for good."""

    async def action(session: Session) -> None:
        await tokens.delete_token(session.db, token_id)
        print(f"deleted token {token_id}")

    run(db, action)


def _quota_units(text: str) -> int:
    return parse_usd(text, allow_unlimited=True)


def human(token: Token) -> dict[str, Any]:
    """The token's JSON with readable quota and expiry for tables and records."""
    record = token.to_json()
    if record["quota"] == "-1":
        record["quota"] = "unlimited"
    record["expires"] = _when(token.expires_at)
    record["created_at"] = _when(token.created_at)
    return record


def _when(at: int | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
